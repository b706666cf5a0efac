package dynamo_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
)

// Issue 10 item 8: a refusal is one event item; a second write of the same
// ID (a bounded anonymous slot) is dropped, not an error, and does not
// overwrite the first.
func TestRecordRefusalOncePerID(t *testing.T) {
	e := newEnv(t)
	first := app.Event{ID: "refused-anonymous-202506010900-03", Time: e.clock.Now(), Action: "refused.link-forged", Actor: app.ActorAnonymous,
		Detail: map[string]any{"code": "link-forged", "unverified": map[string]string{"approver": "bob@example.com"}}}
	if err := e.store.RecordRefusal(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := first
	second.Action = "refused.link-malformed"
	if err := e.store.RecordRefusal(ctx, second); err != nil {
		t.Fatalf("second write of a slot: %v", err)
	}
	out := must[*dynamodb.GetItemOutput](t)(e.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		Key: keyOf("EVENT#"+first.ID, "EVENT")}))
	if out.Item == nil || out.Item["action"].(*types.AttributeValueMemberS).Value != "refused.link-forged" || out.Item["actor"].(*types.AttributeValueMemberS).Value != app.ActorAnonymous {
		t.Fatalf("stored %+v", out.Item)
	}
}
