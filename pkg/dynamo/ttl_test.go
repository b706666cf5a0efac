package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// TestTTLRemovesExpiredGrantWithServiceIdentity checks the fact the audit
// consumer relies on: DynamoDB Local's TTL deletes an expired slot and the
// stream's REMOVE record names the TTL service as the actor.
func TestTTLRemovesExpiredGrantWithServiceIdentity(t *testing.T) {
	client, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("ttl")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	// A request that went unanswered: submitted 25 hours ago, so its pending
	// expiry (and its slot's ttl) passed an hour ago. It is written through the
	// store, so the slot has exactly the attributes production writes.
	settings := elevate.DefaultSettings()
	settings.Enabled, settings.DefaultApproverGroup = true, "ops"
	policy, err := elevate.NewPolicy(elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "Move", ApprovalType: "Manual"}, "admin@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, err := elevate.NewRequest(elevate.SubmitInput{Scope: "Exchange", Name: "Move", Reason: "ttl"},
		elevate.Submission{ID: "r1", Requester: "alice@example.com", Settings: settings, Policy: &policy, Now: time.Now().Add(-25 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(client, table, []byte("0123456789abcdef0123456789abcdef"))
	ops, err := elevate.NewGroup(elevate.NewGroupInput{Name: "ops", Members: []string{"bob@example.com"}}, "admin@example.com", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGroup(ctx, ops, app.Event{ID: "ev-ops", Time: time.Now(), Action: "group.created", Actor: "admin@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var removed *streamtypes.Record
	err = emulatortest.WatchStream(wait, emulator.StreamsClient(endpoint), aws.ToString(d.Table.LatestStreamArn), func(r streamtypes.Record) bool {
		if r.EventName == streamtypes.OperationTypeRemove && r.Dynamodb.OldImage["kind"].(*streamtypes.AttributeValueMemberS).Value == dynamo.KindGrant {
			removed = &r
			return true
		}
		return false
	})
	if err != nil {
		t.Fatalf("no REMOVE record: %v", err)
	}
	if !emulatortest.IsTTLRemove(*removed) {
		t.Fatalf("REMOVE without the TTL service identity: %+v", removed.UserIdentity)
	}
	old := removed.Dynamodb.OldImage
	if old["requestId"].(*streamtypes.AttributeValueMemberS).Value != "r1" || old["status"].(*streamtypes.AttributeValueMemberS).Value != "Pending" {
		t.Fatalf("old image %+v", old)
	}
}
