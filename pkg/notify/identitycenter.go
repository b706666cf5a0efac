package notify

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// assignmentFailed tells the requester and the alert group (the admins'
// Elevate twin) that an Identity Center assignment of a grant did not
// provision after every retry: the grant stands in Elevate, but AWS does
// not give the access until someone looks.
func (d Deps) assignmentFailed(ctx context.Context, rec events.DynamoDBEventRecord) ([]Email, error) {
	a, err := dynamo.AssignmentRecordFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("decode assignment: %w", err)
	}
	if a.Action != elevate.ActionAssignmentFailed || a.Principal == "" {
		return nil, nil
	}
	msg := message{heading: "Identity Center assignment failed", lines: []string{
		"The permission set could not be assigned to " + a.Principal + " on account " + a.AccountID + ". Elevate retried and gave up; the grant gives no access in AWS until this is fixed."}}
	msg.row("Request", a.RequestID)
	msg.row("Requester", a.Principal)
	msg.row("Permission set", a.PermissionSetArn)
	msg.row("Account", a.AccountID)
	msg.row("Reason", a.Reason)
	admins, err := d.members(ctx, a.RequestID, d.AlertGroup, a.Principal)
	if err != nil {
		return nil, err
	}
	var emails []Email
	for _, to := range append([]string{a.Principal}, admins...) {
		e, err := msg.email(to, "[Elevate] Access not provisioned: "+a.AccountID+" for "+a.Principal)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}
