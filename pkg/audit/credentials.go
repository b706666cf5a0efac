package audit

import (
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// credentialsRecords maps the credentials items: an issuance's INSERT is
// credentials.issued by the requester; a deny entry or cutoff written or
// changed is credentials.revoked by "system". Their REMOVEs (expired,
// garbage collection) record nothing. A record never carries the secret or
// the session token: the items never hold them.
func credentialsRecords(rec events.DynamoDBEventRecord, kind string) ([]auditrecord.Record, error) {
	if rec.EventName == string(events.DynamoDBOperationTypeRemove) {
		return nil, nil
	}
	img := rec.Change.NewImage
	switch kind {
	case dynamo.KindCredentials:
		if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
			return nil, nil
		}
		iss, err := dynamo.IssuanceFromImage(img)
		if err != nil {
			return nil, err
		}
		return []auditrecord.Record{{Time: iss.IssuedAt, Action: auditrecord.ActionCredentialsIssued, Actor: iss.Principal, Target: target(iss.Target),
			RequestID: iss.RequestID, PolicyID: iss.PolicyID, Detail: map[string]any{
				"roleArn": iss.RoleARN, "sessionName": iss.SessionName, "sourceIdentity": iss.SourceIdentity,
				"accessKeyId": iss.AccessKeyID, "expiration": iss.Expiration.UTC().Format(time.RFC3339), "grantEndsAt": iss.GrantEnd.UTC().Format(time.RFC3339)}}}, nil
	case dynamo.KindRevocation:
		r, err := dynamo.RevocationFromImage(img)
		if err != nil {
			return nil, err
		}
		detail := map[string]any{"roleArn": r.RoleARN, "mode": auditrecord.RevokedBySessionTag, "ended": r.Ended, "until": r.Until.UTC().Format(time.RFC3339)}
		if !r.Ended {
			detail["deniedFrom"] = r.NotAfter.UTC().Format(time.RFC3339)
		}
		return []auditrecord.Record{{Action: auditrecord.ActionCredentialsRevoked, Actor: elevate.SystemActor, Target: target(r.Target), RequestID: r.RequestID, Detail: detail}}, nil
	case dynamo.KindRevocationCutoff:
		c, err := dynamo.RevocationCutoffFromImage(img)
		if err != nil {
			return nil, err
		}
		return []auditrecord.Record{{Action: auditrecord.ActionCredentialsRevoked, Actor: elevate.SystemActor, Detail: map[string]any{"roleArn": c.RoleARN, "mode": auditrecord.RevokedByTokenIssueTime,
			"issuedBefore": c.Before.UTC().Format(time.RFC3339), "until": c.Until.UTC().Format(time.RFC3339)}}}, nil
	}
	return nil, nil
}
