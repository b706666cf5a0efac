package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// groupRefs is the group a policy references, if it names one (an empty
// name falls back to the default group, which the settings reference).
func groupRefs(p elevate.Policy) []string {
	if p.ApproverGroup == "" {
		return nil
	}
	return []string{p.ApproverGroup}
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
