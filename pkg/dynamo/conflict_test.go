package dynamo_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// conflicts answers the first n TransactWriteItems calls the way DynamoDB
// does when another transaction holds one of the items, without sending them.
type conflicts struct{ left, calls atomic.Int32 }

func (c *conflicts) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("inject-conflict",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					c.calls.Add(1)
					if c.left.Add(-1) >= 0 {
						return middleware.InitializeOutput{}, middleware.Metadata{}, &types.TransactionCanceledException{Message: aws.String("conflict"),
							CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("TransactionConflict")}}}
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// A transaction cancelled only by a concurrent one touching the same item
// (the group item every new request condition-checks) is run again; one
// that keeps conflicting is a concurrent update.
func TestTransactionConflictsAreRetried(t *testing.T) {
	_, endpoint := emulatortest.DynamoForTest(t)
	inject := &conflicts{}
	client := emulator.DynamoClient(endpoint, inject.option)
	table := emulatortest.UniqueTableName("conflict")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	st := dynamo.New(client, table, pageKey)
	now := time.Now().UTC()
	g, err := elevate.NewGroup(elevate.NewGroupInput{Name: "ops", Members: []string{"bob@example.com"}}, admin.Principal, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGroup(ctx, g, ev("group.created")); err != nil {
		t.Fatal(err)
	}
	req := elevate.Request{ID: "r1", Type: elevate.TypeTask, Scope: "Exchange", Name: "Move", Requester: "alice@example.com", Reason: "r",
		DurationHours: 1, Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
		Decisions: []elevate.Decision{}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Version: 1}

	inject.calls.Store(0)
	inject.left.Store(2)
	if err := st.CreateRequest(ctx, req); err != nil {
		t.Fatalf("two conflicts, then the commit: %v", err)
	}
	if n := inject.calls.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if _, err := st.GetRequest(ctx, "r1"); err != nil {
		t.Fatal(err)
	}

	inject.calls.Store(0)
	inject.left.Store(100)
	req.ID, req.Requester = "r2", "zoe@example.com"
	wantErr(t, st.CreateRequest(ctx, req), elevate.ErrConcurrentUpdate)
	if n := inject.calls.Load(); n != 3 {
		t.Fatalf("%d attempts on a lasting conflict, want 3", n)
	}
}
