package httpapi

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// memStore is an in-memory app.Store for the pure unit tests of this
// package only; the event-replay tests run against DynamoDB Local.
type memStore struct {
	mu       sync.Mutex
	settings elevate.Settings
	groups   map[string]elevate.Group
	policies map[string]elevate.Policy
	requests map[string]elevate.Request
	links    map[string]bool
	authz    []app.Event
	refusals []app.Event
	fail     error // returned by every call when set
}

var _ app.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{settings: elevate.DefaultSettings(), groups: map[string]elevate.Group{}, policies: map[string]elevate.Policy{}, requests: map[string]elevate.Request{}, links: map[string]bool{}}
}

func (m *memStore) lock() func() { m.mu.Lock(); return m.mu.Unlock }

func (m *memStore) GetSettings(context.Context) (elevate.Settings, error) {
	defer m.lock()()
	return m.settings, m.fail
}

func (m *memStore) SaveSettings(_ context.Context, prev, next elevate.Settings, _ app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	if m.settings.Version != prev.Version {
		return elevate.ErrConcurrentUpdate
	}
	for _, g := range []string{next.DefaultApproverGroup, next.Lockbox.ApproverGroup} {
		if _, ok := m.groups[g]; g != "" && !ok {
			return elevate.ErrUnknownGroup
		}
	}
	m.settings = next
	return nil
}

func (m *memStore) CreateGroup(_ context.Context, g elevate.Group, _ app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.groups[g.Name]; ok {
		return elevate.ErrGroupExists
	}
	m.groups[g.Name] = g
	return nil
}

func (m *memStore) GetGroup(_ context.Context, name string) (elevate.Group, error) {
	defer m.lock()()
	if m.fail != nil {
		return elevate.Group{}, m.fail
	}
	g, ok := m.groups[name]
	if !ok {
		return elevate.Group{}, elevate.ErrGroupNotFound
	}
	return g, nil
}

func (m *memStore) ListGroups(context.Context) ([]elevate.Group, error) {
	defer m.lock()()
	var out []elevate.Group
	for _, g := range m.groups {
		out = append(out, g)
	}
	return out, m.fail
}

func (m *memStore) AddGroupMember(_ context.Context, group, p string, _ app.Event) error {
	defer m.lock()()
	g, ok := m.groups[group]
	if !ok {
		return elevate.ErrGroupNotFound
	}
	if !g.HasMember(p) {
		g.Members = append(slices.Clone(g.Members), p)
	}
	m.groups[group] = g
	return nil
}

func (m *memStore) RemoveGroupMember(_ context.Context, group, p string, _ app.Event) error {
	defer m.lock()()
	g, ok := m.groups[group]
	if !ok {
		return elevate.ErrGroupNotFound
	}
	if !g.HasMember(p) {
		return elevate.ErrMemberNotFound
	}
	g.Members = slices.DeleteFunc(slices.Clone(g.Members), func(x string) bool { return x == p })
	m.groups[group] = g
	return nil
}

func (m *memStore) DeleteGroup(_ context.Context, name string, _ app.Event) error {
	defer m.lock()()
	if _, ok := m.groups[name]; !ok {
		return elevate.ErrGroupNotFound
	}
	if m.settings.DefaultApproverGroup == name || m.settings.Lockbox.ApproverGroup == name {
		return elevate.ErrGroupInUse
	}
	for _, p := range m.policies {
		if p.ApproverGroup == name {
			return elevate.ErrGroupInUse
		}
	}
	delete(m.groups, name)
	return nil
}

func (m *memStore) CreatePolicy(_ context.Context, p elevate.Policy, max int, _ app.Event) error {
	defer m.lock()()
	if _, ok := m.policies[p.ID]; ok {
		return elevate.ErrPolicyExists
	}
	if len(m.policies) >= max {
		return elevate.ErrPolicyCap
	}
	if _, ok := m.groups[p.ApproverGroup]; p.ApproverGroup != "" && !ok {
		return elevate.ErrUnknownGroup
	}
	m.policies[p.ID] = p
	return nil
}

func (m *memStore) GetPolicy(_ context.Context, id string) (elevate.Policy, error) {
	defer m.lock()()
	p, ok := m.policies[id]
	if !ok {
		return elevate.Policy{}, elevate.ErrPolicyNotFound
	}
	return p, nil
}

func (m *memStore) ListPolicies(context.Context) ([]elevate.Policy, error) {
	defer m.lock()()
	var out []elevate.Policy
	for _, p := range m.policies {
		out = append(out, p)
	}
	return out, nil
}

func (m *memStore) UpdatePolicy(_ context.Context, _, next elevate.Policy, _ app.Event) error {
	defer m.lock()()
	m.policies[next.ID] = next
	return nil
}

func (m *memStore) DeletePolicy(_ context.Context, prev elevate.Policy, _ app.Event) error {
	defer m.lock()()
	delete(m.policies, prev.ID)
	return nil
}

func (m *memStore) CreateRequest(_ context.Context, r elevate.Request) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	for _, o := range m.requests {
		if o.Requester == r.Requester && o.Target().Key() == r.Target().Key() && (o.Status == elevate.StatusPending && o.ExpiresAt.After(r.CreatedAt) || o.IsActive(r.CreatedAt)) {
			return elevate.ErrOpenRequest
		}
	}
	if _, ok := m.groups[r.ApproverGroup]; r.ApproverGroup != "" && !ok {
		return elevate.ErrUnknownGroup // as the store's group-use check
	}
	m.requests[r.ID] = r
	return nil
}

func (m *memStore) GetRequest(_ context.Context, id string) (elevate.Request, error) {
	defer m.lock()()
	if m.fail != nil {
		return elevate.Request{}, m.fail
	}
	r, ok := m.requests[id]
	if !ok {
		return elevate.Request{}, elevate.ErrRequestNotFound
	}
	return r, nil
}

func (m *memStore) ListRequests(_ context.Context, q app.RequestQuery) (app.RequestPage, error) {
	defer m.lock()()
	var out []elevate.Request
	for _, r := range m.requests {
		if q.Status != "" && r.EffectiveStatus(q.Now) != q.Status || q.Type != "" && r.Type != q.Type {
			continue
		}
		if q.Index == app.ByRequester && r.Requester != q.Requester || q.Ticket != "" && r.Ticket != q.Ticket {
			continue
		}
		if v := q.VisibleTo; v != nil && r.Requester != v.Principal && !slices.Contains(v.Groups, r.ApproverGroup) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b elevate.Request) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return app.RequestPage{Items: out}, nil
}

func (m *memStore) SaveDecision(_ context.Context, prev, next elevate.Request, _ elevate.Group, linkID string, _ time.Time) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	if m.requests[prev.ID].Version != prev.Version {
		return elevate.ErrConcurrentUpdate
	}
	if linkID != "" {
		if m.links[linkID] {
			return elevate.ErrLinkUsed
		}
		m.links[linkID] = true
	}
	m.requests[next.ID] = next
	return nil
}

func (m *memStore) ReadAuthz(_ context.Context, principal string, t elevate.Target) (app.AuthzRead, error) {
	defer m.lock()()
	if m.fail != nil {
		return app.AuthzRead{}, m.fail
	}
	read := app.AuthzRead{Settings: m.settings}
	if p, ok := m.policies[t.Key()]; ok {
		read.Policy = &p
	}
	for _, r := range m.requests {
		if g, ok := r.Grant(); ok && g.Principal == principal && g.Target.Key() == t.Key() {
			read.Grant = &g
		}
	}
	return read, nil
}

func (m *memStore) RecordRefusal(_ context.Context, ev app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	for _, e := range m.refusals {
		if e.ID == ev.ID {
			return nil
		}
	}
	m.refusals = append(m.refusals, ev)
	return nil
}

func (m *memStore) RecordAuthz(_ context.Context, ev app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	m.authz = append(m.authz, ev)
	return nil
}

// Delegations (F17): the unit tests here never delegate; the delegation
// tests run over DynamoDB Local.
func (m *memStore) PutDelegation(context.Context, elevate.Delegation, app.Event) error {
	defer m.lock()()
	return m.fail
}

func (m *memStore) GetDelegation(context.Context, string) (elevate.Delegation, error) {
	defer m.lock()()
	if m.fail != nil {
		return elevate.Delegation{}, m.fail
	}
	return elevate.Delegation{}, elevate.ErrDelegationNotFound
}

func (m *memStore) ListDelegations(context.Context) ([]elevate.Delegation, error) {
	defer m.lock()()
	return nil, m.fail
}

func (m *memStore) DeleteDelegation(context.Context, string, app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	return elevate.ErrDelegationNotFound
}

// Break-glass holds (issue 16 item 5): the hold tests run over DynamoDB
// Local; here there are none.
func (m *memStore) ListBreakGlassHolds(context.Context, time.Time) ([]elevate.BreakGlassHold, error) {
	defer m.lock()()
	return nil, m.fail
}

func (m *memStore) ClearBreakGlassHold(context.Context, string, app.Event) error {
	defer m.lock()()
	if m.fail != nil {
		return m.fail
	}
	return elevate.ErrNoBreakGlassBlock
}
