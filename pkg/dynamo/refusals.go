package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/app"
)

// RecordRefusal writes one refusal's event item, once per event ID.
func (s *Store) RecordRefusal(ctx context.Context, ev app.Event) error {
	it, err := toEventItem(ev)
	if err != nil {
		return err
	}
	item, err := marshal(it)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return nil // this slot of bounded refusals is already recorded
	}
	if err != nil {
		return unavailable("record refusal", err)
	}
	return nil
}
