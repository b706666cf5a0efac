package dynamo_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/localstack"
)

// TestTTLRemovesExpiredGrantWithServiceIdentity checks the fact the audit
// consumer relies on: DynamoDB Local's TTL deletes an expired slot and the
// stream's REMOVE record names the TTL service as the actor.
func TestTTLRemovesExpiredGrantWithServiceIdentity(t *testing.T) {
	client, endpoint := localstack.DynamoForTest(t)
	table := localstack.UniqueTableName("ttl")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	item := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "GRANT#alice@example.com"}, "SK": &types.AttributeValueMemberS{Value: "task:exchange:move"},
		"kind": &types.AttributeValueMemberS{Value: dynamo.KindGrant}, "requestId": &types.AttributeValueMemberS{Value: "r1"},
		"principal": &types.AttributeValueMemberS{Value: "alice@example.com"}, "type": &types.AttributeValueMemberS{Value: "Task"},
		"scope": &types.AttributeValueMemberS{Value: "Exchange"}, "name": &types.AttributeValueMemberS{Value: "Move"},
		"status": &types.AttributeValueMemberS{Value: "Approved"}, "expiresAt": &types.AttributeValueMemberS{Value: past.UTC().Format("2006-01-02T15:04:05.000Z")},
		"expiresEpochMs": &types.AttributeValueMemberN{Value: strconv.FormatInt(past.UnixMilli(), 10)},
		"ttl":            &types.AttributeValueMemberN{Value: strconv.FormatInt(past.Unix(), 10)},
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var removed *streamtypes.Record
	err = localstack.WatchStream(wait, localstack.StreamsClient(endpoint), aws.ToString(d.Table.LatestStreamArn), func(r streamtypes.Record) bool {
		if r.EventName == streamtypes.OperationTypeRemove {
			removed = &r
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("no REMOVE record: %v", err)
	}
	if !localstack.IsTTLRemove(*removed) {
		t.Fatalf("REMOVE without the TTL service identity: %+v", removed.UserIdentity)
	}
	old := removed.Dynamodb.OldImage
	if old["requestId"].(*streamtypes.AttributeValueMemberS).Value != "r1" {
		t.Fatalf("old image %+v", old)
	}
}
