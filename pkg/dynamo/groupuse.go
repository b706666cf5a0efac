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
//     <request id>, in the transaction that creates it. The hold only says
//     "this request names the group"; whether the request still needs it is
//     read from the request itself (elevate.Request.NeedsGroup), so
//     decisions, extensions and lapses need not touch the hold.
//   - Creating a request condition-checks that the group exists and that no
//     delete holds the group's lock.
//   - DeleteGroup takes the lock (a conditional put, which lapses by itself
//     after groupLockFor should the deleter die), then reads every hold
//     (strongly consistent Query) and the requests they name (strongly
//     consistent BatchGetItem): holds committed before the lock are all
//     seen, none can commit after it, and an ended request never needs its
//     group again. Any request that still does refuses with ErrGroupInUse;
//     otherwise it prepares the group's delete (stamp.go) and one
//     transaction deletes the group (refs = 0), the lock (still ours) and
//     the holds of ended requests.
//
// Three or four round trips for a rare admin operation; on the hot path one
// more ConditionCheck pair and one small put per request, none per decision.
// A hold's ttl is garbage collection only: its request's latest possible end
// plus holdGrace, so a group never deleted does not keep holds forever.

// holdGrace keeps a hold beyond its request's latest end as first known, for
// extensions of the grant.
const holdGrace = 30 * 24 * time.Hour

// groupLockFor bounds how long a dead deleter can keep requests for a group
// from being created.
const groupLockFor = 30 * time.Second

// maxDeleteTxItems is DynamoDB's transaction limit; holds of ended requests
// beyond what fits are left to TTL (they no longer block anything).
const maxDeleteTxItems = 100

type groupHoldItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	RequestID string `dynamodbav:"requestId"`
	TTL       int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

// groupLockItem has no ttl: TTL could remove it under a delete that is still
// running. The delete removes it, or the next one takes it over once
// untilEpochMs has passed.
type groupLockItem struct {
	PK           string `dynamodbav:"PK"`
	SK           string `dynamodbav:"SK"`
	Kind         string `dynamodbav:"kind"`
	Token        string `dynamodbav:"token"`
	UntilEpochMs int64  `dynamodbav:"untilEpochMs"`
}

// holdPut writes r's hold on its approver group, for r's creating
// transaction.
func (s *Store) holdPut(r elevate.Request) (types.TransactWriteItem, error) {
	k := groupHoldKey(r.ApproverGroup, r.ID)
	// The latest r can end: approved at its pending expiry, for its duration.
	end := r.ExpiresAt.Add(time.Duration(r.DurationHours * float64(time.Hour))).Add(holdGrace)
	m, err := marshal(groupHoldItem{PK: k.pk, SK: k.sk, Kind: KindGroupHold, RequestID: r.ID, TTL: ttlAt(end), unlistedIndexKeys: unlistedIndex(k)})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.put(m, "", nil, nil), nil
}

// groupOpenChecks are the conditions for a new request naming group: the
// group exists (ErrUnknownGroup) and no delete holds its lock (a delete in
// progress: ErrConcurrentUpdate, retry).
func (s *Store) groupOpenChecks(t *tx, group string, now time.Time) {
	exists := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
		Key: groupKey(group).av(), ConditionExpression: aws.String("attribute_exists(PK)")}}
	unlocked := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
		Key: groupLockKey(group).av(), ConditionExpression: aws.String("attribute_not_exists(PK) OR #u <= :now"),
		ExpressionAttributeNames:  map[string]string{"#u": "untilEpochMs"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(epochMs(now))}}}
	t.add(exists, is(elevate.ErrUnknownGroup))
	t.add(unlocked, is(elevate.ErrConcurrentUpdate))
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
		UntilEpochMs: epochMs(now.Add(groupLockFor))})
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
	var ids []string
	holds := map[string]key{}
	for _, item := range items {
		var h groupHoldItem
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return unavailable("delete group: decode hold", err)
		}
		if h.Kind == KindGroupHold {
			ids = append(ids, h.RequestID)
			holds[h.RequestID] = key{h.PK, h.SK}
		}
	}
	named, err := s.requestsByID(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range named {
		if r.NeedsGroup(ev.Time) {
			return elevate.ErrGroupInUse
		}
	}
	unused, unusedNames, unusedValues := "attribute_exists(PK) AND (attribute_not_exists(#r) OR #r = :zero)",
		map[string]string{"#r": attrRefs}, map[string]types.AttributeValue{":zero": num(0)}
	// Prepared first, so the REMOVE names the admin (stamp.go).
	if err := s.prepareDelete(ctx, "delete group", groupKey(name), unused, unusedNames, unusedValues, ev,
		orMissing(elevate.ErrGroupNotFound, elevate.ErrGroupInUse)); err != nil {
		return err
	}
	mine, mineNames, mineValues := preparedBy(ev.ID)
	var t tx
	t.add(s.del(groupKey(name), unused+" AND "+mine, merged(unusedNames, mineNames), merged(unusedValues, mineValues)),
		orMissing(elevate.ErrGroupNotFound, elevate.ErrGroupInUse))
	t.add(s.del(groupLockKey(name), "#t = :t", map[string]string{"#t": "token"}, map[string]types.AttributeValue{":t": str(ev.ID)}),
		is(elevate.ErrConcurrentUpdate))
	for _, id := range ids { // every request named has ended
		if t.len() == maxDeleteTxItems {
			break
		}
		t.add(s.del(holds[id], "", nil, nil), faultIfLost)
	}
	return s.commit(ctx, "delete group", &t)
}

// requestsByID reads requests strongly consistently, 100 keys per
// BatchGetItem; absent ones are skipped.
func (s *Store) requestsByID(ctx context.Context, ids []string) ([]elevate.Request, error) {
	var out []elevate.Request
	for start := 0; start < len(ids); start += maxBatchGetKeys {
		var keys []map[string]types.AttributeValue
		for _, id := range ids[start:min(start+maxBatchGetKeys, len(ids))] {
			keys = append(keys, requestKey(id).av())
		}
		items, err := s.batchGet(ctx, "delete group: requests", keys)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			r, err := decodeAs[requestItem]("delete group: decode request", item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// maxBatchGetKeys is DynamoDB's BatchGetItem limit.
const maxBatchGetKeys = 100
