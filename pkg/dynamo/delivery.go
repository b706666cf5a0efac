package dynamo

import (
	"context"
	"errors"
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
