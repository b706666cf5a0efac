package dynamo

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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

// DeleteGroup refuses with ErrGroupInUse while a policy or the settings
// reference the group (refs > 0) or a pending request or live grant names
// it (a live hold); groupuse.go says why this is race-free.
func (s *Store) DeleteGroup(ctx context.Context, name string, ev app.Event) error {
	if !elevate.ValidName(name) {
		return elevate.ErrGroupNotFound
	}
	started := time.Now()
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
	s.groupUseStep(StepLocked)
	// The lock's lapse is judged on ev's clock plus the time this delete
	// has taken since.
	err = s.deleteLockedGroup(ctx, name, ev, func() time.Time { return now.Add(time.Since(started)) })
	if err != nil {
		// Best effort: the lock lapses by itself anyway.
		_, _ = s.db.DeleteItem(context.WithoutCancel(ctx), &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: lock.av(),
			ConditionExpression: aws.String("#t = :t"), ExpressionAttributeNames: map[string]string{"#t": "token"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(ev.ID)}})
	}
	return err
}

// deleteLockedGroup is steps 2 to 4 of a delete (groupuse.go).
func (s *Store) deleteLockedGroup(ctx context.Context, name string, ev app.Event, clock func() time.Time) error {
	held, reserved, err := s.groupHolds(ctx, name)
	if err != nil {
		return err
	}
	inUse := func(ids []string) error {
		named, err := s.requestsByID(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range named {
			if r.NeedsGroup(ev.Time) {
				return elevate.ErrGroupInUse
			}
		}
		return nil
	}
	if err := inUse(held); err != nil {
		return err
	}
	s.groupUseStep(StepQueried)
	// Reservations: each request either never commits, or committed before
	// its reservation was dropped and is pending now.
	var committed []string
	for _, id := range reserved {
		dropped, err := s.dropReservation(ctx, name, id)
		if err != nil {
			return err
		}
		if !dropped {
			committed = append(committed, id)
		}
	}
	if err := inUse(committed); err != nil {
		return err
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
	// Still this delete's lock, with lockMargin to spare: otherwise requests
	// may have read it as lapsed and committed unseen.
	t.add(s.del(groupLockKey(name), "#t = :t AND #u > :at", map[string]string{"#t": "token", "#u": "untilEpochMs"},
		map[string]types.AttributeValue{":t": str(ev.ID), ":at": num(epochMs(clock().Add(lockMargin)))}),
		is(elevate.ErrConcurrentUpdate))
	for _, id := range append(held, committed...) { // every request named has ended
		if t.len() == maxDeleteTxItems {
			break
		}
		t.add(s.del(groupHoldKey(name, id), "", nil, nil), faultIfLost)
	}
	return s.commit(ctx, "delete group", &t)
}
