// Package dynamotest is test support around pkg/dynamo.
package dynamotest

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// FixtureItems are the items CreateRequest writes for r: the request and
// its grant slot, which is the grant when r is Approved. They are taken from
// the transaction CreateRequest builds, which is never sent. Benchmarks load
// tables of realistic size with them through BatchWriteItem; the service
// itself never writes unconditionally.
func FixtureItems(r elevate.Request) (request, slot map[string]types.AttributeValue, err error) {
	capture.Lock()
	defer capture.Unlock()
	capture.tx = nil
	if err := capture.store().CreateRequest(context.Background(), r); err != nil {
		return nil, nil, err
	}
	for _, it := range capture.tx.TransactItems {
		if it.Put == nil {
			continue
		}
		pk, _ := it.Put.Item[tabledef.PartitionKey].(*types.AttributeValueMemberS)
		switch {
		case pk == nil:
		case strings.HasPrefix(pk.Value, tabledef.PrefixRequest):
			request = it.Put.Item
		case strings.HasPrefix(pk.Value, tabledef.PrefixGrant):
			slot = it.Put.Item
		}
	}
	if request == nil || slot == nil {
		return nil, nil, errors.New("dynamotest: CreateRequest wrote no request or no grant slot")
	}
	return request, slot, nil
}

// capture is a store whose client keeps the transaction it is asked to run
// and answers success without sending it.
var capture capturingStore

type capturingStore struct {
	sync.Mutex
	tx *dynamodb.TransactWriteItemsInput
	s  *dynamo.Store
}

func (c *capturingStore) store() *dynamo.Store {
	if c.s == nil {
		keep := func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("elevate-capture-transaction",
				func(_ context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput)
					if !ok {
						return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("dynamotest: only a transaction is captured")
					}
					c.tx = tx
					return middleware.InitializeOutput{Result: &dynamodb.TransactWriteItemsOutput{}}, middleware.Metadata{}, nil
				}), middleware.Before)
		}
		c.s = dynamo.New(dynamodb.New(dynamodb.Options{Region: "us-east-1", APIOptions: []func(*middleware.Stack) error{keep}}), "fixtures", nil)
	}
	return c.s
}
