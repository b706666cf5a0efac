package emulator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// OpRecorder notes every DynamoDB action a client performs, as IAM sees it:
// a transaction counts as the per-item actions inside it, and a Query on an
// index is told from one on the table. For table actions it also notes the
// partition key of every item touched, which is what IAM's
// dynamodb:LeadingKeys condition sees.
// Tests hold what it saw against the IAM grants in manifest.TableActions and
// manifest.TableKeys (emulatortest.CheckWithin).
//
// It also asks DynamoDB for the capacity each call consumes and adds it up
// (Cost), so benchmarks can report what an operation costs.
type OpRecorder struct {
	mu    sync.Mutex
	table map[string]map[string]bool // action → partition keys
	index map[string]bool
	cost  Cost
}

// unknownKey stands for a partition key the recorder could not read; no
// grant pattern matches it.
const unknownKey = "<unreadable partition key>"

// NewOpRecorder returns an empty recorder; pass its Option to DynamoClient.
func NewOpRecorder() *OpRecorder {
	return &OpRecorder{table: map[string]map[string]bool{}, index: map[string]bool{}}
}

// Option installs the recorder on a DynamoDB client.
func (r *OpRecorder) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("elevate-record-ops",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.Record(in.Parameters)
				askCapacity(in.Parameters)
				out, md, err := next.HandleInitialize(ctx, in)
				r.addCost(in.Parameters, out.Result, err)
				return out, md, err
			}), middleware.Before)
	})
}

// Record notes one call by its input, as the installed middleware does.
func (r *OpRecorder) Record(params any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				r.onTable("PutItem", it.Put.Item)
			case it.Update != nil:
				r.onTable("UpdateItem", it.Update.Key)
			case it.Delete != nil:
				r.onTable("DeleteItem", it.Delete.Key)
			case it.ConditionCheck != nil:
				r.onTable("ConditionCheckItem", it.ConditionCheck.Key)
			}
		}
	case *dynamodb.QueryInput:
		if in.IndexName != nil {
			r.index["Query"] = true
		} else {
			r.onTableKey("Query", queryPartition(in))
		}
	case *dynamodb.GetItemInput:
		r.onTable("GetItem", in.Key)
	case *dynamodb.PutItemInput:
		r.onTable("PutItem", in.Item)
	case *dynamodb.UpdateItemInput:
		r.onTable("UpdateItem", in.Key)
	case *dynamodb.DeleteItemInput:
		r.onTable("DeleteItem", in.Key)
	case *dynamodb.BatchGetItemInput:
		for _, ka := range in.RequestItems {
			for _, k := range ka.Keys {
				r.onTable("BatchGetItem", k)
			}
		}
	default:
		r.onTableKey(fmt.Sprintf("unexpected %T", params), unknownKey)
	}
}

func (r *OpRecorder) onTable(action string, item map[string]types.AttributeValue) {
	pk := unknownKey
	if s, ok := item[tabledef.PartitionKey].(*types.AttributeValueMemberS); ok {
		pk = s.Value
	}
	r.onTableKey(action, pk)
}

func (r *OpRecorder) onTableKey(action, pk string) {
	if r.table[action] == nil {
		r.table[action] = map[string]bool{}
	}
	r.table[action][pk] = true
}

// queryPartition reads the partition key value out of a table Query's key
// condition ("PK = :v" or "#n = :v", optionally followed by AND and a sort
// key condition).
func queryPartition(in *dynamodb.QueryInput) string {
	if in.KeyConditionExpression == nil {
		return unknownKey
	}
	for _, clause := range strings.Split(*in.KeyConditionExpression, " AND ") {
		name, placeholder, ok := strings.Cut(clause, "=")
		if !ok {
			continue
		}
		name, placeholder = strings.TrimSpace(name), strings.TrimSpace(placeholder)
		if n, ok := in.ExpressionAttributeNames[name]; ok {
			name = n
		}
		if name != tabledef.PartitionKey {
			continue
		}
		if s, ok := in.ExpressionAttributeValues[placeholder].(*types.AttributeValueMemberS); ok {
			return s.Value
		}
	}
	return unknownKey
}

// Used reports whether the client made any DynamoDB call.
func (r *OpRecorder) Used() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.table)+len(r.index) > 0
}

// Calls is what an OpRecorder has seen: each table action with the partition
// keys of the items it touched, and each action on an index.
type Calls struct {
	Table map[string][]string
	Index []string
}

// Calls returns a sorted copy of what the recorder has seen so far.
func (r *OpRecorder) Calls() Calls {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Calls{Table: map[string][]string{}, Index: slices.Sorted(maps.Keys(r.index))}
	for action, keys := range r.table {
		c.Table[action] = slices.Sorted(maps.Keys(keys))
	}
	return c
}
