package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ClaimDelivery records that the email for one stream event and recipient is
// being sent. claimed is false when it already was, so a retried batch never
// emails twice.
func (s *Store) ClaimDelivery(ctx context.Context, eventID, recipient string, now time.Time) (claimed bool, err error) {
	item, err := marshal(marker(deliveryKey(eventID, recipient), KindDelivery, now, deliveryTTL))
	if err != nil {
		return false, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("claim delivery", err)
	}
	return true, nil
}

// ReleaseDelivery forgets a claim after sending failed, so a retry resends.
func (s *Store) ReleaseDelivery(ctx context.Context, eventID, recipient string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: deliveryKey(eventID, recipient).av()})
	if err != nil {
		return unavailable("release delivery", err)
	}
	return nil
}
