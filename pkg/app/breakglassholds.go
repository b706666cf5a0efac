package app

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// BreakGlassHoldStore keeps principals' break-glass holds (issue 16 item 5):
// taken by CreateRequest with every break-glass grant, released by its
// ratification in SaveDecision, and otherwise only here, by an admin.
type BreakGlassHoldStore interface {
	// ListBreakGlassHolds is every hold not released, judged at now.
	ListBreakGlassHolds(ctx context.Context, now time.Time) ([]elevate.BreakGlassHold, error)
	// ClearBreakGlassHold releases principal's hold (ErrNoBreakGlassBlock
	// when none is held), stamped with ev.
	ClearBreakGlassHold(ctx context.Context, principal string, ev Event) error
}

// ListBreakGlassHolds shows admins every principal held from break-glass:
// awaiting ratification, or blocked after a revocation or a missed deadline.
func (s *Service) ListBreakGlassHolds(ctx context.Context, c Caller) ([]elevate.BreakGlassHold, error) {
	if err := s.requireAdmin(c); err != nil {
		return nil, err
	}
	return s.Store.ListBreakGlassHolds(ctx, s.Clock())
}

// ClearBreakGlassHold lets principal use break-glass again. Admin-only; the
// audit trail records it as break_glass.unblocked by the admin.
func (s *Service) ClearBreakGlassHold(ctx context.Context, c Caller, principal string) error {
	if err := s.requireAdmin(c); err != nil {
		return err
	}
	p, err := elevate.NormalizePrincipal(principal)
	if err != nil {
		return err
	}
	return s.Store.ClearBreakGlassHold(ctx, p, s.event(c, "break_glass.unblocked"))
}
