package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// GetSettings is admin-only.
func (s *Service) GetSettings(ctx context.Context, c Caller) (elevate.Settings, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Settings{}, err
	}
	return s.Store.GetSettings(ctx)
}

// UpdateSettings merges a patch. The store checks the named groups exist.
func (s *Service) UpdateSettings(ctx context.Context, c Caller, p elevate.SettingsPatch) (elevate.Settings, error) {
	if err := s.requireAdmin(c); err != nil {
		return elevate.Settings{}, err
	}
	prev, err := s.Store.GetSettings(ctx)
	if err != nil {
		return elevate.Settings{}, err
	}
	next, err := prev.Apply(p, c.Principal, s.Clock())
	if err != nil {
		return elevate.Settings{}, err
	}
	next.Version = prev.Version + 1
	ev := s.event(c, "settings.updated")
	if err := s.Store.SaveSettings(ctx, prev, next, ev); err != nil {
		return elevate.Settings{}, err
	}
	return next, nil
}
