package elevate

import (
	"testing"
	"time"
)

func TestAuthorize(t *testing.T) {
	task := Target{Type: TypeTask, Scope: "Exchange", Name: "New-MoveRequest"}
	lockbox := Target{Type: TypeLockbox, Scope: "Exchange", Name: "mailbox-42"}
	live := &Grant{RequestID: "r1", Principal: "alice@example.com", Target: task, ExpiresAt: t0.Add(time.Hour)}
	// The item still exists (TTL lags) but its expiresAt has passed.
	stale := &Grant{RequestID: "r0", Principal: "alice@example.com", Target: task, ExpiresAt: t0.Add(-time.Second)}
	atExpiry := &Grant{RequestID: "r2", Principal: "alice@example.com", Target: task, ExpiresAt: t0}
	foreign := &Grant{RequestID: "r3", Principal: "mallory@example.com", Target: task, ExpiresAt: t0.Add(time.Hour)}
	on := enabledSettings()
	off := enabledSettings()
	off.Enabled = false
	lockboxOff := enabledSettings()
	lockboxOff.Lockbox.Enabled = false

	cases := []struct {
		name      string
		principal string
		target    Target
		settings  Settings
		policy    *Policy
		grant     *Grant
		allowed   bool
		reason    Reason
	}{
		{"access off opens the gate", "alice@example.com", task, off, manualPolicy(), nil, true, ReasonDisabled},
		{"access off beats system account", "svc-backup@example.com", task, off, manualPolicy(), nil, true, ReasonDisabled},
		{"system account", "svc-backup@example.com", task, on, manualPolicy(), nil, true, ReasonSystemAccount},
		{"no policy", "alice@example.com", Target{Type: TypeTask, Scope: "Exchange", Name: "Get-Mailbox"}, on, nil, nil, true, ReasonNoPolicy},
		{"live grant", "alice@example.com", task, on, manualPolicy(), live, true, ReasonGrant},
		{"no grant", "alice@example.com", task, on, manualPolicy(), nil, false, ReasonApprovalRequired},
		{"grant expired but item still stored", "alice@example.com", task, on, manualPolicy(), stale, false, ReasonApprovalRequired},
		{"grant at its expiry instant", "alice@example.com", task, on, manualPolicy(), atExpiry, false, ReasonApprovalRequired},
		{"someone else's grant", "alice@example.com", task, on, manualPolicy(), foreign, false, ReasonApprovalRequired},
		{"lockbox needs approval without any policy", "alice@example.com", lockbox, on, nil, nil, false, ReasonApprovalRequired},
		{"lockbox grant", "alice@example.com", lockbox, on, nil, &Grant{RequestID: "l1", Principal: "alice@example.com", Target: lockbox, ExpiresAt: t0.Add(time.Hour)}, true, ReasonGrant},
		{"lockbox off", "alice@example.com", lockbox, lockboxOff, nil, nil, true, ReasonDisabled},
		{"lockbox ignores the global switch", "alice@example.com", lockbox, func() Settings { s := on; s.Enabled = false; return s }(), nil, nil, false, ReasonApprovalRequired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.settings
			got := Authorize(&AuthzQuestion{Principal: c.principal, Target: c.target, Settings: &s, Policy: c.policy, Grant: c.grant, Now: t0})
			if got.Allowed != c.allowed || got.Reason != c.reason {
				t.Fatalf("got allowed=%v reason=%s, want %v %s", got.Allowed, got.Reason, c.allowed, c.reason)
			}
			if c.reason == ReasonGrant && (got.RequestID != c.grant.RequestID || !got.ExpiresAt.Equal(c.grant.ExpiresAt)) {
				t.Fatalf("grant answer lacks request %q / expiry: %+v", c.grant.RequestID, got)
			}
			if c.reason != ReasonGrant && got.RequestID != "" {
				t.Fatalf("non-grant answer names a request: %+v", got)
			}
		})
	}
}

func BenchmarkAuthorize(b *testing.B) {
	s := enabledSettings()
	s.SystemAccounts = []string{"a@example.com", "b@example.com", "c@example.com", "svc-backup@example.com"}
	task := Target{Type: TypeTask, Scope: "Exchange", Name: "New-MoveRequest"}
	g := &Grant{RequestID: "r1", Principal: "alice@example.com", Target: task, ExpiresAt: t0.Add(time.Hour)}
	q := &AuthzQuestion{Principal: "alice@example.com", Target: task, Settings: &s, Policy: manualPolicy(), Grant: g, Now: t0}
	b.ReportAllocs()
	var ans AuthzAnswer
	for b.Loop() {
		ans = Authorize(q)
	}
	if !ans.Allowed {
		b.Fatal("benchmark question should be allowed")
	}
}

// Issue 16 item 8: a scheduled grant is judged again against the target's
// policy as it is at the start, when the policy changed after the approval
// and before the start: it does not start (policy-changed) if the policy
// now wants approvals it did not get, a shorter grant, or a ticket it lacks.
// A change after the start, or before the approval, leaves it alone.
func TestAuthorizeScheduledGrantAfterPolicyChange(t *testing.T) {
	task := Target{Type: TypeTask, Scope: "Exchange", Name: "New-MoveRequest"}
	approved, start := t0.Add(-48*time.Hour), t0.Add(-time.Hour)
	grant := func(approvals int, ticket bool) *Grant {
		return &Grant{RequestID: "r1", Principal: "alice@example.com", Target: task, StartsAt: start, ExpiresAt: start.Add(4 * time.Hour),
			ApprovedAt: approved, Approvals: approvals, HasTicket: ticket}
	}
	policy := func(changed time.Time, edit func(*Policy)) *Policy {
		p := manualPolicy()
		p.UpdatedAt = changed
		edit(p)
		return p
	}
	auto := func(p *Policy) { p.ApprovalType = ApprovalAuto }
	manual := func(p *Policy) {}
	between := t0.Add(-24 * time.Hour)
	cases := []struct {
		name   string
		policy *Policy
		grant  *Grant
		now    time.Time
		reason Reason
	}{
		{"auto grant, policy still Auto", policy(between, auto), grant(0, false), t0, ReasonGrant},
		{"auto grant, policy switched to Manual before the start", policy(between, manual), grant(0, false), t0, ReasonPolicyChanged},
		{"the same, asked before the start", policy(between, manual), grant(0, false), start.Add(-time.Minute), ReasonPolicyChanged},
		{"auto grant, policy switched to Manual after the start", policy(start.Add(time.Minute), manual), grant(0, false), t0, ReasonGrant},
		{"auto grant, policy Manual since before the approval", policy(approved.Add(-time.Hour), manual), grant(0, false), t0, ReasonGrant},
		{"one approval, policy now wants two", policy(between, func(p *Policy) { p.RequiredApprovals = 2 }), grant(1, false), t0, ReasonPolicyChanged},
		{"two approvals, policy wants two", policy(between, func(p *Policy) { p.RequiredApprovals = 2 }), grant(2, false), t0, ReasonGrant},
		{"maximum lowered below the grant", policy(between, func(p *Policy) { p.MaxDurationHours = 2 }), grant(1, false), t0, ReasonPolicyChanged},
		{"maximum lowered, the grant still fits", policy(between, func(p *Policy) { p.MaxDurationHours = 4 }), grant(1, false), t0, ReasonGrant},
		{"ticket now required, none given", policy(between, func(p *Policy) { p.TicketRequired = true }), grant(1, false), t0, ReasonPolicyChanged},
		{"ticket now required, one given", policy(between, func(p *Policy) { p.TicketRequired = true }), grant(1, true), t0, ReasonGrant},
		{"a grant stored before approvals were kept", policy(between, manual), &Grant{RequestID: "r1", Principal: "alice@example.com", Target: task, StartsAt: start, ExpiresAt: start.Add(4 * time.Hour)}, t0, ReasonGrant},
	}
	s := enabledSettings()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Authorize(&AuthzQuestion{Principal: "alice@example.com", Target: task, Settings: &s, Policy: c.policy, Grant: c.grant, Now: c.now})
			want := c.reason
			if want == ReasonGrant && c.now.Before(start) {
				want = ReasonNotYetActive
			}
			if got.Reason != want || got.Allowed != (want == ReasonGrant) {
				t.Fatalf("got allowed=%v reason=%s, want %s", got.Allowed, got.Reason, want)
			}
			if want == ReasonPolicyChanged && got.RequestID != "r1" {
				t.Fatalf("the refusal does not name the grant's request: %+v", got)
			}
		})
	}
}
