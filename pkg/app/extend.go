package app

import (
	"context"
	"errors"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Extend asks for more time on the caller's active grant (F14). The
// extension is a new request judged by the target's policy as it is now;
// it is written together with the original, conditioned on the original not
// having changed, so of concurrent calls exactly one makes an extension and
// the others find it pending.
func (s *Service) Extend(ctx context.Context, c Caller, id string, in elevate.ExtendInput) (elevate.Request, error) {
	var lastErr error
	for attempt := 0; attempt < maxDecisionAttempts; attempt++ {
		orig, err := s.Store.GetRequest(ctx, id)
		if err != nil {
			return elevate.Request{}, err
		}
		if orig.Requester != c.Principal && !s.IsAdmin(c) {
			// Someone else's request reads as not found, as GetRequest does.
			return elevate.Request{}, elevate.ErrRequestNotFound
		}
		var pending *elevate.Request
		if orig.PendingExtension != "" {
			p, err := s.Store.GetRequest(ctx, orig.PendingExtension)
			if err != nil && !errors.Is(err, elevate.ErrNotFound) {
				return elevate.Request{}, err
			}
			if err == nil {
				pending = &p
			}
		}
		read, err := s.Store.ReadAuthz(ctx, c.Principal, orig.Target())
		if err != nil {
			return elevate.Request{}, err
		}
		now := s.Clock()
		sub := elevate.ExtensionSubmission{Pending: pending, Submission: elevate.Submission{
			ID: s.id(), Requester: c.Principal, Settings: read.Settings, Policy: read.Policy, Now: now}}
		ext, nextOrig, err := elevate.NewExtension(orig, in, sub)
		if err != nil {
			return elevate.Request{}, err
		}
		err = s.Store.CreateExtension(ctx, ext, Change{Prev: orig, Next: nextOrig}, now)
		if errors.Is(err, elevate.ErrConcurrentUpdate) {
			lastErr = err
			continue
		}
		if err != nil {
			return elevate.Request{}, err
		}
		return ext.View(now), nil
	}
	return elevate.Request{}, lastErr
}

// linkedChange is the second request a decision on prev→next must change in
// the same transaction, if any: approving an extension moves its original's
// grant end; revoking an original ends its pending extension. ok is false
// when the decision stands alone.
func (s *Service) linkedChange(ctx context.Context, c Caller, prev, next elevate.Request, now time.Time) (Change, bool, error) {
	switch {
	case next.Extends != "" && next.Status == elevate.StatusApproved && prev.Status == elevate.StatusPending:
		orig, err := s.Store.GetRequest(ctx, next.Extends)
		if errors.Is(err, elevate.ErrNotFound) {
			return Change{}, false, elevate.ErrOriginalNotActive
		} else if err != nil {
			return Change{}, false, err
		}
		moved, err := orig.ExtendedBy(next, now)
		if err != nil {
			return Change{}, false, err
		}
		return Change{Prev: orig, Next: moved}, true, nil
	case next.Extends == "" && next.Status == elevate.StatusRevoked && next.PendingExtension != "":
		ext, err := s.Store.GetRequest(ctx, next.PendingExtension)
		if errors.Is(err, elevate.ErrNotFound) {
			return Change{}, false, nil
		} else if err != nil {
			return Change{}, false, err
		}
		ended, ok := ext.RevokedWithOriginal(c.Principal, now)
		return Change{Prev: ext, Next: ended}, ok, nil
	}
	return Change{}, false, nil
}
