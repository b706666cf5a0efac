package dynamo

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A group cannot be deleted while a request naming it still needs it, and no
// request can be created for a group that is deleted or being deleted (issue
// 10 item 7). No request touches an item that every other request for the
// group touches (issue 17 item 12).
//
// The group's open/closed state is spread over groupShards gate items,
// GROUPUSE#<group>/#GATE#<k>. A gate that is absent is open; a delete closes
// every gate while it works (state closing, until a lapse time) and leaves
// them deleted (a tombstone) with the group; creating a group of that name
// removes them again.
//
// A request naming a group writes, in the transaction that creates it, a hold
// of its own (GROUPUSE#<group>/<request id>) and a ConditionCheck that one
// gate, chosen by its ID, is open. Requests for one group therefore share a
// gate only by chance (1 in groupShards), and nothing else.
//
// A group delete (DeleteGroup):
//  1. closes every gate in one transaction (each absent or a lapsed
//     closing), with its token;
//  2. Queries the group's holds, strongly consistent, and refuses with
//     ErrGroupInUse if a hold's request still needs the group (pending, or
//     a grant not yet over, read from the request itself);
//  3. deletes the group (refs = 0) and its ended holds and turns every gate
//     into a tombstone in one transaction, conditioned on every gate still
//     being closed by it with lockMargin to spare.
//
// Why no request is created for a deleted group: a request commits only
// while its gate is open. If it committed before the delete closed that gate
// (step 1), the Query of step 2 sees its hold; if after step 3, the gate is a
// tombstone; in between the gate is closed. A request that read a closed
// gate as lapsed (its clock ahead by more than lockMargin, or a delete that
// took over groupLockFor) commits unseen, and the delete then fails step 3's
// condition. A request names a group only because the policy or settings it
// read (strongly consistent) name it, and a group they name exists (its refs
// count them, and a delete needs refs = 0), so the gate is the only check:
// a group deleted since that read has left its gates as tombstones.

// groupShards is how many gates a group has: requests for one busy group
// meet on one gate with chance 1/groupShards; a delete writes every gate
// twice (and its final transaction holds them all, within DynamoDB's 100).
const groupShards = 32

// holdGrace keeps a hold beyond its request's latest end as first known, for
// extensions of the grant.
const holdGrace = 30 * 24 * time.Hour

// groupLockFor bounds how long a dead deleter can keep requests for a group
// from being created.
const groupLockFor = 30 * time.Second

// lockMargin is how much of its lock a delete must still have when it
// commits, so that a request whose clock runs a little ahead cannot have read
// a gate as lapsed.
const lockMargin = 10 * time.Second

// maxDeleteTxItems is DynamoDB's transaction limit; holds of ended requests
// beyond what fits are left to TTL (they no longer block anything).
const maxDeleteTxItems = 100

// Gate states.
const (
	gateClosing = "closing"
	gateDeleted = "deleted"
	attrGate    = "state"
	attrUntil   = "untilEpochMs"
	attrToken   = "token"
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
	TTL       int64  `dynamodbav:"ttl"`
}

// groupGateItem has no ttl: TTL could remove it under a delete that is still
// running, or remove a tombstone.
type groupGateItem struct {
	PK           string `dynamodbav:"PK"`
	SK           string `dynamodbav:"SK"`
	Kind         string `dynamodbav:"kind"`
	State        string `dynamodbav:"state"`
	Token        string `dynamodbav:"token"`
	UntilEpochMs int64  `dynamodbav:"untilEpochMs"`
}

// gateOf is the gate request id checks.
func gateOf(requestID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(requestID))
	return int(h.Sum32() % groupShards)
}

// groupUse adds to t what r (a request or an extension naming
// r.ApproverGroup, at now) needs: its hold, and its gate open.
func (s *Store) groupUse(t *tx, r elevate.Request, now time.Time) error {
	k := groupHoldKey(r.ApproverGroup, r.ID)
	// The latest r can end: approved at its pending expiry, for its duration.
	end := r.ExpiresAt.Add(time.Duration(r.DurationHours * float64(time.Hour))).Add(holdGrace)
	hold, err := marshal(groupHoldItem{PK: k.pk, SK: k.sk, Kind: KindGroupHold, RequestID: r.ID, TTL: ttlAt(end)})
	if err != nil {
		return err
	}
	t.add(s.put(hold, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrConcurrentUpdate))
	open := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table),
		Key:                                 groupGateKey(r.ApproverGroup, gateOf(r.ID)).av(),
		ConditionExpression:                 aws.String("attribute_not_exists(PK) OR (#st = :closing AND #u <= :now)"),
		ExpressionAttributeNames:            map[string]string{"#st": attrGate, "#u": attrUntil},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":closing": str(gateClosing), ":now": num(epochMs(now))},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
	t.add(open, gateLost)
	return nil
}

// gateLost: a tombstone means the group is gone; a closing gate, a delete
// under way (retry).
func gateLost(old map[string]types.AttributeValue) error {
	if v, ok := old[attrGate].(*types.AttributeValueMemberS); ok && v.Value == gateDeleted {
		return elevate.ErrUnknownGroup
	}
	return elevate.ErrConcurrentUpdate
}

// Steps of the protocol a test can stop at (export_test.go).
const (
	StepCommit  = "commit"  // a request naming a group is about to commit
	StepClosing = "closing" // a delete is about to close the gates
	StepLocked  = "locked"  // a delete closed the gates
	StepQueried = "queried" // a delete read the holds and found none in use
)

func (s *Store) groupUseStep(step string) {
	if s.onGroupUse != nil {
		s.onGroupUse(step)
	}
}

// closeGates is step 1 of a delete.
func (s *Store) closeGates(ctx context.Context, group, token string, now time.Time) error {
	var t tx
	for k := range groupShards {
		g := groupGateKey(group, k)
		item, err := marshal(groupGateItem{PK: g.pk, SK: g.sk, Kind: KindGroupLock, State: gateClosing, Token: token,
			UntilEpochMs: epochMs(now.Add(groupLockFor))})
		if err != nil {
			return err
		}
		t.add(s.put(item, "attribute_not_exists(PK) OR (#st = :closing AND #u <= :now)",
			map[string]string{"#st": attrGate, "#u": attrUntil},
			map[string]types.AttributeValue{":closing": str(gateClosing), ":now": num(epochMs(now))}), gateLost)
	}
	return s.commit(ctx, "delete group: close", &t)
}

// reopenGates undoes step 1 after a refused delete (best effort: the gates
// lapse by themselves).
func (s *Store) reopenGates(ctx context.Context, group, token string) {
	for k := range groupShards {
		_, _ = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: groupGateKey(group, k).av(),
			ConditionExpression: aws.String("#t = :t AND #st = :closing"), ExpressionAttributeNames: map[string]string{"#t": attrToken, "#st": attrGate},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(token), ":closing": str(gateClosing)}})
	}
}

// buryGates adds to t step 3's gate writes: every gate still closed by this
// delete, with lockMargin to spare at at, becomes a tombstone.
func (s *Store) buryGates(t *tx, group, token string, at time.Time) {
	for k := range groupShards {
		t.add(s.update(groupGateKey(group, k), "SET #st = :deleted REMOVE #u", "#t = :t AND #st = :closing AND #u > :at",
			map[string]string{"#st": attrGate, "#u": attrUntil, "#t": attrToken},
			map[string]types.AttributeValue{":deleted": str(gateDeleted), ":t": str(token), ":closing": str(gateClosing), ":at": num(epochMs(at.Add(lockMargin)))}),
			is(elevate.ErrConcurrentUpdate))
	}
}

// groupGates reads the keys of the gates stored for group (strongly
// consistent): none while it never was deleted; a former group's tombstones,
// which the transaction creating a group of that name removes.
func (s *Store) groupGates(ctx context.Context, group string) ([]key, error) {
	return s.keysUnder(ctx, "create group: gates", prefixGroupUse+group, skGroupGate)
}

// groupHolds reads the request IDs of the group's holds (step 2).
func (s *Store) groupHolds(ctx context.Context, group string) ([]string, error) {
	items, err := s.queryAll(ctx, "delete group: holds", prefixGroupUse+group)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, item := range items {
		if kindOf(item) != KindGroupHold {
			continue
		}
		var h groupHoldItem
		if err := attributevalue.UnmarshalMap(item, &h); err != nil {
			return nil, unavailable("delete group: decode hold", err)
		}
		ids = append(ids, h.RequestID)
	}
	return ids, nil
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
