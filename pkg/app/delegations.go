package app

import (
	"context"
	"slices"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Approver delegation (F17).

// DelegationStore is the persistence the delegation use cases need; the
// Store implements it.
type DelegationStore interface {
	PutDelegation(ctx context.Context, d elevate.Delegation, ev Event) error
	GetDelegation(ctx context.Context, principal string) (elevate.Delegation, error)
	ListDelegations(ctx context.Context) ([]elevate.Delegation, error)
	DeleteDelegation(ctx context.Context, principal string, ev Event) error
}

// SelfPrincipal names the caller in /v1/delegations/{principal}.
const SelfPrincipal = "me"

// mayManageDelegation: an approver manages their own; an admin anyone's.
func (s *Service) mayManageDelegation(c Caller, principal string) (string, error) {
	if principal == SelfPrincipal {
		return c.Principal, nil
	}
	p, err := elevate.NormalizePrincipal(principal)
	if err != nil {
		return "", err
	}
	if p != c.Principal && !s.IsAdmin(c) {
		return "", elevate.ErrDelegateOthers
	}
	return p, nil
}

// PutDelegation hands principal's approvals to a delegate for a window.
func (s *Service) PutDelegation(ctx context.Context, c Caller, principal string, in elevate.DelegationInput) (elevate.Delegation, error) {
	p, err := s.mayManageDelegation(c, principal)
	if err != nil {
		return elevate.Delegation{}, err
	}
	d, err := elevate.NewDelegation(p, in, c.Principal, s.Clock())
	if err != nil {
		return elevate.Delegation{}, err
	}
	groups, err := s.Store.ListGroups(ctx)
	if err != nil {
		return elevate.Delegation{}, err
	}
	if !elevate.MayDelegate(p, d.Groups, groups) {
		return elevate.Delegation{}, elevate.ErrDelegatorNotApprover
	}
	// The bound is checked on a consistent read of the one partition, so
	// concurrent writes of new delegations may pass it by at most their
	// number; replacing one's own never counts.
	all, err := s.Store.ListDelegations(ctx)
	if err != nil {
		return elevate.Delegation{}, err
	}
	others := 0
	for _, x := range all {
		if x.Principal != p {
			others++
		}
	}
	if others >= s.maxDelegations() {
		return elevate.Delegation{}, elevate.ErrTooManyDelegations
	}
	ev := s.event(c, "delegation.set")
	ev.Detail = map[string]any{"delegation": d}
	return d, s.Store.PutDelegation(ctx, d, ev)
}

// ListDelegations shows admins every delegation and others those they gave
// or hold.
func (s *Service) ListDelegations(ctx context.Context, c Caller) ([]elevate.Delegation, error) {
	all, err := s.Store.ListDelegations(ctx)
	if err != nil || s.IsAdmin(c) {
		return all, err
	}
	var mine []elevate.Delegation
	for _, d := range all {
		if d.Principal == c.Principal || d.Delegate == c.Principal {
			mine = append(mine, d)
		}
	}
	return mine, nil
}

// DeleteDelegation ends principal's delegation at once.
func (s *Service) DeleteDelegation(ctx context.Context, c Caller, principal string) error {
	p, err := s.mayManageDelegation(c, principal)
	if err != nil {
		return err
	}
	prev, err := s.Store.GetDelegation(ctx, p)
	if err != nil {
		return err
	}
	ev := s.event(c, "delegation.removed")
	ev.Detail = map[string]any{"delegation": prev}
	return s.Store.DeleteDelegation(ctx, p, ev)
}

// delegateDecider lets a delegate decide as the member they stand in for:
// a delegation live now, covering the request's group, from a current
// member who is not the requester. It reads every delegation with one Query;
// the store re-checks the one used, and the member's membership, at commit.
func (s *Service) delegateDecider(ctx context.Context, d *elevate.Decider, r elevate.Request, isMember func(string) bool) error {
	if d.InGroup || r.ApproverGroup == "" {
		return nil
	}
	all, err := s.Store.ListDelegations(ctx)
	if err != nil {
		return err
	}
	if dl, ok := elevate.StandsInFor(all, d.Principal, r.Requester, r.ApproverGroup, isMember, s.Clock()); ok {
		d.InGroup, d.Via, d.OnBehalfOf = true, r.ApproverGroup, dl.Principal
	}
	return nil
}

// withDelegatedGroups adds to names the groups principal decides in as a
// delegate now: those of live delegations to them, covered, where the
// delegator is still a member. Listings show their requests too.
func (s *Service) withDelegatedGroups(ctx context.Context, principal string, all []elevate.Group, names []string) ([]string, error) {
	ds, err := s.Store.ListDelegations(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Clock()
	for _, d := range ds {
		if d.Delegate != principal || !d.LiveAt(now) {
			continue
		}
		for _, g := range all {
			if d.Covers(g.Name) && g.HasMember(d.Principal) && !slices.Contains(names, g.Name) {
				names = append(names, g.Name)
			}
		}
	}
	return names, nil
}

func (s *Service) maxDelegations() int {
	if s.MaxDelegations > 0 {
		return s.MaxDelegations
	}
	return elevate.MaxDelegations
}
