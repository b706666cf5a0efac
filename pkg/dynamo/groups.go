package dynamo

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

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

// CreateGroup refuses an existing name with ErrGroupExists.
func (s *Store) CreateGroup(ctx context.Context, g elevate.Group, ev app.Event) error {
	if !elevate.ValidName(g.Name) {
		return elevate.Invalid("name must be 1-128 letters, digits, '.', '_' or '-'")
	}
	gen, err := newGen()
	if err != nil {
		return err
	}
	it := toGroupItem(g)
	it.UpdatedBy, it.ChangeID, it.Gen = ev.Actor, ev.ID, gen
	item, err := marshal(it)
	if err != nil {
		return err
	}
	// A group deleted under this name left its gates closed for good
	// (groupuse.go): the new group opens them. Only a delete of an existing
	// group writes gates, so none can appear before this commits.
	gates, err := s.groupGates(ctx, g.Name)
	if err != nil {
		return err
	}
	t := new(tx).add(s.put(item, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrGroupExists))
	for _, k := range gates {
		t.add(s.del(k, "", nil, nil), faultIfLost)
	}
	ahead, err := s.withMembers(ctx, "create group", t, g.Name, gen, g.Members)
	if err == nil {
		err = s.commit(ctx, "create group", t)
	}
	if err != nil && ahead {
		// Unreachable (no group item carries gen); removed to be tidy.
		_ = s.dropMembers(context.WithoutCancel(ctx), g.Name, gen)
	}
	return err
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

// AddGroupMember is idempotent; ErrGroupNotFound when the group is absent.
// The member item goes with the group item's set (members.go).
func (s *Store) AddGroupMember(ctx context.Context, group, principal string, ev app.Event) error {
	if !elevate.ValidName(group) {
		return elevate.ErrGroupNotFound
	}
	return s.memberChange(ctx, "add group member", group, principal, true, ev)
}

// RemoveGroupMember returns ErrMemberNotFound when the principal is not in
// the group, ErrGroupNotFound when the group is absent. The member item goes
// with the group item's set, so a decision resting on the member fails
// from then on (members.go).
func (s *Store) RemoveGroupMember(ctx context.Context, group, principal string, ev app.Event) error {
	if !elevate.ValidName(group) {
		return elevate.ErrGroupNotFound
	}
	return s.memberChange(ctx, "remove group member", group, principal, false, ev)
}

// DeleteGroup refuses with ErrGroupInUse while a policy or the settings
// reference the group (refs > 0) or a pending request or live grant names
// it (a live hold); groupuse.go says why this is race-free.
func (s *Store) DeleteGroup(ctx context.Context, name string, ev app.Event) error {
	if !elevate.ValidName(name) {
		return elevate.ErrGroupNotFound
	}
	started := time.Now()
	// Policies or the settings naming it refuse the delete before anything
	// is closed (and again at the delete itself).
	item, err := s.getItem(ctx, "delete group: read", groupKey(name))
	if err != nil {
		return err
	}
	if item == nil {
		return elevate.ErrGroupNotFound
	}
	if n, ok := item[attrRefs].(*types.AttributeValueMemberN); ok && n.Value != "0" {
		return elevate.ErrGroupInUse
	}
	gen, _ := item[attrGen].(*types.AttributeValueMemberS)
	s.groupUseStep(StepClosing)
	if err := s.closeGates(ctx, name, ev.ID, ev.Time); err != nil {
		if errors.Is(err, elevate.ErrUnknownGroup) {
			return elevate.ErrGroupNotFound // tombstones: deleted meanwhile
		}
		return err // ErrConcurrentUpdate: another delete of this group is under way
	}
	s.groupUseStep(StepLocked)
	// The gates' lapse is judged on ev's clock plus the time this delete has
	// taken since.
	err = s.deleteClosedGroup(ctx, name, ev, func() time.Time { return ev.Time.Add(time.Since(started)) })
	if err != nil {
		s.reopenGates(context.WithoutCancel(ctx), name, ev.ID)
		return err
	}
	if gen != nil {
		// Unreachable now: a group created under the name gets a new
		// generation. Left behind if this fails, they stay unreachable.
		_ = s.dropMembers(context.WithoutCancel(ctx), name, gen.Value)
	}
	return nil
}

// deleteClosedGroup is steps 2 and 3 of a delete (groupuse.go).
func (s *Store) deleteClosedGroup(ctx context.Context, name string, ev app.Event, clock func() time.Time) error {
	ids, err := s.groupHolds(ctx, name)
	if err != nil {
		return err
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
	s.groupUseStep(StepQueried)
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
	s.buryGates(&t, name, ev.ID, clock())
	for _, id := range ids { // every request named has ended
		if t.len() == maxDeleteTxItems {
			break
		}
		t.add(s.del(groupHoldKey(name, id), "", nil, nil), faultIfLost)
	}
	return s.commit(ctx, "delete group", &t)
}
