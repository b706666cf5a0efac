package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A group cannot be deleted while a request naming it still needs it, and no
// request can be created for a group that is deleted or being deleted (issue
// 10 item 7). No request touches an item every other request for the group
// touches (issue 17 item 12): each request writes only a hold of its own,
// GROUPUSE#<group>/<request id>, and the delete does the work.
//
// A request naming a group (reserveGroup, then its transaction):
//  1. puts its hold as a reservation (state reserved);
//  2. then reads the group and the group's delete lock, strongly consistent:
//     the group must exist (else ErrUnknownGroup) and no delete may hold the
//     lock (else ErrConcurrentUpdate: retry);
//  3. then commits, in the transaction that creates the request, the hold
//     as held, conditioned on the reservation still being there.
//
// A group delete (DeleteGroup):
//  1. takes the lock (a conditional put that lapses after groupLockFor);
//  2. then Queries the group's holds, strongly consistent; refuses with
//     ErrGroupInUse if a held hold's request still needs the group (pending,
//     or a grant not yet over, read from the request itself);
//  3. deletes every reservation, each conditioned on its still being a
//     reservation; one that turned into a held hold meanwhile is a new
//     pending request: ErrGroupInUse;
//  4. deletes the group (refs = 0, as before) and its lock in one
//     transaction, conditioned on the lock still being its own with
//     lockMargin to spare.
//
// Why no request is created for a deleted group: a request that commits
// read the group and no lock at its step 2, after its reservation was
// written. A delete that took the lock before that read was seen by it; one
// that took it after finds the reservation in its Query (written before the
// read, so before the lock, so before the Query) and deletes it unless the
// request committed first, which makes the delete find a pending request.
// Either way the two do not both succeed. A lock that lapsed under a slow
// delete lets requests through; the delete then fails at its step 4.
//
// Why requests no longer contend: the reservation, the read and the
// transaction touch the request's own items and two items (group, lock) that
// are only read, never written, by requests; a read is not a transaction
// conflict. The price is one more call per request naming a group (the
// reservation) and the group and lock read, which replaces the service's
// separate read of the group.

// holdGrace keeps a hold beyond its request's latest end as first known, for
// extensions of the grant.
const holdGrace = 30 * 24 * time.Hour

// reservationTTL removes a reservation whose request never committed. Its
// request's transaction ran within the function's budget (seconds), so the
// reservation is long dead by then; a delete removes it earlier.
const reservationTTL = time.Hour

// groupLockFor bounds how long a dead deleter can keep requests for a group
// from being created.
const groupLockFor = 30 * time.Second

// lockMargin is how much of its lock a delete must still have when it
// commits, so that a request whose clock runs a little ahead cannot have
// read the lock as lapsed.
const lockMargin = 10 * time.Second

// maxDeleteTxItems is DynamoDB's transaction limit; holds of ended requests
// beyond what fits are left to TTL (they no longer block anything).
const maxDeleteTxItems = 100

// Hold states. Holds written before reservations existed have none and were
// written with their request: held.
const (
	holdReserved  = "reserved"
	holdHeld      = "held"
	attrHoldState = "state"
)

// groupHoldItem carries no index keys: nothing lists holds, and a hold's TTL
// is garbage collection only (DynamoDB Local never TTL-deletes an item
// missing from an index, so there ended holds stay until a group delete
// removes them).
type groupHoldItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	RequestID string `dynamodbav:"requestId"`
	State     string `dynamodbav:"state,omitempty"`
	TTL       int64  `dynamodbav:"ttl"`
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

// reserveGroup runs steps 1 and 2 for r (a request or an extension naming
// r.ApproverGroup, at now) and returns step 3's write for r's transaction.
func (s *Store) reserveGroup(ctx context.Context, r elevate.Request, now time.Time) (types.TransactWriteItem, error) {
	k := groupHoldKey(r.ApproverGroup, r.ID)
	reservation, err := marshal(groupHoldItem{PK: k.pk, SK: k.sk, Kind: KindGroupHold, RequestID: r.ID, State: holdReserved,
		TTL: ttlAt(now.Add(reservationTTL))})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: reservation,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return types.TransactWriteItem{}, elevate.ErrConcurrentUpdate // the same request id twice
	}
	if err != nil {
		return types.TransactWriteItem{}, unavailable("reserve group", err)
	}
	s.groupUseStep(StepReserved)
	items, err := s.batchGet(ctx, "read group", []map[string]types.AttributeValue{groupKey(r.ApproverGroup).av(), groupLockKey(r.ApproverGroup).av()})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	exists := false
	for _, item := range items {
		switch kindOf(item) {
		case KindGroup:
			exists = true
		case KindGroupLock:
			var l groupLockItem
			if err := attributevalue.UnmarshalMap(item, &l); err != nil {
				return types.TransactWriteItem{}, unavailable("read group: decode lock", err)
			}
			if l.UntilEpochMs > epochMs(now) {
				return types.TransactWriteItem{}, elevate.ErrConcurrentUpdate // a delete is under way
			}
		}
	}
	if !exists {
		return types.TransactWriteItem{}, elevate.ErrUnknownGroup
	}
	s.groupUseStep(StepChecked)
	// The latest r can end: approved at its pending expiry, for its duration.
	end := r.ExpiresAt.Add(time.Duration(r.DurationHours * float64(time.Hour))).Add(holdGrace)
	hold, err := marshal(groupHoldItem{PK: k.pk, SK: k.sk, Kind: KindGroupHold, RequestID: r.ID, State: holdHeld, TTL: ttlAt(end)})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.put(hold, "#st = :reserved", map[string]string{"#st": attrHoldState},
		map[string]types.AttributeValue{":reserved": str(holdReserved)}), nil
}

// groupUseLost is what a lost hold condition means to the request: a group
// delete removed the reservation. Retrying reads the group again.
var groupUseLost = is(elevate.ErrConcurrentUpdate)

// Steps of the protocol a test can stop at (export_test.go).
const (
	StepReserved = "reserved" // a request's reservation is written
	StepChecked  = "checked"  // a request read the group open
	StepLocked   = "locked"   // a delete holds the lock
	StepQueried  = "queried"  // a delete read the holds and found none in use
)

func (s *Store) groupUseStep(step string) {
	if s.onGroupUse != nil {
		s.onGroupUse(step)
	}
}

// groupHolds reads the group's holds (step 2 of a delete) and sorts them:
// the requests of held holds, and the reservations.
func (s *Store) groupHolds(ctx context.Context, group string) (held []string, reserved []string, err error) {
	items, err := s.queryAll(ctx, "delete group: holds", prefixGroupUse+group)
	if err != nil {
		return nil, nil, err
	}
	for _, item := range items {
		if kindOf(item) != KindGroupHold {
			continue
		}
		var h groupHoldItem
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return nil, nil, unavailable("delete group: decode hold", err)
		}
		if h.State == holdReserved {
			reserved = append(reserved, h.RequestID)
		} else {
			held = append(held, h.RequestID)
		}
	}
	return held, reserved, nil
}

// dropReservation is step 3 for one reservation: it deletes it unless its
// request committed meanwhile, and says whether it did.
func (s *Store) dropReservation(ctx context.Context, group, requestID string) (bool, error) {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: groupHoldKey(group, requestID).av(),
		ConditionExpression:       aws.String("#st = :reserved"),
		ExpressionAttributeNames:  map[string]string{"#st": attrHoldState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":reserved": str(holdReserved)}})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("delete group: drop reservation", err)
	}
	return true, nil
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
