package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Default group names; the admin group is configurable.
const (
	DefaultAdminGroup = "elevate-admins"
	AuthorizersGroup  = "elevate-authorizers"
)

// ErrAdminOnly refuses a non-admin on an admin route.
var ErrAdminOnly = &elevate.Error{Kind: elevate.ErrForbidden, Code: "admin-only", Message: "this operation needs the admin group"}

// ErrAuthorizeOthers refuses asking about another principal without rights.
var ErrAuthorizeOthers = &elevate.Error{Kind: elevate.ErrForbidden, Code: "authorize-others", Message: "asking about another principal needs the admin or elevate-authorizers group"}

// Caller is the authenticated principal and the identity provider's groups
// (from the JWT). Approver-group membership is a different thing: it lives in
// Elevate's own groups and is read from the store at decision time.
type Caller struct {
	Principal string
	Groups    []string
}

// Service implements the use cases. All fields are required except NewID.
type Service struct {
	Store      Store
	Clock      elevate.Clock
	AdminGroup string
	// NewID returns a new unique ID; random 128-bit hex by default.
	NewID func() string
}

func (s *Service) id() string {
	if s.NewID != nil {
		return s.NewID()
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Service) adminGroup() string {
	if s.AdminGroup == "" {
		return DefaultAdminGroup
	}
	return s.AdminGroup
}

// IsAdmin reports whether the caller holds the admin group.
func (s *Service) IsAdmin(c Caller) bool { return slices.Contains(c.Groups, s.adminGroup()) }

func (s *Service) requireAdmin(c Caller) error {
	if !s.IsAdmin(c) {
		return ErrAdminOnly
	}
	return nil
}

func (s *Service) event(c Caller, action string) Event {
	return Event{ID: s.id(), Time: s.Clock(), Action: action, Actor: c.Principal}
}

// --- settings (F1, F10) ---

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
	ev.Detail = map[string]any{"before": prev, "after": next}
	if err := s.Store.SaveSettings(ctx, prev, next, ev); err != nil {
		return elevate.Settings{}, err
	}
	return next, nil
}

// --- groups (F2) ---

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
	ev.Detail = map[string]any{"group": g.Name, "members": g.Members}
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
	ev.Detail = map[string]any{"group": group, "member": p}
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
	ev.Detail = map[string]any{"group": name}
	return s.Store.DeleteGroup(ctx, name, ev)
}

// --- policies (F3) ---

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
	ev.Detail = map[string]any{"after": p}
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
	ev.Detail = map[string]any{"before": prev, "after": next}
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
	ev.Detail = map[string]any{"before": prev}
	return s.Store.DeletePolicy(ctx, prev, ev)
}

// --- requests (F4, F5, F10, F11) ---

// SubmitRequest creates a request for the caller.
func (s *Service) SubmitRequest(ctx context.Context, c Caller, in elevate.SubmitInput) (elevate.Request, error) {
	typ, err := elevate.ParseRequestType(in.Type)
	if err != nil {
		return elevate.Request{}, err
	}
	in.Type = string(typ)
	t := elevate.Target{Type: typ, Scope: in.Scope, Name: in.Name}
	if err := t.Validate(); err != nil {
		return elevate.Request{}, err
	}
	read, err := s.Store.ReadAuthz(ctx, c.Principal, t)
	if err != nil {
		return elevate.Request{}, err
	}
	now := s.Clock()
	r, err := elevate.NewRequest(in, elevate.Submission{ID: s.id(), Requester: c.Principal, Settings: read.Settings, Policy: read.Policy, Now: now})
	if err != nil {
		return elevate.Request{}, err
	}
	if r.ApprovalType == elevate.ApprovalManual {
		// Refuse a request nobody could ever approve.
		if _, err := s.Store.GetGroup(ctx, r.ApproverGroup); errors.Is(err, elevate.ErrNotFound) {
			return elevate.Request{}, elevate.ErrUnknownGroup
		} else if err != nil {
			return elevate.Request{}, err
		}
	}
	if err := s.Store.CreateRequest(ctx, r); err != nil {
		return elevate.Request{}, err
	}
	return r.View(now), nil
}

// GetRequest returns a request the caller may see: their own, one they can
// decide, or any for an admin. Others read as not found, so IDs don't leak.
func (s *Service) GetRequest(ctx context.Context, c Caller, id string) (elevate.Request, error) {
	r, err := s.Store.GetRequest(ctx, id)
	if err != nil {
		return elevate.Request{}, err
	}
	if r.Requester != c.Principal && !s.IsAdmin(c) {
		g, err := s.Store.GetGroup(ctx, r.ApproverGroup)
		if err != nil && !errors.Is(err, elevate.ErrNotFound) {
			return elevate.Request{}, err
		}
		if !g.HasMember(c.Principal) {
			return elevate.Request{}, elevate.ErrRequestNotFound
		}
	}
	return r.View(s.Clock()), nil
}

// ListFilter is what GET /v1/requests accepts.
type ListFilter struct {
	Status    elevate.Status
	Type      elevate.RequestType
	Requester string
	Limit     int
	Next      string
}

// ListRequests shows admins everything and others their own requests plus
// those their approver groups can decide.
func (s *Service) ListRequests(ctx context.Context, c Caller, f ListFilter) (RequestPage, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	now := s.Clock()
	q := RequestQuery{Status: f.Status, Type: f.Type, Limit: f.Limit, Next: f.Next, Now: now}
	if f.Requester != "" {
		p, err := elevate.NormalizePrincipal(f.Requester)
		if err != nil {
			return RequestPage{}, err
		}
		q.Index, q.Requester = ByRequester, p
	}
	if !s.IsAdmin(c) {
		groups, err := s.groupsOf(ctx, c.Principal)
		if err != nil {
			return RequestPage{}, err
		}
		q.VisibleTo = &Visibility{Principal: c.Principal, Groups: groups}
		if q.Index == AllRequests && len(groups) == 0 {
			q.Index, q.Requester = ByRequester, c.Principal
		}
	}
	page, err := s.Store.ListRequests(ctx, q)
	if err != nil {
		return RequestPage{}, err
	}
	for i := range page.Items {
		page.Items[i] = page.Items[i].View(now)
	}
	return page, nil
}

func (s *Service) groupsOf(ctx context.Context, principal string) ([]string, error) {
	all, err := s.Store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, g := range all {
		if g.HasMember(principal) {
			names = append(names, g.Name)
		}
	}
	return names, nil
}

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
		inGroup := false
		if kind != Cancel {
			// Membership is checked at the moment of the decision, not when
			// the request or the email was made.
			g, err := s.Store.GetGroup(ctx, prev.ApproverGroup)
			if err != nil && !errors.Is(err, elevate.ErrNotFound) {
				return elevate.Request{}, err
			}
			inGroup = g.HasMember(c.Principal)
		}
		d := elevate.Decider{Principal: c.Principal, InGroup: inGroup, Admin: s.IsAdmin(c)}
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
		err = s.Store.SaveDecision(ctx, prev, next, linkID, now)
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

// --- authorization (F8) ---

// AuthzInput is the body of POST /v1/authorize.
type AuthzInput struct {
	Type      string `json:"type"`
	Scope     string `json:"scope"`
	Name      string `json:"name"`
	Principal string `json:"principal"`
}

// AuthzResult is the answer of POST /v1/authorize.
type AuthzResult struct {
	Allowed   bool           `json:"allowed"`
	Reason    elevate.Reason `json:"reason"`
	RequestID string         `json:"requestId,omitempty"`
	ExpiresAt *string        `json:"expiresAt,omitempty"`
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
	if read.Policy != nil {
		ev.PolicyID = read.Policy.ID
	}
	// An answer that could not be audited is not given.
	if err := s.Store.RecordAuthz(ctx, ev); err != nil {
		return AuthzResult{}, err
	}
	res := AuthzResult{Allowed: ans.Allowed, Reason: ans.Reason, RequestID: ans.RequestID}
	if !ans.ExpiresAt.IsZero() {
		e := ans.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z07:00")
		res.ExpiresAt = &e
	}
	return res, nil
}
