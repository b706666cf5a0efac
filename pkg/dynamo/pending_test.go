package dynamo_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo/dynamotest"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A page of Pending (or Expired) requests reads only the requests still
// stored as Pending, however many were decided (issue 17 item 11): with
// more approved requests newer than the pending ones than one page's
// Query calls can read past, the first Pending page has every pending
// request and no next token; a decided request leaves the index.
func TestPendingPageReadsOnlyOpenRequests(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.enable(t, "ops")
	var pending []string
	for i := range 3 {
		e.policy(t, fmt.Sprintf("P%d", i), "Manual", "", 1)
		e.clock.Advance(time.Second)
		pending = append(pending, submit(t, e, "alice@example.com", fmt.Sprintf("P%d", i)).ID)
	}
	slices.Reverse(pending) // newest first

	// 1,050 approved requests, all newer: the store reads at most 10
	// Query pages of 100 items for one page of results.
	base := e.clock.Now().Add(time.Minute)
	var batch []types.WriteRequest
	flush := func() {
		in := map[string][]types.WriteRequest{e.table: batch}
		for len(in[e.table]) > 0 {
			out, err := e.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
			if err != nil {
				t.Fatal(err)
			}
			in = out.UnprocessedItems
		}
		batch = batch[:0]
	}
	for i := range 1050 {
		created := base.Add(time.Duration(i) * 10 * time.Millisecond)
		end := created.Add(4 * time.Hour)
		r := elevate.Request{ID: fmt.Sprintf("old%04d", i), Type: elevate.TypeTask, Scope: "Exchange", Name: fmt.Sprintf("Fixture-%d", i),
			Requester: "carol@example.com", Reason: "fixture", DurationHours: 4, Status: elevate.StatusApproved,
			ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
			Decisions: []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok", At: created}},
			CreatedAt: created, ExpiresAt: end, GrantExpiresAt: &end, Version: 2}
		req, _, err := dynamotest.FixtureItems(r)
		if err != nil {
			t.Fatal(err)
		}
		if batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: req}}); len(batch) == 25 {
			flush()
		}
	}
	flush()
	e.clock.Advance(2 * time.Minute)

	list := func(status elevate.Status) app.RequestPage {
		t.Helper()
		return must[app.RequestPage](t)(e.svc.ListRequests(ctx, admin, app.ListFilter{Status: status}))
	}
	idsOf := func(p app.RequestPage) []string {
		var ids []string
		for _, r := range p.Items {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if p := list(elevate.StatusPending); !slices.Equal(idsOf(p), pending) || p.Next != "" {
		t.Fatalf("pending page %v next %q, want %v and no next", idsOf(p), p.Next, pending)
	}
	// An approver who is not an admin sees the same through the visibility filter.
	bob := must[app.RequestPage](t)(e.svc.ListRequests(ctx, caller("bob@example.com"), app.ListFilter{Status: elevate.StatusPending}))
	if !slices.Equal(idsOf(bob), pending) || bob.Next != "" {
		t.Fatalf("bob's pending page %v next %q, want %v", idsOf(bob), bob.Next, pending)
	}

	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), pending[0], app.Deny, "no"))
	if p := list(elevate.StatusPending); !slices.Equal(idsOf(p), pending[1:]) {
		t.Fatalf("pending after a denial %v, want %v", idsOf(p), pending[1:])
	}
	// The index itself holds only what is stored as Pending.
	out, err := e.client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(e.table), IndexName: aws.String("GSI4"),
		KeyConditionExpression:    aws.String("GSI4PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "PENDING"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 2 {
		t.Fatalf("the pending index holds %d items, want 2", out.Count)
	}

	e.clock.Advance(25 * time.Hour)
	if p := list(elevate.StatusExpired); !slices.Equal(idsOf(p), pending[1:]) || p.Next != "" {
		t.Fatalf("expired page %v next %q, want %v", idsOf(p), p.Next, pending[1:])
	}
	if p := list(elevate.StatusPending); len(p.Items) != 0 {
		t.Fatalf("pending after expiry: %v", idsOf(p))
	}
}
