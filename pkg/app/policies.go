package app

import (
	"context"
	"strings"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// CreatePolicy is admin-only.
func (s *Service) CreatePolicy(ctx context.Context, c Caller, in elevate.PolicyInput) (elevate.Policy, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Policy{}, err
	}
	p, err := elevate.NewPolicy(in, c.Principal, s.Clock())
	if err != nil {
		return elevate.Policy{}, err
	}
	settings, err := s.Store.GetSettings(ctx)
	if err != nil {
		return elevate.Policy{}, err
	}
	ev := s.policyEvent(c, "policy.created", p)
	return p, s.Store.CreatePolicy(ctx, p, settings.MaxPolicies, ev)
}

func (s *Service) policyEvent(c Caller, action string, p elevate.Policy) Event {
	ev := s.event(c, action)
	t := p.Target()
	ev.Target, ev.PolicyID = &t, p.ID
	return ev
}

// ListPolicies is admin-only.
func (s *Service) ListPolicies(ctx context.Context, c Caller) ([]elevate.Policy, error) {
	if err := s.requireAdmin(c); err != nil {
		return nil, err
	}
	return s.Store.ListPolicies(ctx)
}

// GetPolicy is admin-only.
func (s *Service) GetPolicy(ctx context.Context, c Caller, id string) (elevate.Policy, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Policy{}, err
	}
	return s.Store.GetPolicy(ctx, strings.ToLower(id))
}

// UpdatePolicy replaces a policy's rules; its target is immutable.
func (s *Service) UpdatePolicy(ctx context.Context, c Caller, id string, in elevate.PolicyInput) (elevate.Policy, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Policy{}, err
	}
	prev, err := s.Store.GetPolicy(ctx, strings.ToLower(id))
	if err != nil {
		return elevate.Policy{}, err
	}
	next, err := prev.Update(in, c.Principal, s.Clock())
	if err != nil {
		return elevate.Policy{}, err
	}
	ev := s.policyEvent(c, "policy.updated", next)
	return next, s.Store.UpdatePolicy(ctx, prev, next, ev)
}

// DeletePolicy is admin-only. Requests already granted keep their grants.
func (s *Service) DeletePolicy(ctx context.Context, c Caller, id string) error {
	if err := s.requireAdmin(c); err != nil {
		return err
	}
	prev, err := s.Store.GetPolicy(ctx, strings.ToLower(id))
	if err != nil {
		return err
	}
	ev := s.policyEvent(c, "policy.deleted", prev)
	return s.Store.DeletePolicy(ctx, prev, ev)
}
