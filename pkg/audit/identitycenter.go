package audit

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
)

// assignmentChanged records an assignment record's outcome (v1.2):
// assignment.created|deleted|kept|failed|direct_write, by the system, for
// the request it was for. A change without an outcome only moves the record
// along (a holder joining, a delete claimed) and has no record of its own.
func assignmentChanged(rec events.DynamoDBEventRecord, _ dynamo.Change) ([]auditrecord.Record, error) {
	a, err := dynamo.AssignmentRecordFromImage(rec.Change.NewImage)
	if err != nil || a.Action == "" {
		return nil, err
	}
	detail := map[string]any{"instanceArn": a.InstanceArn, "permissionSetArn": a.PermissionSetArn, "accountId": a.AccountID,
		"userId": a.UserID, "state": string(a.State)}
	if a.Principal != "" {
		detail["principal"] = a.Principal
	}
	if a.Reason != "" {
		detail["reason"] = a.Reason
	}
	if len(a.KeptFor) > 0 {
		detail["keptFor"] = a.KeptFor
	}
	return []auditrecord.Record{{Time: a.At, Action: a.Action, Actor: "system", RequestID: a.RequestID, Detail: detail}}, nil
}
