package app

import (
	"context"
	"errors"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Decision verbs.
const (
	Approve = elevate.DecisionApprove
	Deny    = elevate.DecisionDeny
	Revoke  = elevate.DecisionRevoke
	Cancel  = elevate.DecisionCancel
)

// maxDecisionAttempts bounds optimistic retries when concurrent approvers of
// an N-of-M request race; each retry re-reads and re-applies every rule.
const maxDecisionAttempts = 3

// Decide applies approve, deny, revoke or cancel as the caller.
func (s *Service) Decide(ctx context.Context, c Caller, id string, kind elevate.DecisionKind, comment string) (elevate.Request, error) {
	return s.decide(ctx, c, id, kind, comment, "")
}

func (s *Service) decide(ctx context.Context, c Caller, id string, kind elevate.DecisionKind, comment, linkID string) (elevate.Request, error) {
	var lastErr error
	for attempt := 0; attempt < maxDecisionAttempts; attempt++ {
		prev, err := s.Store.GetRequest(ctx, id)
		if err != nil {
			return elevate.Request{}, err
		}
		d := elevate.Decider{Principal: c.Principal, Admin: s.IsAdmin(c)}
		if kind != Cancel {
			if d.StillApprover, err = s.approversOf(ctx, prev.ApproverGroup); err != nil {
				return elevate.Request{}, err
			}
			d.InGroup = d.StillApprover(c.Principal)
		}
		inGroup := d.InGroup
		now := s.Clock()
		var next elevate.Request
		switch kind {
		case Approve:
			next, err = prev.Approve(d, comment, now)
		case Deny:
			next, err = prev.Deny(d, comment, now)
		case Revoke:
			next, err = prev.Revoke(d, comment, now)
		case Cancel:
			next, err = prev.Cancel(d, comment, now)
		default:
			return elevate.Request{}, elevate.Invalid("unknown decision")
		}
		if err != nil {
			if !s.IsAdmin(c) && prev.Requester != c.Principal && !inGroup && errors.Is(err, elevate.ErrConflict) {
				// Don't reveal a request's state to someone who may not see it.
				return elevate.Request{}, elevate.ErrNotApprover
			}
			return elevate.Request{}, err
		}
		linked, isLinked, err := s.linkedChange(ctx, c, prev, next, now)
		if err != nil {
			return elevate.Request{}, err
		}
		if isLinked {
			err = s.Store.SaveLinkedDecision(ctx, prev, next, linked, linkID, now)
		} else {
			err = s.Store.SaveDecision(ctx, prev, next, linkID, now)
		}
		if errors.Is(err, elevate.ErrConcurrentUpdate) {
			lastErr = err
			continue
		}
		if err != nil {
			return elevate.Request{}, err
		}
		return next.View(now), nil
	}
	return elevate.Request{}, lastErr
}
