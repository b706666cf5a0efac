package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/keyring"
)

// Store is app.Store over one DynamoDB table.
type Store struct {
	db    *dynamodb.Client
	table string
	// pageKeys sign pagination tokens: the current key signs, the previous
	// one still verifies (pagekeys.go).
	pageKeys *keyring.Cache
	// onGroupUse, set only by tests (export_test.go), is called at each
	// step of the group-use protocol (groupuse.go).
	onGroupUse func(step string)
}

var _ app.Store = (*Store)(nil)

// New returns a store for table. pageKey signs pagination tokens; it should
// be a secret of at least 32 bytes shared by every instance serving the API.
func New(client *dynamodb.Client, table string, pageKey []byte) *Store {
	return &Store{db: client, table: table, pageKeys: keyring.Static(keyring.Ring{Current: keyring.Key{Secret: pageKey}})}
}

// WithPageKeys is s signing pagination tokens with keys that rotate: each
// token names its key, and one signed by the previous key still verifies.
func (s *Store) WithPageKeys(keys *keyring.Cache) *Store {
	c := *s
	c.pageKeys = keys
	return &c
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// unavailable wraps an infrastructure failure so errors.Is matches both
// elevate.ErrUnavailable and the SDK's error.
func unavailable(op string, err error) error {
	return fmt.Errorf("dynamo: %s: %w", op, errors.Join(elevate.ErrUnavailable, err))
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// queryAll reads a whole single-partition collection, strongly consistent.
func (s *Store) queryAll(ctx context.Context, op, pk string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

func (s *Store) batchGet(ctx context.Context, op string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var out []map[string]types.AttributeValue
	for attempt := 0; ; attempt++ {
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, res.Responses[s.table]...)
		if len(res.UnprocessedKeys) == 0 || len(res.UnprocessedKeys[s.table].Keys) == 0 {
			return out, nil
		}
		if attempt+1 >= maxBatchAttempts {
			return nil, unavailable(op, fmt.Errorf("%d keys unprocessed after %d attempts", len(res.UnprocessedKeys[s.table].Keys), maxBatchAttempts))
		}
		req = res.UnprocessedKeys
		select {
		case <-ctx.Done():
			return nil, unavailable(op, ctx.Err())
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}

func (s *Store) getItem(ctx context.Context, op string, k key) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k.av(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, unavailable(op, err)
	}
	return out.Item, nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

func strSet(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }

// decoder is an item struct that converts to its domain value.
type decoder[T any] interface{ domain() (T, error) }

// decodeAs unmarshals a stored item through its item struct I. A stored item
// that does not decode is reported as unavailable: it is our data, not the
// caller's input.
func decodeAs[I decoder[T], T any](op string, item map[string]types.AttributeValue) (T, error) {
	var it I
	var zero T
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return zero, unavailable(op, err)
	}
	v, err := it.domain()
	if err != nil {
		return zero, unavailable(op, err)
	}
	return v, nil
}

// getAs reads one item strongly consistently; notFound when it is absent.
func getAs[I decoder[T], T any](ctx context.Context, s *Store, op string, k key, notFound error) (T, error) {
	var zero T
	item, err := s.getItem(ctx, op, k)
	if err != nil {
		return zero, err
	}
	if item == nil {
		return zero, notFound
	}
	return decodeAs[I](op, item)
}

// listAs reads a whole single-partition collection.
func listAs[I decoder[T], T any](ctx context.Context, s *Store, op, pk string) ([]T, error) {
	items, err := s.queryAll(ctx, op, pk)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for _, item := range items {
		v, err := decodeAs[I](op, item)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
