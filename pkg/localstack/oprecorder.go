package localstack

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/routes"
)

// OpRecorder notes every DynamoDB action a client performs, as IAM sees it:
// a transaction counts as the per-item actions inside it, and a Query on an
// index is told from one on the table.
// Tests use it to check the IAM grants in routes.TableActions against what
// the code really calls.
type OpRecorder struct {
	mu           sync.Mutex
	table, index map[string]bool
}

// NewOpRecorder returns an empty recorder; pass its Option to DynamoClient.
func NewOpRecorder() *OpRecorder {
	return &OpRecorder{table: map[string]bool{}, index: map[string]bool{}}
}

// Option installs the recorder on a DynamoDB client.
func (r *OpRecorder) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("elevate-record-ops",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.record(in.Parameters)
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (r *OpRecorder) record(params any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				r.table["PutItem"] = true
			case it.Update != nil:
				r.table["UpdateItem"] = true
			case it.Delete != nil:
				r.table["DeleteItem"] = true
			case it.ConditionCheck != nil:
				r.table["ConditionCheckItem"] = true
			}
		}
	case *dynamodb.QueryInput:
		if in.IndexName != nil {
			r.index["Query"] = true
		} else {
			r.table["Query"] = true
		}
	case *dynamodb.GetItemInput:
		r.table["GetItem"] = true
	case *dynamodb.PutItemInput:
		r.table["PutItem"] = true
	case *dynamodb.UpdateItemInput:
		r.table["UpdateItem"] = true
	case *dynamodb.DeleteItemInput:
		r.table["DeleteItem"] = true
	case *dynamodb.BatchGetItemInput:
		r.table["BatchGetItem"] = true
	default:
		r.table[fmt.Sprintf("unexpected %T", params)] = true
	}
}

// CheckWithin fails the test for any action the function performed that its
// IAM grant (routes.TableActions / IndexActions) would refuse in AWS, and
// when it recorded nothing at all (the check would then prove nothing).
func (r *OpRecorder) CheckWithin(t testing.TB, function string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.table)+len(r.index) == 0 {
		t.Errorf("function %s made no DynamoDB call", function)
	}
	for _, c := range []struct {
		used    map[string]bool
		granted []string
		where   string
	}{{r.table, routes.TableActions[function], "table"}, {r.index, routes.IndexActions[function], "indexes"}} {
		var missing []string
		for op := range c.used {
			if !slices.Contains(c.granted, op) {
				missing = append(missing, op)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("function %s calls %v on the %s, which its IAM grant %v lacks", function, missing, c.where, c.granted)
		}
	}
}
