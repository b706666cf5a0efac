package audit

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
)

// delegationSet records a delegation created or replaced (F17), by its
// stamped actor.
func delegationSet(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	d, err := dynamo.DelegationFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return []auditrecord.Record{{Time: d.UpdatedAt, Action: auditrecord.ActionDelegationSet, Actor: ch.Actor, Detail: map[string]any{"delegation": d}}}, nil
}

// delegationRemoved records a delegation ended by a prepared delete.
func delegationRemoved(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	d, err := dynamo.DelegationFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	return []auditrecord.Record{{Action: auditrecord.ActionDelegationRemoved, Actor: ch.Actor, Detail: map[string]any{"delegation": d}}}, nil
}
