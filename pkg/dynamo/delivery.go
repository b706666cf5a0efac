package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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

// FailDelivery replaces the claim with one that says why the email service
// refused the email for good: still a claim, so it is never sent again.
func (s *Store) FailDelivery(ctx context.Context, eventID, recipient, reason string, now time.Time) error {
	item, err := marshal(failedDeliveryItem{markerItem: marker(deliveryKey(eventID, recipient), KindDelivery, now, deliveryTTL), Failed: truncate(reason, maxFailureReason)})
	if err != nil {
		return err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return unavailable("record failed delivery", err)
	}
	return nil
}

// FailedDelivery reads why a delivery failed for good; ok is false when it
// was not claimed or did not fail.
func (s *Store) FailedDelivery(ctx context.Context, eventID, recipient string) (reason string, ok bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: deliveryKey(eventID, recipient).av(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", false, unavailable("read delivery", err)
	}
	var it failedDeliveryItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return "", false, fmt.Errorf("dynamo: decode delivery: %w", err)
	}
	return it.Failed, it.Failed != "", nil
}

// maxFailureReason bounds the SES message kept with a failed delivery.
const maxFailureReason = 1024

type failedDeliveryItem struct {
	markerItem
	Failed string `dynamodbav:"failed,omitempty"`
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
