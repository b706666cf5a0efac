package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Attribute names of delegation conditions.
const (
	attrDelegate    = "delegate"
	attrFromMs      = "fromEpochMs"
	attrUntilMs     = "untilEpochMs"
	attrDelegGroups = "groups"
)

// delegationRetention keeps a delegation past its window for a day, then TTL
// collects it; it is dead at read time from Until on anyway.
const delegationRetention = 24 * time.Hour

type delegationItem struct {
	PK           string   `dynamodbav:"PK"`
	SK           string   `dynamodbav:"SK"`
	Kind         string   `dynamodbav:"kind"`
	Principal    string   `dynamodbav:"principal"`
	Delegate     string   `dynamodbav:"delegate"`
	From         string   `dynamodbav:"from"`
	Until        string   `dynamodbav:"until"`
	FromEpochMs  int64    `dynamodbav:"fromEpochMs"`
	UntilEpochMs int64    `dynamodbav:"untilEpochMs"`
	Groups       []string `dynamodbav:"groups,stringset,omitempty"`
	UpdatedAt    string   `dynamodbav:"updatedAt"`
	UpdatedBy    string   `dynamodbav:"updatedBy"`
	ChangeID     string   `dynamodbav:"changeId,omitempty"`
	TTL          int64    `dynamodbav:"ttl"`
}

func toDelegationItem(d elevate.Delegation) delegationItem {
	k := delegationKey(d.Principal)
	return delegationItem{PK: k.pk, SK: k.sk, Kind: KindDelegation, Principal: d.Principal, Delegate: d.Delegate,
		From: formatTime(d.From), Until: formatTime(d.Until), FromEpochMs: epochMs(d.From), UntilEpochMs: epochMs(d.Until),
		Groups: d.Groups, UpdatedAt: formatTime(d.UpdatedAt), UpdatedBy: d.UpdatedBy, TTL: ttlAt(d.Until.Add(delegationRetention))}
}

func (it delegationItem) domain() (elevate.Delegation, error) {
	from, err1 := parseTime(it.From)
	until, err2 := parseTime(it.Until)
	updated, err3 := parseTime(it.UpdatedAt)
	if err1 != nil || err2 != nil || err3 != nil {
		return elevate.Delegation{}, fmt.Errorf("delegation of %q: bad timestamps", it.Principal)
	}
	groups := append([]string{}, it.Groups...)
	return elevate.Delegation{Principal: it.Principal, Delegate: it.Delegate, From: from, Until: until, Groups: groups,
		UpdatedAt: updated, UpdatedBy: it.UpdatedBy}, nil
}

// PutDelegation creates or replaces principal's delegation, stamped with
// ev's actor and ID like every entity write (stamp.go).
func (s *Store) PutDelegation(ctx context.Context, d elevate.Delegation, ev app.Event) error {
	it := toDelegationItem(d)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	return s.commit(ctx, "put delegation", new(tx).add(s.put(item, "", nil, nil), faultIfLost))
}

// GetDelegation returns ErrDelegationNotFound when absent.
func (s *Store) GetDelegation(ctx context.Context, principal string) (elevate.Delegation, error) {
	return getAs[delegationItem](ctx, s, "get delegation", delegationKey(principal), elevate.ErrDelegationNotFound)
}

// ListDelegations returns every delegation, ordered by approver.
func (s *Store) ListDelegations(ctx context.Context) ([]elevate.Delegation, error) {
	return listAs[delegationItem](ctx, s, "list delegations", pkDelegation)
}

// DeleteDelegation returns ErrDelegationNotFound when there is none. It is
// a prepared delete (stamp.go), so the REMOVE names who ended it.
func (s *Store) DeleteDelegation(ctx context.Context, principal string, ev app.Event) error {
	k := delegationKey(principal)
	if err := s.prepareDelete(ctx, "delete delegation", k, "attribute_exists(PK)", nil, nil, ev,
		orMissing(elevate.ErrDelegationNotFound, elevate.ErrConcurrentUpdate)); err != nil {
		return err
	}
	mine, names, values := preparedBy(ev.ID)
	return s.commit(ctx, "delete delegation", new(tx).add(s.del(k, mine, names, values), orMissing(elevate.ErrDelegationNotFound, elevate.ErrConcurrentUpdate)))
}

// delegationCheck holds a delegate's decision to the delegation it rests on
// until the commit: still held by by, its window open at now, and covering
// group. A delegation removed, narrowed or handed to someone else in between
// wins.
func (s *Store) delegationCheck(onBehalfOf, by, group string, now time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: delegationKey(onBehalfOf).av(),
		ConditionExpression:                 aws.String("#d = :by AND #from <= :now AND #until > :now AND (attribute_not_exists(#g) OR contains(#g, :group))"),
		ExpressionAttributeNames:            map[string]string{"#d": attrDelegate, "#from": attrFromMs, "#until": attrUntilMs, "#g": attrDelegGroups},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":by": str(by), ":now": num(epochMs(now)), ":group": str(group)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
}
