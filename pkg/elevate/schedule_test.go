package elevate

import (
	"testing"
	"time"
)

func at(d time.Duration) *string { s := t0.Add(d).Format(time.RFC3339); return &s }

func TestScheduledStart(t *testing.T) {
	auto := *manualPolicy()
	auto.ApprovalType = ApprovalAuto
	shortAhead := enabledSettings()
	shortAhead.MaxScheduleAheadHours = 2
	cases := []struct {
		name        string
		start       *string
		hours       float64
		settings    Settings
		policy      *Policy
		wantErr     error
		wantPending time.Time // pending expiry
		wantStatus  Status
		wantGrant   [2]time.Time
	}{
		{name: "pending expires at the normal expiry when the window ends later", start: at(10 * time.Hour), hours: 20, policy: manualPolicy(),
			wantStatus: StatusPending, wantPending: t0.Add(24 * time.Hour)},
		{name: "pending expires at the window's end when that is earlier", start: at(2 * time.Hour), hours: 1, policy: manualPolicy(),
			wantStatus: StatusPending, wantPending: t0.Add(3 * time.Hour)},
		{name: "auto: approved at once, live only on the window", start: at(5 * time.Hour), hours: 2, policy: &auto,
			wantStatus: StatusApproved, wantGrant: [2]time.Time{t0.Add(5 * time.Hour), t0.Add(7 * time.Hour)}},
		{name: "in the past", start: at(-time.Minute), hours: 1, policy: manualPolicy(), wantErr: ErrStartInPast},
		{name: "now is not ahead", start: at(0), hours: 1, policy: manualPolicy(), wantErr: ErrStartInPast},
		{name: "past the default 14 days", start: at(14*24*time.Hour + time.Minute), hours: 1, policy: manualPolicy(), wantErr: ErrStartTooFar},
		{name: "exactly 14 days", start: at(14 * 24 * time.Hour), hours: 1, policy: manualPolicy(), wantStatus: StatusPending, wantPending: t0.Add(24 * time.Hour)},
		{name: "past the configured limit", start: at(3 * time.Hour), hours: 1, settings: shortAhead, policy: manualPolicy(), wantErr: ErrStartTooFar},
		{name: "not RFC 3339", start: ptr("tomorrow"), hours: 1, policy: manualPolicy(), wantErr: ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.settings
			if s.MaxPolicies == 0 {
				s = enabledSettings()
			}
			r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(c.hours), StartAt: c.start},
				Submission{ID: "r1", Requester: "alice@example.com", Settings: s, Policy: c.policy, Now: t0})
			wantErr(t, err, c.wantErr)
			if err != nil {
				return
			}
			if r.Status != c.wantStatus {
				t.Fatalf("status %s, want %s", r.Status, c.wantStatus)
			}
			if c.wantStatus == StatusPending && !r.ExpiresAt.Equal(c.wantPending) {
				t.Fatalf("pending expiry %s, want %s", r.ExpiresAt, c.wantPending)
			}
			if c.wantStatus == StatusApproved {
				g, ok := r.Grant()
				if !ok || !g.StartsAt.Equal(c.wantGrant[0]) || !g.ExpiresAt.Equal(c.wantGrant[1]) {
					t.Fatalf("grant %s..%s, want %s..%s", g.StartsAt, g.ExpiresAt, c.wantGrant[0], c.wantGrant[1])
				}
				if r.View(t0).Active || !r.View(t0.Add(5*time.Hour)).Active || r.View(t0.Add(7*time.Hour)).Active {
					t.Fatal("active must be true exactly on the window")
				}
			}
		})
	}
}

// The window does not slide: approval before the start grants the whole
// window, approval inside it grants the rest, never more.
func TestScheduledWindowDoesNotSlide(t *testing.T) {
	for _, c := range []struct {
		name             string
		approveAt        time.Duration
		wantStart, wantE time.Duration
		wantErr          error
	}{
		{"approved before the start", time.Hour, 4 * time.Hour, 6 * time.Hour, nil},
		{"approved inside the window", 5 * time.Hour, 5 * time.Hour, 6 * time.Hour, nil},
		{"approved after the window: expired", 6 * time.Hour, 0, 0, ErrRequestExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(2.0), StartAt: at(4 * time.Hour)},
				Submission{ID: "r1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: manualPolicy(), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Approve(Decider{Principal: "bob@example.com", InGroup: true}, "", t0.Add(c.approveAt))
			wantErr(t, err, c.wantErr)
			if err != nil {
				return
			}
			if !got.GrantStartsAt.Equal(t0.Add(c.wantStart)) || !got.GrantExpiresAt.Equal(t0.Add(c.wantE)) {
				t.Fatalf("grant %s..%s", got.GrantStartsAt, got.GrantExpiresAt)
			}
		})
	}
}

func TestAuthorizeScheduledGrant(t *testing.T) {
	s := enabledSettings()
	g := &Grant{RequestID: "r1", Principal: "alice@example.com", Target: manualPolicy().Target(), StartsAt: t0.Add(time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}
	for _, c := range []struct {
		now        time.Duration
		allowed    bool
		reason     Reason
		activeFrom time.Time
	}{
		{0, false, ReasonNotYetActive, t0.Add(time.Hour)},
		{time.Hour, true, ReasonGrant, time.Time{}},
		{3 * time.Hour, false, ReasonApprovalRequired, time.Time{}},
	} {
		a := Authorize(&AuthzQuestion{Principal: "alice@example.com", Target: g.Target, Settings: &s, Policy: manualPolicy(), Grant: g, Now: t0.Add(c.now)})
		if a.Allowed != c.allowed || a.Reason != c.reason || !a.ActiveFrom.Equal(c.activeFrom) {
			t.Errorf("at +%s: %+v", c.now, a)
		}
	}
}

func TestScheduledGrantCanBeRevokedBeforeItStarts(t *testing.T) {
	auto := *manualPolicy()
	auto.ApprovalType = ApprovalAuto
	r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(1.0), StartAt: at(2 * time.Hour)},
		Submission{ID: "r1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: &auto, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Revoke(Decider{Principal: "alice@example.com"}, "", t0.Add(time.Minute))
	wantErr(t, err, nil)
	if got.Status != StatusRevoked {
		t.Fatalf("status %s", got.Status)
	}
}
