package app

import (
	"context"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// AuthzInput is the body of POST /v1/authorize.
type AuthzInput struct {
	Type      string `json:"type"`
	Scope     string `json:"scope"`
	Name      string `json:"name"`
	Principal string `json:"principal,omitempty"`
}

// AuthzResult is the answer of POST /v1/authorize.
type AuthzResult struct {
	Allowed   bool           `json:"allowed"`
	Reason    elevate.Reason `json:"reason"`
	RequestID string         `json:"requestId,omitempty"`
	ExpiresAt *string        `json:"expiresAt,omitempty"`
	// ActiveFrom is a scheduled grant's start, with reason not-yet-active.
	ActiveFrom *string `json:"activeFrom,omitempty"`
}

// Authorize answers and audits one question: one read round trip, one write.
func (s *Service) Authorize(ctx context.Context, c Caller, in AuthzInput) (AuthzResult, error) {
	typ, err := elevate.ParseRequestType(in.Type)
	if err != nil {
		return AuthzResult{}, err
	}
	t := elevate.Target{Type: typ, Scope: in.Scope, Name: in.Name}
	if err := t.Validate(); err != nil {
		return AuthzResult{}, err
	}
	principal := c.Principal
	if in.Principal != "" {
		if principal, err = elevate.NormalizePrincipal(in.Principal); err != nil {
			return AuthzResult{}, err
		}
		if principal != c.Principal && !s.IsAdmin(c) && !slices.Contains(c.Groups, AuthorizersGroup) {
			return AuthzResult{}, ErrAuthorizeOthers
		}
	}
	read, err := s.Store.ReadAuthz(ctx, principal, t)
	if err != nil {
		return AuthzResult{}, err
	}
	now := s.Clock()
	ans := elevate.Authorize(&elevate.AuthzQuestion{Principal: principal, Target: t, Settings: &read.Settings, Policy: read.Policy, Grant: read.Grant, Now: now})

	action := "authorize.denied"
	if ans.Allowed {
		action = "authorize.allowed"
	}
	ev := Event{ID: s.id(), Time: now, Action: action, Actor: principal, Target: &t, RequestID: ans.RequestID,
		Detail: map[string]any{"reason": string(ans.Reason), "askedBy": c.Principal}}
	if !ans.ActiveFrom.IsZero() {
		ev.Detail["activeFrom"] = ans.ActiveFrom.UTC()
	}
	if read.Policy != nil {
		ev.PolicyID = read.Policy.ID
	}
	// An answer that could not be audited is not given.
	if err := s.Store.RecordAuthz(ctx, ev); err != nil {
		return AuthzResult{}, err
	}
	res := AuthzResult{Allowed: ans.Allowed, Reason: ans.Reason, RequestID: ans.RequestID,
		ExpiresAt: rfc3339(ans.ExpiresAt), ActiveFrom: rfc3339(ans.ActiveFrom)}
	return res, nil
}

// rfc3339 formats a non-zero instant for the API; nil for zero.
func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}
