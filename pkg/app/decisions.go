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

// decider is the caller as a decider of r, with their membership read now:
// membership is checked at the moment of the decision, not when the request
// or the email was made. The group returned is the one the decision rests on
// as read (the store holds it until the commit).
func (s *Service) decider(ctx context.Context, c Caller, r elevate.Request, kind elevate.DecisionKind) (elevate.Decider, elevate.Group, error) {
	d := elevate.Decider{Principal: c.Principal, Admin: s.IsAdmin(c)}
	if kind == Cancel {
		return d, elevate.Group{}, nil
	}
	g, err := s.approversOf(ctx, r.ApproverGroup)
	if err != nil {
		return d, elevate.Group{}, err
	}
	d.StillApprover = g.HasMember
	if g.HasMember(c.Principal) {
		d.InGroup, d.Via = true, r.ApproverGroup
		return d, g, nil
	}
	alert, err := s.breakGlassDecider(ctx, &d, r, kind)
	if err != nil {
		return d, elevate.Group{}, err
	}
	if d.InGroup {
		return d, alert, nil
	}
	if err := s.delegateDecider(ctx, &d, r, g.HasMember); err != nil {
		return d, elevate.Group{}, err
	}
	return d, g, nil
}

func (s *Service) decide(ctx context.Context, c Caller, id string, kind elevate.DecisionKind, comment, linkID string) (elevate.Request, error) {
	var lastErr error
	for attempt := 0; attempt < maxDecisionAttempts; attempt++ {
		prev, err := s.Store.GetRequest(ctx, id)
		if err != nil {
			return elevate.Request{}, err
		}
		if linkID != "" && prev.BreakGlass != (kind == Ratify || kind == Revoke) {
			// An approval link approves or denies; a break-glass alert's
			// link ratifies or revokes. Neither does the other's job.
			return elevate.Request{}, ErrLinkDead
		}
		d, read, err := s.decider(ctx, c, prev, kind)
		if err != nil {
			return elevate.Request{}, err
		}
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
		case Ratify:
			next, err = prev.Ratify(d, comment, now)
		default:
			return elevate.Request{}, elevate.Invalid("unknown decision")
		}
		if err != nil {
			if !s.IsAdmin(c) && prev.Requester != c.Principal && !d.InGroup && errors.Is(err, elevate.ErrConflict) {
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
			err = s.Store.SaveLinkedDecision(ctx, prev, next, linked, read, linkID, now)
		} else {
			err = s.Store.SaveDecision(ctx, prev, next, read, linkID, now)
		}
		if errors.Is(err, elevate.ErrConcurrentUpdate) {
			lastErr = err
			if kind == Revoke || kind == Ratify {
				// A revoke or ratification loses only to another one: the
				// state the caller acted on is gone, and one outcome stands.
				break
			}
			continue
		}
		if err != nil {
			return elevate.Request{}, err
		}
		return next.View(now), nil
	}
	return elevate.Request{}, lastErr
}
