package elevate

import (
	"strings"
	"testing"
	"time"
)

func breakGlassPolicy(t *testing.T, maxHours, ratifyWithin float64) *Policy {
	t.Helper()
	p, err := NewPolicy(PolicyInput{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual",
		BreakGlass: &BreakGlassInput{Enabled: ptr(true), MaxDurationHours: ptr(maxHours), RatifyWithinHours: ptr(ratifyWithin)}}, "admin@example.com", t0)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

const longReason = "the mail cluster is down and nobody answers"

func breakGlassRequest(t *testing.T, p *Policy, duration *float64) Request {
	t.Helper()
	r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: longReason, DurationHours: duration, BreakGlass: true},
		Submission{ID: "bg1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: p, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBreakGlassPolicyRule(t *testing.T) {
	cases := []struct {
		name    string
		in      *BreakGlassInput
		wantErr error
		want    *BreakGlassPolicy
	}{
		{"absent is off", nil, nil, nil},
		{"defaults", &BreakGlassInput{Enabled: ptr(true)}, nil, &BreakGlassPolicy{Enabled: true, MaxDurationHours: 1, RatifyWithinHours: 24}},
		{"four hours is the cap", &BreakGlassInput{Enabled: ptr(true), MaxDurationHours: ptr(4.0)}, nil, &BreakGlassPolicy{Enabled: true, MaxDurationHours: 4, RatifyWithinHours: 24}},
		{"over four hours", &BreakGlassInput{Enabled: ptr(true), MaxDurationHours: ptr(4.5)}, ErrUnprocessable, nil},
		{"zero hours", &BreakGlassInput{Enabled: ptr(true), MaxDurationHours: ptr(0.0)}, ErrUnprocessable, nil},
		{"ratify within over a week", &BreakGlassInput{Enabled: ptr(true), RatifyWithinHours: ptr(169.0)}, ErrUnprocessable, nil},
		{"ratify within zero", &BreakGlassInput{Enabled: ptr(true), RatifyWithinHours: ptr(0.0)}, ErrUnprocessable, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPolicy(PolicyInput{Type: "Task", Scope: "Exchange", Name: "X", ApprovalType: "Manual", BreakGlass: c.in}, "admin@example.com", t0)
			wantErr(t, err, c.wantErr)
			if c.wantErr != nil {
				return
			}
			if (p.BreakGlass == nil) != (c.want == nil) || (c.want != nil && *p.BreakGlass != *c.want) {
				t.Fatalf("breakGlass = %+v, want %+v", p.BreakGlass, c.want)
			}
		})
	}
}

func TestNewBreakGlassRequest(t *testing.T) {
	allowed := breakGlassPolicy(t, 2, 24)
	off := manualPolicy()
	cases := []struct {
		name      string
		in        SubmitInput
		policy    *Policy
		wantErr   error
		wantHours float64
	}{
		{"approved at once, default duration capped by the break-glass maximum", SubmitInput{Reason: longReason}, allowed, nil, 2},
		{"a shorter duration", SubmitInput{Reason: longReason, DurationHours: ptr(0.5)}, allowed, nil, 0.5},
		{"over the break-glass maximum", SubmitInput{Reason: longReason, DurationHours: ptr(3.0)}, allowed, ErrDurationTooLong, 0},
		{"reason under 20 characters", SubmitInput{Reason: "outage"}, allowed, ErrBreakGlassReason, 0},
		// Issue 16 item 6: spaces are not a reason.
		{"twenty spaces", SubmitInput{Reason: strings.Repeat(" ", 20)}, allowed, ErrInvalid, 0},
		{"19 characters padded with white space", SubmitInput{Reason: " outage in eu-west-1 \t\n  " + strings.Repeat(" ", 20)}, allowed, ErrBreakGlassReason, 0},
		{"exactly 20 characters between spaces", SubmitInput{Reason: "  db-primary-is-down!!  "}, allowed, nil, 2},
		{"policy without break-glass", SubmitInput{Reason: longReason}, off, ErrBreakGlassNotAllowed, 0},
		{"no policy", SubmitInput{Reason: longReason}, nil, ErrNoPolicy, 0},
		{"never for Lockbox", SubmitInput{Type: "Lockbox", Name: "mailbox-42", Reason: longReason}, allowed, ErrBreakGlassNotAllowed, 0},
		{"never scheduled", SubmitInput{Reason: longReason, StartAt: ptr(t0.Add(time.Hour).Format(time.RFC3339))}, allowed, ErrBreakGlassScheduled, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Scope, in.BreakGlass = "Exchange", true
			if in.Name == "" {
				in.Name = "New-MoveRequest"
			}
			r, err := NewRequest(in, Submission{ID: "bg1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: c.policy, Now: t0})
			wantErr(t, err, c.wantErr)
			if c.wantErr != nil {
				return
			}
			if r.Status != StatusApproved || !r.BreakGlass || r.Ratification != RatificationPending || r.DurationHours != c.wantHours {
				t.Fatalf("request: status=%s breakGlass=%v ratification=%s hours=%v", r.Status, r.BreakGlass, r.Ratification, r.DurationHours)
			}
			if r.RatifyBy == nil || !r.RatifyBy.Equal(t0.Add(24*time.Hour)) {
				t.Fatalf("ratifyBy = %v", r.RatifyBy)
			}
			if len(r.Decisions) != 1 || r.Decisions[0].By != "alice@example.com" || r.Decisions[0].Decision != DecisionBreakGlass {
				t.Fatalf("decisions: %+v", r.Decisions)
			}
			if g, ok := r.Grant(); !ok || g.Principal != "alice@example.com" || !g.ExpiresAt.Equal(t0.Add(hours(c.wantHours))) {
				t.Fatalf("grant: %+v %v", g, ok)
			}
		})
	}
}

func TestRatification(t *testing.T) {
	bob := Decider{Principal: "bob@example.com", InGroup: true, Via: "ops"}
	alice := Decider{Principal: "alice@example.com", InGroup: true, Via: "ops"}
	dave := Decider{Principal: "dave@example.com"}
	admin := Decider{Principal: "root@example.com", Admin: true}
	r := breakGlassRequest(t, breakGlassPolicy(t, 1, 24), nil)

	for name, c := range map[string]struct {
		d    Decider
		at   time.Time
		want error
	}{
		"requester ratifies own":       {alice, t0.Add(time.Minute), ErrSelfApproval},
		"outsider ratifies":            {dave, t0.Add(time.Minute), ErrNotApprover},
		"after the deadline":           {bob, t0.Add(24 * time.Hour), ErrRatificationMissed},
		"approver during the grant":    {bob, t0.Add(time.Minute), nil},
		"approver after the grant end": {bob, t0.Add(2 * time.Hour), nil},
		"admin":                        {admin, t0.Add(time.Minute), nil},
	} {
		t.Run(name, func(t *testing.T) {
			next, err := r.Ratify(c.d, "ok", c.at)
			wantErr(t, err, c.want)
			if c.want != nil {
				return
			}
			v := next.View(c.at.Add(48 * time.Hour))
			if v.Ratification != RatificationRatified || next.Version != r.Version+1 || next.Decisions[1].Decision != DecisionRatify || next.Decisions[1].Via != c.d.Via {
				t.Fatalf("ratified: %+v", next)
			}
		})
	}
	ratified, err := r.Ratify(bob, "", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ratified.Ratify(admin, "", t0.Add(2*time.Minute)); !errorsIs(err, ErrNotRatifiable) {
		t.Fatalf("ratify twice: %v", err)
	}
	if _, err := pendingRequest(t, 1).Ratify(bob, "", t0); !errorsIs(err, ErrNotBreakGlass) {
		t.Fatalf("ratify a normal request: %v", err)
	}
	revoked, err := r.Revoke(bob, "not an outage", t0.Add(time.Minute))
	if err != nil || revoked.Ratification != RatificationRevoked {
		t.Fatalf("approver revokes: %+v %v", revoked, err)
	}
	if _, err := revoked.Ratify(admin, "", t0.Add(2*time.Minute)); !errorsIs(err, ErrNotRatifiable) {
		t.Fatalf("ratify a revoked grant: %v", err)
	}
	// The requester giving the grant up does not answer the ratification.
	givenUp, err := r.Revoke(alice, "done", t0.Add(time.Minute))
	if err != nil || givenUp.Ratification != RatificationPending {
		t.Fatalf("requester gives up: %+v %v", givenUp, err)
	}
	if _, err := givenUp.Ratify(bob, "", t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("ratify a given-up grant: %v", err)
	}
}

// A missed ratification is decided at read time: the grant ends at the
// deadline when that comes first, and the request reads as missed (and as
// revoked if its grant was cut short).
func TestMissedRatificationAtReadTime(t *testing.T) {
	short := breakGlassRequest(t, breakGlassPolicy(t, 2, 0.5), nil) // deadline before the grant's end
	if !short.IsActive(t0.Add(29*time.Minute)) || short.IsActive(t0.Add(30*time.Minute)) {
		t.Fatal("the grant does not end at the ratification deadline")
	}
	if g, ok := short.Grant(); !ok || !g.ExpiresAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("grant slot expiry = %v, want the deadline", g.ExpiresAt)
	}
	v := short.View(t0.Add(31 * time.Minute))
	if v.Ratification != RatificationMissed || v.Status != StatusRevoked || v.Active {
		t.Fatalf("after the deadline: %s %s active=%v", v.Ratification, v.Status, v.Active)
	}
	if v := short.View(t0.Add(10 * time.Minute)); v.Ratification != RatificationPending || v.Status != StatusApproved || !v.Active {
		t.Fatalf("before the deadline: %s %s active=%v", v.Ratification, v.Status, v.Active)
	}
	// Ratified in time, the grant runs its full length.
	ok, err := short.Ratify(Decider{Principal: "bob@example.com", InGroup: true}, "", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !ok.IsActive(t0.Add(time.Hour)) || ok.View(t0.Add(time.Hour)).Ratification != RatificationRatified {
		t.Fatal("a ratified grant still ends at the deadline")
	}
	// A grant that ended before the deadline is not revoked by missing it.
	long := breakGlassRequest(t, breakGlassPolicy(t, 1, 24), nil)
	if v := long.View(t0.Add(25 * time.Hour)); v.Ratification != RatificationMissed || v.Status != StatusApproved || v.Active {
		t.Fatalf("missed after the grant ended: %s %s active=%v", v.Ratification, v.Status, v.Active)
	}
}
