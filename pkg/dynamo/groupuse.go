package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Why a group cannot be deleted while requests name it (issue 10 item 7).
//
// A group recreated under a deleted group's name would inherit its pending
// requests and live grants, so the delete is refused (ErrGroupInUse) while
// any exist. Policies and settings are counted in the group item's refs,
// but requests are not: a count would have to be released when a request
// lapses, and lapses are decided at read time with nothing written, so a
// lapsed request would block the delete until TTL (days, in AWS) caught up.
// Instead:
//
//   - Every request naming a group writes a hold, GROUPUSE#<group> /
//     <request id>, in its own transaction, with expiresEpochMs following
//     the request's ExpiresAt (pending expiry, then the grant's end) and a
//     ttl at that instant for garbage collection. A decision that ends the
//     request (deny, cancel, revoke) deletes the hold; a final approval
//     moves it to the grant's end. A hold is live while expiresEpochMs is
//     in the future, so a lapsed request stops blocking the moment it
//     lapses, with nothing written.
//   - Creating a request condition-checks that the group exists and that no
//     delete holds the group's lock.
//   - DeleteGroup takes the lock (a conditional put, which lapses by itself
//     after groupLockFor should the deleter die), then reads every hold
//     strongly consistently: holds committed before the lock are all seen,
//     and none can commit after it. Any live hold refuses with
//     ErrGroupInUse; otherwise one transaction deletes the group (refs = 0),
//     the lock (still ours), the lapsed holds and writes the event.
//
// Three round trips for a rare admin operation; none on the hot paths
// beyond one more ConditionCheck and one more small write per request.

// groupLockFor bounds how long a dead deleter can keep requests for a group
// from being created.
const groupLockFor = 30 * time.Second

// maxDeleteTxItems is DynamoDB's transaction limit; lapsed holds beyond what
// fits are left to TTL (they no longer block anything).
const maxDeleteTxItems = 100

type groupHoldItem struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	Kind           string `dynamodbav:"kind"`
	RequestID      string `dynamodbav:"requestId"`
	ExpiresEpochMs int64  `dynamodbav:"expiresEpochMs"`
	TTL            int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

type groupLockItem struct {
	PK           string `dynamodbav:"PK"`
	SK           string `dynamodbav:"SK"`
	Kind         string `dynamodbav:"kind"`
	Token        string `dynamodbav:"token"`
	UntilEpochMs int64  `dynamodbav:"untilEpochMs"`
	TTL          int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

// unlistedIndexKeys puts a TTL'd bookkeeping item in every GSI, in its own
// partition no listing reads: DynamoDB Local's TTL sweeper stalls on items
// missing from a GSI (see slotIndexKeys).
type unlistedIndexKeys struct {
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
	GSI3PK string `dynamodbav:"GSI3PK"`
	GSI3SK string `dynamodbav:"GSI3SK"`
}

func unlistedIndex(k key) unlistedIndexKeys {
	return unlistedIndexKeys{k.pk, k.sk, k.pk, k.sk, k.pk, k.sk}
}

// holdFollows keeps r's hold on its approver group in step with r, for the
// transaction that stores r: put (pending or approved: the hold lasts until
// r.ExpiresAt) or deleted (the request has ended). Nil when r names no group.
func (s *Store) holdFollows(r elevate.Request) (*types.TransactWriteItem, error) {
	if r.ApproverGroup == "" {
		return nil, nil
	}
	k := groupHoldKey(r.ApproverGroup, r.ID)
	if r.Status != elevate.StatusPending && r.Status != elevate.StatusApproved {
		d := s.del(k, "", nil, nil)
		return &d, nil
	}
	m, err := marshal(groupHoldItem{PK: k.pk, SK: k.sk, Kind: KindGroupHold, RequestID: r.ID,
		ExpiresEpochMs: epochMs(r.ExpiresAt), TTL: ttlAt(r.ExpiresAt), unlistedIndexKeys: unlistedIndex(k)})
	if err != nil {
		return nil, err
	}
	p := s.put(m, "", nil, nil)
	return &p, nil
}

// groupOpenChecks are the conditions for a new request naming group: the
// group exists (ErrUnknownGroup) and no delete holds its lock (a delete in
// progress: ErrConcurrentUpdate, retry).
func (s *Store) groupOpenChecks(group string, now time.Time) ([]types.TransactWriteItem, []func(map[string]types.AttributeValue) error) {
	exists := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
		Key: groupKey(group).av(), ConditionExpression: aws.String("attribute_exists(PK)")}}
	unlocked := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
		Key: groupLockKey(group).av(), ConditionExpression: aws.String("attribute_not_exists(PK) OR #u <= :now"),
		ExpressionAttributeNames:  map[string]string{"#u": "untilEpochMs"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(epochMs(now))}}}
	return []types.TransactWriteItem{exists, unlocked},
		[]func(map[string]types.AttributeValue) error{is(elevate.ErrUnknownGroup), is(elevate.ErrConcurrentUpdate)}
}

// DeleteGroup refuses with ErrGroupInUse while a policy or the settings
// reference the group (refs > 0) or a pending request or live grant names
// it (a live hold); see above for why this is race-free.
func (s *Store) DeleteGroup(ctx context.Context, name string, ev app.Event) error {
	if !elevate.ValidName(name) {
		return elevate.ErrGroupNotFound
	}
	now := ev.Time
	lock := groupLockKey(name)
	lockItem, err := marshal(groupLockItem{PK: lock.pk, SK: lock.sk, Kind: KindGroupLock, Token: ev.ID,
		UntilEpochMs: epochMs(now.Add(groupLockFor)), TTL: ttlAt(now.Add(groupLockFor)), unlistedIndexKeys: unlistedIndex(lock)})
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: lockItem,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #u <= :now"),
		ExpressionAttributeNames:  map[string]string{"#u": "untilEpochMs"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(epochMs(now))}})
	if isConditionFailed(err) {
		return elevate.ErrConcurrentUpdate // another delete of this group is under way
	}
	if err != nil {
		return unavailable("delete group: lock", err)
	}
	err = s.deleteLockedGroup(ctx, name, ev)
	if err != nil {
		// Best effort: the lock lapses by itself anyway.
		_, _ = s.db.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: lock.av(),
			ConditionExpression: aws.String("#t = :t"), ExpressionAttributeNames: map[string]string{"#t": "token"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(ev.ID)}})
	}
	return err
}

func (s *Store) deleteLockedGroup(ctx context.Context, name string, ev app.Event) error {
	items, err := s.queryAll(ctx, "delete group: holds", prefixGroupUse+name)
	if err != nil {
		return err
	}
	var lapsed []key
	for _, item := range items {
		var h groupHoldItem
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return unavailable("delete group: decode hold", err)
		}
		if h.Kind != KindGroupHold {
			continue
		}
		if h.ExpiresEpochMs > epochMs(ev.Time) {
			return elevate.ErrGroupInUse
		}
		lapsed = append(lapsed, key{h.PK, h.SK})
	}
	evPut, err := s.eventPut(ev)
	if err != nil {
		return err
	}
	tx := []types.TransactWriteItem{
		s.del(groupKey(name), "attribute_exists(PK) AND (attribute_not_exists(#r) OR #r = :zero)",
			map[string]string{"#r": attrRefs}, map[string]types.AttributeValue{":zero": num(0)}),
		s.del(groupLockKey(name), "#t = :t", map[string]string{"#t": "token"}, map[string]types.AttributeValue{":t": str(ev.ID)}),
		evPut,
	}
	for _, k := range lapsed {
		if len(tx) == maxDeleteTxItems {
			break
		}
		tx = append(tx, s.del(k, "", nil, nil))
	}
	return txResult("delete group", s.transact(ctx, tx), orMissing(elevate.ErrGroupNotFound, elevate.ErrGroupInUse), is(elevate.ErrConcurrentUpdate))
}
