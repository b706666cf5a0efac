package dynamo

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// GetSettings returns the defaults (Version 0) when none are stored.
func (s *Store) GetSettings(ctx context.Context) (elevate.Settings, error) {
	item, err := s.getItem(ctx, "get settings", settingsKey())
	if err != nil {
		return elevate.Settings{}, err
	}
	if item == nil {
		return elevate.DefaultSettings(), nil
	}
	return decodeAs[settingsItem]("decode settings", item)
}

// SaveSettings writes next if the stored version is still prev.Version, and
// moves group reference counts in the same transaction: +1 (the group must
// exist) for groups next starts using, -1 for groups it stops using. The
// item is stamped with ev (stamp.go); the stream makes the audit record.
func (s *Store) SaveSettings(ctx context.Context, prev, next elevate.Settings, ev app.Event) error {
	it := toSettingsItem(next)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	cond, values := "attribute_not_exists(PK)", map[string]types.AttributeValue(nil)
	names := map[string]string(nil)
	if prev.Version > 0 {
		cond = "#v = :prev"
		names = map[string]string{"#v": attrVersion}
		values = map[string]types.AttributeValue{":prev": num(int64(prev.Version))}
	}
	var t tx
	t.add(s.put(item, cond, names, values), is(elevate.ErrConcurrentUpdate))
	s.moveRefs(&t, prev.ReferencedGroups(), next.ReferencedGroups(), ev)
	return s.commit(ctx, "save settings", &t)
}

// moveRefs adds to t the moves of group reference counts from the groups in
// before to those in after, for the change that moves them: +1 for
// each group newly used, which must exist (so the increment doubles as the
// "named group exists" check, ErrUnknownGroup), -1 for each no longer used.
// Each group changed is stamped with ev, so its audit record names the admin.
func (s *Store) moveRefs(t *tx, before, after []string, ev app.Event) {
	delta := func(group string, d int64) types.TransactWriteItem {
		return s.update(groupKey(group), "ADD #r :d SET #by = :by, #cid = :cid", "attribute_exists(PK)",
			map[string]string{"#r": attrRefs, "#by": attrUpdatedBy, "#cid": attrChangeID},
			map[string]types.AttributeValue{":d": num(d), ":by": str(ev.Actor), ":cid": str(ev.ID)})
	}
	for _, g := range after {
		if !slices.Contains(before, g) {
			t.add(delta(g, +1), is(elevate.ErrUnknownGroup))
		}
	}
	for _, g := range before {
		if !slices.Contains(after, g) {
			t.add(delta(g, -1), faultIfLost)
		}
	}
}

// groupRefs is the group a policy references, if it names one (an empty
// name falls back to the default group, which the settings reference).
func groupRefs(p elevate.Policy) []string {
	if p.ApproverGroup == "" {
		return nil
	}
	return []string{p.ApproverGroup}
}

// CreateGroup refuses an existing name with ErrGroupExists.
func (s *Store) CreateGroup(ctx context.Context, g elevate.Group, ev app.Event) error {
	if !elevate.ValidName(g.Name) {
		return elevate.Invalid("name must be 1-128 letters, digits, '.', '_' or '-'")
	}
	it := toGroupItem(g)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	return s.commit(ctx, "create group", new(tx).add(s.put(item, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrGroupExists)))
}

// GetGroup returns ErrGroupNotFound when absent.
func (s *Store) GetGroup(ctx context.Context, name string) (elevate.Group, error) {
	if !elevate.ValidName(name) {
		return elevate.Group{}, elevate.ErrGroupNotFound
	}
	return getAs[groupItem](ctx, s, "get group", groupKey(name), elevate.ErrGroupNotFound)
}

// ListGroups returns every group, ordered by name.
func (s *Store) ListGroups(ctx context.Context) ([]elevate.Group, error) {
	return listAs[groupItem](ctx, s, "list groups", pkGroup)
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

// AddGroupMember is idempotent; ErrGroupNotFound when the group is absent.
func (s *Store) AddGroupMember(ctx context.Context, group, principal string, ev app.Event) error {
	if !elevate.ValidName(group) {
		return elevate.ErrGroupNotFound
	}
	upd := s.update(groupKey(group), "ADD #m :p SET #u = :now, #by = :by, #cid = :cid", "attribute_exists(PK)",
		map[string]string{"#m": attrMembers, "#u": attrUpdatedAt, "#by": attrUpdatedBy, "#cid": attrChangeID},
		map[string]types.AttributeValue{":p": strSet(principal), ":now": str(formatTime(ev.Time)), ":by": str(ev.Actor), ":cid": str(ev.ID)})
	return s.commit(ctx, "add group member", new(tx).add(upd, is(elevate.ErrGroupNotFound)))
}

// RemoveGroupMember returns ErrMemberNotFound when the principal is not in
// the group, ErrGroupNotFound when the group is absent.
func (s *Store) RemoveGroupMember(ctx context.Context, group, principal string, ev app.Event) error {
	if !elevate.ValidName(group) {
		return elevate.ErrGroupNotFound
	}
	upd := s.update(groupKey(group), "DELETE #m :p SET #u = :now, #by = :by, #cid = :cid", "attribute_exists(PK) AND contains(#m, :one)",
		map[string]string{"#m": attrMembers, "#u": attrUpdatedAt, "#by": attrUpdatedBy, "#cid": attrChangeID},
		map[string]types.AttributeValue{":p": strSet(principal), ":one": str(principal), ":now": str(formatTime(ev.Time)), ":by": str(ev.Actor), ":cid": str(ev.ID)})
	return s.commit(ctx, "remove group member", new(tx).add(upd, orMissing(elevate.ErrGroupNotFound, elevate.ErrMemberNotFound)))
}

// CreatePolicy is one transaction: the policy (one per target), the counter
// under the cap, the named group's refs (it must exist), and the event.
func (s *Store) CreatePolicy(ctx context.Context, p elevate.Policy, maxPolicies int, ev app.Event) error {
	it := toPolicyItem(p)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	var t tx
	t.add(s.put(item, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrPolicyExists))
	t.add(s.update(policyCounterKey(), "SET #k = :kind ADD #c :one", "attribute_not_exists(#c) OR #c < :max",
		map[string]string{"#k": attrKind, "#c": attrCount},
		map[string]types.AttributeValue{":kind": str(KindCounter), ":one": num(1), ":max": num(int64(maxPolicies))}),
		is(elevate.ErrPolicyCap))
	s.moveRefs(&t, nil, groupRefs(p), ev)
	return s.commit(ctx, "create policy", &t)
}

// GetPolicy returns ErrPolicyNotFound when absent.
func (s *Store) GetPolicy(ctx context.Context, id string) (elevate.Policy, error) {
	if id == "" || len(id) > 1024 {
		return elevate.Policy{}, elevate.ErrPolicyNotFound
	}
	return getAs[policyItem](ctx, s, "get policy", policyKey(id), elevate.ErrPolicyNotFound)
}

// ListPolicies returns every policy, ordered by ID.
func (s *Store) ListPolicies(ctx context.Context) ([]elevate.Policy, error) {
	return listAs[policyItem](ctx, s, "list policies", pkPolicy)
}

// UpdatePolicy replaces the policy if it is unchanged since prev was read
// (same updatedAt), and moves group refs when the approver group changes.
func (s *Store) UpdatePolicy(ctx context.Context, prev, next elevate.Policy, ev app.Event) error {
	if prev.ID != next.ID {
		return elevate.Invalid("a policy's target cannot change; create a new policy")
	}
	it := toPolicyItem(next)
	it.UpdatedBy, it.ChangeID = ev.Actor, ev.ID
	item, err := marshal(it)
	if err != nil {
		return err
	}
	var t tx
	t.add(s.put(item, "attribute_exists(PK) AND #u = :prev",
		map[string]string{"#u": attrUpdatedAt}, map[string]types.AttributeValue{":prev": str(formatTime(prev.UpdatedAt))}),
		orMissing(elevate.ErrPolicyNotFound, elevate.ErrConcurrentUpdate))
	s.moveRefs(&t, groupRefs(prev), groupRefs(next), ev)
	return s.commit(ctx, "update policy", &t)
}

// DeletePolicy removes the policy, frees a slot under the cap and releases
// its group. Requests already granted keep their grants. It prepares the
// delete first (stamp.go), so the REMOVE names the admin.
func (s *Store) DeletePolicy(ctx context.Context, prev elevate.Policy, ev app.Event) error {
	unchanged, unchangedNames, unchangedValues := "attribute_exists(PK) AND #u = :prev",
		map[string]string{"#u": attrUpdatedAt}, map[string]types.AttributeValue{":prev": str(formatTime(prev.UpdatedAt))}
	if err := s.prepareDelete(ctx, "delete policy", policyKey(prev.ID), unchanged, unchangedNames, unchangedValues, ev,
		orMissing(elevate.ErrPolicyNotFound, elevate.ErrConcurrentUpdate)); err != nil {
		return err
	}
	mine, mineNames, mineValues := preparedBy(ev.ID)
	var t tx
	t.add(s.del(policyKey(prev.ID), unchanged+" AND "+mine, merged(unchangedNames, mineNames), merged(unchangedValues, mineValues)),
		orMissing(elevate.ErrPolicyNotFound, elevate.ErrConcurrentUpdate))
	t.add(s.update(policyCounterKey(), "ADD #c :minus", "", map[string]string{"#c": attrCount},
		map[string]types.AttributeValue{":minus": num(-1)}), faultIfLost)
	s.moveRefs(&t, groupRefs(prev), nil, ev)
	return s.commit(ctx, "delete policy", &t)
}
