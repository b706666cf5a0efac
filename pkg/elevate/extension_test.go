package elevate

import (
	"testing"
	"time"
)

// granted is alice's request approved by bob at t0: live t0..t0+4h.
func granted(t *testing.T, maxHours float64) (Request, *Policy) {
	t.Helper()
	p := manualPolicy()
	p.MaxDurationHours = maxHours
	r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", Ticket: "CHG-1"},
		Submission{ID: "orig", Requester: "alice@example.com", Settings: enabledSettings(), Policy: p, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = r.Approve(Decider{Principal: "bob@example.com", InGroup: true}, "", t0); err != nil {
		t.Fatal(err)
	}
	return r, p
}

func TestNewExtension(t *testing.T) {
	orig, _ := granted(t, 0)
	revoked, err := orig.Revoke(Decider{Principal: "alice@example.com"}, "", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	auto := *manualPolicy()
	auto.ApprovalType = ApprovalAuto
	capped := *manualPolicy()
	capped.MaxDurationHours = 5
	atCap := *manualPolicy()
	atCap.MaxDurationHours = 4
	pendingExt := Request{ID: "e0", Extends: "orig", Status: StatusPending, ExpiresAt: t0.Add(4 * time.Hour)}
	lapsedExt := Request{ID: "e0", Extends: "orig", Status: StatusPending, ExpiresAt: t0.Add(time.Hour)}
	cases := []struct {
		name      string
		orig      Request
		who       string
		hours     float64
		policy    *Policy
		pending   *Request
		now       time.Duration
		wantErr   error
		wantStat  Status
		wantEnd   time.Time // extension's grant end once approved
		wantUntil time.Time // pending extension's expiry
	}{
		{name: "manual: pending until the grant ends, grant runs on", orig: orig, who: "alice@example.com", hours: 2, policy: manualPolicy(), now: time.Hour,
			wantStat: StatusPending, wantUntil: t0.Add(4 * time.Hour), wantEnd: t0.Add(6 * time.Hour)},
		{name: "auto: extended at once", orig: orig, who: "alice@example.com", hours: 2, policy: &auto, now: time.Hour, wantStat: StatusApproved, wantEnd: t0.Add(6 * time.Hour)},
		{name: "capped by the policy max from the original start", orig: orig, who: "alice@example.com", hours: 3, policy: &capped, now: time.Hour,
			wantStat: StatusPending, wantUntil: t0.Add(4 * time.Hour), wantEnd: t0.Add(5 * time.Hour)},
		{name: "already at the policy max", orig: orig, who: "alice@example.com", hours: 1, policy: &atCap, now: time.Hour, wantErr: ErrUnprocessable},
		{name: "over the policy max on its own", orig: orig, who: "alice@example.com", hours: 6, policy: &capped, now: time.Hour, wantErr: ErrDurationTooLong},
		{name: "not the requester", orig: orig, who: "bob@example.com", hours: 1, policy: manualPolicy(), now: time.Hour, wantErr: ErrForbidden},
		{name: "after the grant ended", orig: orig, who: "alice@example.com", hours: 1, policy: manualPolicy(), now: 4 * time.Hour, wantErr: ErrExtendEnded},
		{name: "after revocation", orig: revoked, who: "alice@example.com", hours: 1, policy: manualPolicy(), now: 2 * time.Hour, wantErr: ErrExtendEnded},
		{name: "one pending extension per grant", orig: orig, who: "alice@example.com", hours: 1, policy: manualPolicy(), pending: &pendingExt, now: time.Hour, wantErr: ErrExtensionPending},
		{name: "a lapsed pending extension does not block", orig: orig, who: "alice@example.com", hours: 1, policy: manualPolicy(), pending: &lapsedExt, now: 2 * time.Hour,
			wantStat: StatusPending, wantUntil: t0.Add(4 * time.Hour), wantEnd: t0.Add(5 * time.Hour)},
		{name: "target no longer has a policy", orig: orig, who: "alice@example.com", hours: 1, now: time.Hour, wantErr: ErrNoPolicy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := t0.Add(c.now)
			ext, next, err := NewExtension(c.orig, ExtendInput{DurationHours: ptr(c.hours), Reason: "more"},
				ExtensionSubmission{Pending: c.pending, Submission: Submission{ID: "e1", Requester: c.who, Settings: enabledSettings(), Policy: c.policy, Now: now}})
			wantErr(t, err, c.wantErr)
			if err != nil {
				return
			}
			if ext.Extends != "orig" || ext.Ticket != "CHG-1" || ext.Status != c.wantStat || ext.View(now).Active {
				t.Fatalf("extension %+v", ext)
			}
			if c.wantStat == StatusApproved {
				if !next.GrantExpiresAt.Equal(c.wantEnd) || next.PendingExtension != "" || len(next.Extensions) != 1 {
					t.Fatalf("original after auto extension: %+v", next)
				}
				return
			}
			if !ext.ExpiresAt.Equal(c.wantUntil) || next.PendingExtension != "e1" || !next.GrantExpiresAt.Equal(t0.Add(4*time.Hour)) || next.Version != c.orig.Version+1 {
				t.Fatalf("pending extension %s, original %+v", ext.ExpiresAt, next)
			}
			approved, err := ext.Approve(Decider{Principal: "carol@example.com", InGroup: true}, "", now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			moved, err := next.ExtendedBy(approved, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if !moved.GrantExpiresAt.Equal(c.wantEnd) || !moved.IsActive(t0.Add(4*time.Hour)) {
				t.Fatalf("grant end %s, want %s", moved.GrantExpiresAt, c.wantEnd)
			}
			// Once the original is revoked, the extension cannot move it.
			gone, err := next.Revoke(Decider{Principal: "alice@example.com"}, "", now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gone.ExtendedBy(approved, now.Add(2*time.Minute)); !errorsIs(err, ErrOriginalNotActive) {
				t.Fatalf("extending a revoked original: %v", err)
			}
			if ended, ok := ext.RevokedWithOriginal("alice@example.com", now.Add(time.Minute)); !ok || ended.Status != StatusRevoked {
				t.Fatalf("pending extension after revocation: %+v", ended)
			}
		})
	}
}
