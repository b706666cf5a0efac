package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// LinkClaims is what a verified approval-link token asserts.
type LinkClaims struct {
	ID        string
	RequestID string
	Approver  string
}

// ErrLinkDead refuses a link whose request can no longer be decided.
var ErrLinkDead = &elevate.Error{Kind: elevate.ErrConflict, Code: "link-dead", Message: "this request can no longer be decided from this link"}

// LinkRequest returns the request an approval link is for, read-only: a GET of
// the link must never change state, because mail scanners follow links.
func (s *Service) LinkRequest(ctx context.Context, l LinkClaims) (elevate.Request, error) {
	r, err := s.Store.GetRequest(ctx, l.RequestID)
	if err != nil {
		return elevate.Request{}, err
	}
	// The page shows the reason and others' comments: only to someone who is
	// still an approver, not to whoever was one when the email went out.
	d, _, err := s.decider(ctx, Caller{Principal: l.Approver}, r, linkDecision(r))
	if err != nil {
		return elevate.Request{}, err
	}
	if !d.InGroup {
		return elevate.Request{}, elevate.ErrNotApprover
	}
	return r.View(s.Clock()), nil
}

// DecideByLink approves or denies as the link's approver. Every rule is
// re-checked now (membership, self-approval, state, expiry) and the link's ID
// is consumed in the decision's transaction, so a link works once.
func (s *Service) DecideByLink(ctx context.Context, l LinkClaims, kind elevate.DecisionKind, comment string) (elevate.Request, error) {
	if kind != Approve && kind != Deny && kind != Ratify && kind != Revoke {
		return elevate.Request{}, elevate.Invalid("decision must be approve, deny, ratify or revoke")
	}
	return s.decide(ctx, Caller{Principal: l.Approver}, l.RequestID, kind, comment, l.ID)
}
