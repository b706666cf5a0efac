package emulator

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Cost is what a client's DynamoDB calls consumed, as DynamoDB reports it
// with ReturnConsumedCapacity TOTAL (table and indexes together).
type Cost struct {
	// Calls counts the SDK operations sent; Failed those that failed
	// (a cancelled transaction, a failed condition), whose capacity DynamoDB
	// does not report.
	Calls, Failed int
	// Actions counts the calls per API action ("TransactWriteItems").
	Actions  map[string]int
	RCU, WCU float64
	// ItemsWritten counts the items successful writes put, updated or
	// deleted: each becomes one stream record when it changed.
	ItemsWritten int
}

// Sub is c minus an earlier reading of the same recorder.
func (c Cost) Sub(earlier Cost) Cost {
	d := Cost{Calls: c.Calls - earlier.Calls, Failed: c.Failed - earlier.Failed, RCU: c.RCU - earlier.RCU, WCU: c.WCU - earlier.WCU,
		ItemsWritten: c.ItemsWritten - earlier.ItemsWritten, Actions: map[string]int{}}
	for a, n := range c.Actions {
		if n -= earlier.Actions[a]; n != 0 {
			d.Actions[a] = n
		}
	}
	return d
}

// Add is c plus o.
func (c Cost) Add(o Cost) Cost {
	s := Cost{Calls: c.Calls + o.Calls, Failed: c.Failed + o.Failed, RCU: c.RCU + o.RCU, WCU: c.WCU + o.WCU,
		ItemsWritten: c.ItemsWritten + o.ItemsWritten, Actions: maps.Clone(c.Actions)}
	if s.Actions == nil {
		s.Actions = map[string]int{}
	}
	for a, n := range o.Actions {
		s.Actions[a] += n
	}
	return s
}

// Cost returns what the recorder's client has consumed so far.
func (r *OpRecorder) Cost() Cost {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cost
	c.Actions = maps.Clone(r.cost.Actions)
	if c.Actions == nil {
		c.Actions = map[string]int{}
	}
	return c
}

// askCapacity asks DynamoDB to report the capacity a call consumes.
func askCapacity(params any) {
	total := types.ReturnConsumedCapacityTotal
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.TransactWriteItemsInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.TransactGetItemsInput:
		in.ReturnConsumedCapacity = total
	}
}

func (r *OpRecorder) addCost(params, result any, err error) {
	action := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", params), "*dynamodb."), "Input")
	var consumed []types.ConsumedCapacity
	one := func(c *types.ConsumedCapacity) {
		if c != nil {
			consumed = append(consumed, *c)
		}
	}
	write := false
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		consumed = out.ConsumedCapacity
	case *dynamodb.QueryOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.TransactGetItemsOutput:
		consumed = out.ConsumedCapacity
	case *dynamodb.PutItemOutput:
		one(out.ConsumedCapacity)
		write = true
	case *dynamodb.UpdateItemOutput:
		one(out.ConsumedCapacity)
		write = true
	case *dynamodb.DeleteItemOutput:
		one(out.ConsumedCapacity)
		write = true
	case *dynamodb.BatchWriteItemOutput:
		consumed = out.ConsumedCapacity
		write = true
	case *dynamodb.TransactWriteItemsOutput:
		consumed = out.ConsumedCapacity
		write = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cost.Actions == nil {
		r.cost.Actions = map[string]int{}
	}
	r.cost.Calls++
	r.cost.Actions[action]++
	if err != nil {
		r.cost.Failed++
		return
	}
	r.cost.ItemsWritten += itemsWritten(params)
	for _, c := range consumed {
		switch {
		case c.ReadCapacityUnits != nil || c.WriteCapacityUnits != nil:
			r.cost.RCU += deref(c.ReadCapacityUnits)
			r.cost.WCU += deref(c.WriteCapacityUnits)
		case write:
			r.cost.WCU += deref(c.CapacityUnits)
		default:
			r.cost.RCU += deref(c.CapacityUnits)
		}
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func itemsWritten(params any) int {
	switch in := params.(type) {
	case *dynamodb.PutItemInput, *dynamodb.UpdateItemInput, *dynamodb.DeleteItemInput:
		return 1
	case *dynamodb.BatchWriteItemInput:
		n := 0
		for _, reqs := range in.RequestItems {
			n += len(reqs)
		}
		return n
	case *dynamodb.TransactWriteItemsInput:
		n := 0
		for _, it := range in.TransactItems {
			if it.ConditionCheck == nil {
				n++
			}
		}
		return n
	}
	return 0
}
