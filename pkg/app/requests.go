package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

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
	sub := elevate.Submission{ID: s.id(), Requester: c.Principal, Settings: read.Settings, Policy: read.Policy, Now: now}
	r, err := elevate.NewRequest(in, sub)
	if err != nil {
		return elevate.Request{}, err
	}
	if r, err = s.withVerifiedTicket(ctx, r, in, sub); err != nil {
		return elevate.Request{}, err
	}
	if err := s.bindIdentityCenter(ctx, &r, read.Policy); err != nil {
		return elevate.Request{}, err
	}
	// The slot read above is strongly consistent: while it is held the
	// store's transaction would lose its slot condition, so nothing is
	// written. Whether the approver group exists is the store's to check.
	if now.Before(read.SlotHeldUntil) {
		return elevate.Request{}, elevate.ErrOpenRequest
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
		// Whoever may decide it may see it: an approver, a delegate standing
		// in for one (F17), the alert group for break-glass (F16).
		d, _, err := s.decider(ctx, c, r, linkDecision(r))
		if err != nil {
			return elevate.Request{}, err
		}
		if !d.InGroup {
			return elevate.Request{}, elevate.ErrRequestNotFound
		}
	}
	if r, err = s.withProvisioning(ctx, r); err != nil {
		return elevate.Request{}, err
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
	// Ticket lists the requests that carry this ticket reference (F15).
	Ticket string

	// Break-glass filters (F16).
	BreakGlass   *bool
	Ratification elevate.Ratification
}

// ListRequests shows admins everything and others their own requests plus
// those their approver groups can decide.
func (s *Service) ListRequests(ctx context.Context, c Caller, f ListFilter) (RequestPage, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	now := s.Clock()
	q := RequestQuery{Status: f.Status, Type: f.Type, Limit: f.Limit, Next: f.Next, Now: now, Ticket: f.Ticket,
		BreakGlass: f.BreakGlass, Ratification: f.Ratification}
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
	return s.withDelegatedGroups(ctx, principal, all, names)
}
