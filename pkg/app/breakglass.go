package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Ratify is the break-glass decision verb (F16).
const Ratify = elevate.DecisionRatify

// AlertGroup is the Elevate approver group that stands for the admins when
// Elevate must email them (break-glass alerts, missed ratifications): the
// admin group itself lives in the identity provider, which Elevate cannot
// enumerate, so admins who want these emails are members of an Elevate group
// of the same name. Its members may also ratify or revoke a break-glass grant
// from their link, as admins may through the API.
func (s *Service) AlertGroup() string { return s.adminGroup() }

// RatifyRequest confirms a break-glass grant as the caller.
func (s *Service) RatifyRequest(ctx context.Context, c Caller, id, comment string) (elevate.Request, error) {
	return s.decide(ctx, c, id, Ratify, comment, "")
}

// breakGlassDecider extends who may decide a break-glass request: besides the
// approver group, the members of AlertGroup may ratify or revoke it, because
// they got its alert.
func (s *Service) breakGlassDecider(ctx context.Context, d *elevate.Decider, r elevate.Request, kind elevate.DecisionKind) (elevate.Group, error) {
	if d.InGroup || !r.BreakGlass || (kind != Ratify && kind != Revoke) {
		return elevate.Group{}, nil
	}
	alert, err := s.approversOf(ctx, s.AlertGroup())
	if err != nil {
		return elevate.Group{}, err
	}
	if alert.HasMember(d.Principal) {
		d.InGroup, d.Via = true, s.AlertGroup()
	}
	return alert, nil
}

// linkDecision is what a link for r is for: ratifying a break-glass grant
// (its page offers Ratify and Revoke), else approving.
func linkDecision(r elevate.Request) elevate.DecisionKind {
	if r.BreakGlass {
		return Ratify
	}
	return Approve
}
