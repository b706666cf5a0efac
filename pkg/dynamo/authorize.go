package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ReadAuthz is one strongly consistent BatchGetItem of the settings, the
// policy (not for Lockbox, which the settings govern) and the grant slot.
func (s *Store) ReadAuthz(ctx context.Context, principal string, t elevate.Target) (app.AuthzRead, error) {
	keys := []map[string]types.AttributeValue{settingsKey().av(), grantSlotKey(principal, t).av()}
	if t.Type != elevate.TypeLockbox {
		keys = append(keys, policyKey(t.Key()).av())
	}
	items, err := s.batchGet(ctx, "read authz", keys)
	if err != nil {
		return app.AuthzRead{}, err
	}
	read := app.AuthzRead{Settings: elevate.DefaultSettings()}
	for _, item := range items {
		kind := ""
		if v, ok := item[attrKind].(*types.AttributeValueMemberS); ok {
			kind = v.Value
		}
		switch kind {
		case KindSettings:
			if read.Settings, err = decodeAs[settingsItem]("decode settings", item); err != nil {
				return app.AuthzRead{}, err
			}
		case KindPolicy:
			p, err := decodeAs[policyItem]("decode policy", item)
			if err != nil {
				return app.AuthzRead{}, err
			}
			read.Policy = &p
		case KindGrant:
			var it grantItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return app.AuthzRead{}, unavailable("decode grant", err)
			}
			g, status, err := it.domain()
			if err != nil {
				return app.AuthzRead{}, unavailable("decode grant", err)
			}
			read.SlotHeldUntil = g.ExpiresAt
			if status == elevate.StatusApproved {
				read.Grant = &g
			}
		}
	}
	return read, nil
}

// RecordAuthz writes one audit-only event item.
func (s *Store) RecordAuthz(ctx context.Context, ev app.Event) error {
	if err := s.putEvent(ctx, ev, nil); err != nil {
		return unavailable("record authz", err)
	}
	return nil
}

// putEvent writes one event item (the one PutItem of the authorize path, or
// a refusal), under condition when it is set.
func (s *Store) putEvent(ctx context.Context, ev app.Event, condition *string) error {
	it, err := toEventItem(ev)
	if err != nil {
		return err
	}
	item, err := marshal(it)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: condition})
	return err
}
