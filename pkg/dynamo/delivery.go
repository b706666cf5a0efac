package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// deliveryItem is a delivery marker: who claimed it, so that a claimant whose
// claim call failed (it may still have been written, e.g. by a DynamoDB that
// stalled past the deadline and then applied it) can recognise its own claim
// on the retry and send the email it never sent.
type deliveryItem struct {
	markerItem
	Claim string `dynamodbav:"claim"`
}

// ClaimDelivery records that the email for one stream event and recipient is
// being sent, under the claimant's token. claimed is false when a claim
// already exists; heldBy is then that claim's token ("" for a marker written
// before claims carried one), so a retry never emails twice.
func (s *Store) ClaimDelivery(ctx context.Context, eventID, recipient, token string, now time.Time) (claimed bool, heldBy string, err error) {
	item, err := marshal(deliveryItem{marker(deliveryKey(eventID, recipient), KindDelivery, now, deliveryTTL), token})
	if err != nil {
		return false, "", err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var held deliveryItem
		if err := attributevalue.UnmarshalMap(ccf.Item, &held); err != nil {
			return false, "", unavailable("claim delivery: decode claim", err)
		}
		return false, held.Claim, nil
	}
	if err != nil {
		return false, "", unavailable("claim delivery", err)
	}
	return true, token, nil
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
