package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

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
