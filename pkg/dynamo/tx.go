package dynamo

import (
	"context"
	"errors"
	mathrand "math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// onLost says what a lost condition on one write means to the caller: the
// domain error to return, given the item as it was (ALL_OLD).
type onLost func(old map[string]types.AttributeValue) error

// faultIfLost marks a write whose condition is not expected to fail: if it
// does, the transaction's failure is reported as an infrastructure fault.
var faultIfLost onLost

// is means e whatever the item held.
func is(e error) onLost {
	return func(map[string]types.AttributeValue) error { return e }
}

// orMissing means missing when the item does not exist, else present (needs
// ReturnValuesOnConditionCheckFailure ALL_OLD).
func orMissing(missing, present error) onLost {
	return func(old map[string]types.AttributeValue) error {
		if len(old) == 0 {
			return missing
		}
		return present
	}
}

// tx is a transaction being built. Each write carries what a lost condition
// on it means, so a write and its meaning cannot fall out of step.
type tx struct {
	items []txItem
}

type txItem struct {
	write types.TransactWriteItem
	lost  onLost
	// decisive: a lost condition here is the answer even when earlier
	// writes lost theirs too.
	decisive bool
}

// add appends a write and what its lost condition means.
func (t *tx) add(w types.TransactWriteItem, lost onLost) *tx {
	t.items = append(t.items, txItem{write: w, lost: lost})
	return t
}

// addDecisive appends a write whose lost condition wins over any other
// (a replayed link is reported as such even when the request moved too).
func (t *tx) addDecisive(w types.TransactWriteItem, lost onLost) *tx {
	t.items = append(t.items, txItem{write: w, lost: lost, decisive: true})
	return t
}

func (t *tx) len() int { return len(t.items) }

// commit runs the transaction and interprets its failure: the meaning of a
// decisive write's lost condition, else of the first write whose lost
// condition has one; a TransactionConflict (another transaction touching
// the same items) is a lost race too; anything else is unavailable.
func (s *Store) commit(ctx context.Context, op string, t *tx) error {
	writes := make([]types.TransactWriteItem, len(t.items))
	for i, it := range t.items {
		writes[i] = it.write
	}
	err := s.transact(ctx, writes)
	if err == nil {
		return nil
	}
	reasons := cancelled(err)
	if reasons == nil {
		return unavailable(op, err)
	}
	for i, it := range t.items {
		if it.decisive && it.lost != nil && reasonCode(reasons, i) == codeConditionFailed {
			return it.lost(reasons[i].Item)
		}
	}
	conflict := false
	for i, r := range reasons {
		switch reasonCode(reasons, i) {
		case codeConditionFailed:
			if i < len(t.items) && t.items[i].lost != nil {
				return t.items[i].lost(r.Item)
			}
		case codeConflict:
			conflict = true
		}
	}
	if conflict {
		return elevate.ErrConcurrentUpdate
	}
	return unavailable(op, err)
}

// optional leaves unset what a caller did not give: DynamoDB rejects empty
// expressions and empty attribute maps.
func optional(expr string) *string {
	if expr == "" {
		return nil
	}
	return aws.String(expr)
}

func nonEmpty[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	return m
}

func (s *Store) put(item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: item,
		ConditionExpression: optional(cond), ExpressionAttributeNames: nonEmpty(names), ExpressionAttributeValues: nonEmpty(values),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
}

func (s *Store) update(k key, expr, cond string, names map[string]string, values map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(s.table), Key: k.av(), UpdateExpression: aws.String(expr),
		ConditionExpression: optional(cond), ExpressionAttributeNames: nonEmpty(names), ExpressionAttributeValues: nonEmpty(values),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
}

func (s *Store) del(k key, cond string, names map[string]string, values map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: k.av(),
		ConditionExpression: optional(cond), ExpressionAttributeNames: nonEmpty(names), ExpressionAttributeValues: nonEmpty(values),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
}

// cancelled returns the per-item cancellation reasons of a failed
// transaction, or nil when err is not a cancellation.
func cancelled(err error) []types.CancellationReason {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons
	}
	return nil
}

func reasonCode(reasons []types.CancellationReason, i int) string {
	if i < 0 || i >= len(reasons) || reasons[i].Code == nil {
		return ""
	}
	return *reasons[i].Code
}

const (
	codeConditionFailed = "ConditionalCheckFailed"
	codeConflict        = "TransactionConflict"
)

// maxConflictAttempts bounds how often transact runs a transaction that was
// cancelled only because another transaction touched one of its items at the
// same moment (TransactionConflict, no condition lost). New requests
// condition-check their group item, which every concurrent request for the
// group and every decision also reads, so under load such conflicts are
// expected; the SDK does not retry them. Nothing of a cancelled transaction
// was applied and its conditions are evaluated afresh, so running it again
// is safe. A conflict that persists is still ErrConcurrentUpdate.
const maxConflictAttempts = 3

func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || attempt == maxConflictAttempts || !onlyConflicts(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*(5+mathrand.IntN(10))) * time.Millisecond):
		}
	}
}

// onlyConflicts: a cancellation in which no condition failed and at least
// one item was in another transaction.
func onlyConflicts(err error) bool {
	reasons := cancelled(err)
	conflict := false
	for i := range reasons {
		switch reasonCode(reasons, i) {
		case codeConflict:
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}
