package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// CreateGroup is admin-only.
func (s *Service) CreateGroup(ctx context.Context, c Caller, in elevate.NewGroupInput) (elevate.Group, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Group{}, err
	}
	g, err := elevate.NewGroup(in, c.Principal, s.Clock())
	if err != nil {
		return elevate.Group{}, err
	}
	ev := s.event(c, "group.created")
	return g, s.Store.CreateGroup(ctx, g, ev)
}

// ListGroups is admin-only.
func (s *Service) ListGroups(ctx context.Context, c Caller) ([]elevate.Group, error) {
	if err := s.requireAdmin(c); err != nil {
		return nil, err
	}
	return s.Store.ListGroups(ctx)
}

// GetGroup is admin-only.
func (s *Service) GetGroup(ctx context.Context, c Caller, name string) (elevate.Group, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Group{}, err
	}
	return s.Store.GetGroup(ctx, name)
}

// AddGroupMember is admin-only and idempotent.
func (s *Service) AddGroupMember(ctx context.Context, c Caller, group, member string) (elevate.Group, error) {
	return s.changeMember(ctx, c, group, member, true)
}

// RemoveGroupMember is admin-only.
func (s *Service) RemoveGroupMember(ctx context.Context, c Caller, group, member string) (elevate.Group, error) {
	return s.changeMember(ctx, c, group, member, false)
}

func (s *Service) changeMember(ctx context.Context, c Caller, group, member string, add bool) (elevate.Group, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Group{}, err
	}
	p, err := elevate.NormalizePrincipal(member)
	if err != nil {
		return elevate.Group{}, err
	}
	action, change := "group.member-removed", s.Store.RemoveGroupMember
	if add {
		action, change = "group.member-added", s.Store.AddGroupMember
	}
	ev := s.event(c, action)
	if err := change(ctx, group, p, ev); err != nil {
		return elevate.Group{}, err
	}
	return s.Store.GetGroup(ctx, group)
}

// DeleteGroup is admin-only; the store refuses while the group is in use.
func (s *Service) DeleteGroup(ctx context.Context, c Caller, name string) error {
	if err := s.requireAdmin(c); err != nil {
		return err
	}
	ev := s.event(c, "group.deleted")
	return s.Store.DeleteGroup(ctx, name, ev)
}
