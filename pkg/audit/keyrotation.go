package audit

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
)

// keyRotated records a key secret's rotation (issue 21): key.rotated by
// system, naming the secret and the versions, never the key. A record that
// does not hold together (its key not its secret and version, a missing
// field) is key.direct_write with the raw image: the rotation function
// never writes one.
func keyRotated(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	k, err := dynamo.KeyRotationFromImage(rec.Change.NewImage)
	if err != nil {
		r := directWrite(rec, "key", ch)
		r.Detail["error"] = err.Error()
		return []auditrecord.Record{r}, nil
	}
	detail := map[string]any{"secretArn": k.SecretARN, "secretName": k.SecretName, "versionId": k.VersionID}
	if k.PreviousVersionID != "" {
		detail["previousVersionId"] = k.PreviousVersionID
	}
	return []auditrecord.Record{{Time: k.At, Action: auditrecord.ActionKeyRotated, Actor: "system", Detail: detail}}, nil
}
