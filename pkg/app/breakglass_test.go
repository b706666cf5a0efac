package app_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

const emergency = "mail cluster down at 3 a.m., nobody answers"

// newBreakGlassService adds break-glass to the Exchange policy.
func newBreakGlassService(t *testing.T, ratifyWithin float64) *app.Service {
	t.Helper()
	svc := newService(t, 1)
	must(t, func() error {
		_, err := svc.UpdatePolicy(ctx, admin, "task:exchange:new-moverequest", elevate.PolicyInput{ApprovalType: "Manual",
			BreakGlass: &elevate.BreakGlassInput{Enabled: ptr(true), MaxDurationHours: ptr(1.0), RatifyWithinHours: ptr(ratifyWithin)}})
		return err
	})
	return svc
}

func breakGlass(t *testing.T, svc *app.Service, c app.Caller) elevate.Request {
	t.Helper()
	r, err := svc.SubmitRequest(ctx, c, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: emergency, BreakGlass: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBreakGlassOverTheStore(t *testing.T) {
	svc := newBreakGlassService(t, 24)
	r := breakGlass(t, svc, alice)
	if r.Status != elevate.StatusApproved || !r.Active || !r.BreakGlass || r.Ratification != elevate.RatificationPending {
		t.Fatalf("break-glass request: %+v", r)
	}
	res, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
	if err != nil || !res.Allowed || res.RequestID != r.ID {
		t.Fatalf("authorize: %+v %v", res, err)
	}
	// The policy's own approvers only: a second unratified grant is refused.
	if _, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: emergency, BreakGlass: true}); !errors.Is(err, elevate.ErrOpenRequest) && !errors.Is(err, elevate.ErrBreakGlassOpen) {
		t.Fatalf("second break-glass: %v", err)
	}
	if _, err := svc.RatifyRequest(ctx, alice, r.ID, "mine"); !errors.Is(err, elevate.ErrSelfApproval) {
		t.Fatalf("self-ratification: %v", err)
	}
	if _, err := svc.RatifyRequest(ctx, dave, r.ID, ""); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("outsider ratifies: %v", err)
	}
	got, err := svc.RatifyRequest(ctx, bob, r.ID, "confirmed outage")
	if err != nil || got.Ratification != elevate.RatificationRatified || !got.Active {
		t.Fatalf("ratify: %+v %v", got, err)
	}
	if _, err := svc.RatifyRequest(ctx, carol, r.ID, ""); !errors.Is(err, elevate.ErrNotRatifiable) {
		t.Fatalf("ratify twice: %v", err)
	}
	for _, q := range []struct {
		rat  elevate.Ratification
		want int
	}{{elevate.RatificationRatified, 1}, {elevate.RatificationPending, 0}, {elevate.RatificationMissed, 0}} {
		page, err := svc.ListRequests(ctx, admin, app.ListFilter{BreakGlass: ptr(true), Ratification: q.rat})
		if err != nil || len(page.Items) != q.want {
			t.Errorf("list ratification=%s: %d items, %v", q.rat, len(page.Items), err)
		}
	}
}

// The second break-glass attempt, on another target so the grant slot is
// free, is refused by the one-unratified-grant rule and audited.
func TestOneUnratifiedBreakGlassGrant(t *testing.T) {
	svc := newBreakGlassService(t, 24)
	must(t, func() error {
		_, err := svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "Set-Mailbox", ApprovalType: "Manual",
			BreakGlass: &elevate.BreakGlassInput{Enabled: ptr(true)}})
		return err
	})
	first := breakGlass(t, svc, alice)
	second := elevate.SubmitInput{Scope: "Exchange", Name: "Set-Mailbox", Reason: emergency, BreakGlass: true}
	if _, err := svc.SubmitRequest(ctx, alice, second); !errors.Is(err, elevate.ErrBreakGlassOpen) {
		t.Fatalf("second unratified break-glass: %v", err)
	}
	// Bob may have his own.
	if _, err := svc.SubmitRequest(ctx, bob, second); err != nil {
		t.Fatalf("another principal's break-glass: %v", err)
	}
	// Once the first is ratified, alice may break the glass again.
	if _, err := svc.RatifyRequest(ctx, carol, first.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SubmitRequest(ctx, alice, second); err != nil {
		t.Fatalf("break-glass after ratification: %v", err)
	}
}

// A missed deadline is decided at read time: the grant ends, the request
// reads as missed and revoked, ratification is refused, and the principal
// is blocked from break-glass until an admin clears it.
func TestMissedRatificationAtReadTime(t *testing.T) {
	svc := newBreakGlassService(t, 1.0/60) // one minute, shorter than the 1 h grant
	clock := &fakeClock{now: elevate.SystemClock()}
	svc.Clock = clock.Now
	r := breakGlass(t, svc, alice)
	clock.advance(61)
	got, err := svc.GetRequest(ctx, alice, r.ID)
	if err != nil || got.Ratification != elevate.RatificationMissed || got.Status != elevate.StatusRevoked || got.Active {
		t.Fatalf("after the deadline: %+v %v", got, err)
	}
	if res, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"}); err != nil || res.Allowed {
		t.Fatalf("after a missed ratification: %+v %v", res, err)
	}
	if _, err := svc.RatifyRequest(ctx, bob, r.ID, ""); !errors.Is(err, elevate.ErrRatificationMissed) {
		t.Fatalf("late ratification: %v", err)
	}
	for filter, want := range map[app.ListFilter]int{
		{BreakGlass: ptr(true), Ratification: elevate.RatificationMissed}: 1,
		{Ratification: elevate.RatificationPending}:                       0,
		{Status: elevate.StatusRevoked}:                                   1,
		{Status: elevate.StatusApproved}:                                  0,
		{BreakGlass: ptr(false)}:                                          0,
	} {
		page, err := svc.ListRequests(ctx, admin, filter)
		if err != nil || len(page.Items) != want {
			t.Errorf("list %+v: %d items, %v; want %d", filter, len(page.Items), err, want)
		}
	}
	// Issue 16 item 5: a missed deadline blocks the principal until an
	// admin clears it; then they may break the glass again.
	if _, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: emergency, BreakGlass: true}); !errors.Is(err, elevate.ErrBreakGlassBlocked) {
		t.Fatalf("break-glass after a missed deadline: %v, want break-glass-blocked", err)
	}
	holds, err := svc.ListBreakGlassHolds(ctx, admin)
	if err != nil || len(holds) != 1 || holds[0].Principal != alice.Principal || holds[0].State != elevate.HoldBlocked || holds[0].Reason != elevate.HoldReasonMissed {
		t.Fatalf("holds after a missed deadline: %+v %v", holds, err)
	}
	must(t, func() error { return svc.ClearBreakGlassHold(ctx, admin, alice.Principal) })
	again := breakGlass(t, svc, alice)
	if again.ID == r.ID || !again.Active {
		t.Fatalf("break-glass after the block was cleared: %+v", again)
	}
}

// Issue 16 item 5: only a ratification frees a principal's break-glass.
// After a revocation, by an approver or by themselves, they are blocked
// until an admin clears it; admins list the holds; clearing is admin-only
// and happens once.
func TestBreakGlassBlockedAfterRevocationUntilAdminClears(t *testing.T) {
	svc := newBreakGlassService(t, 24)
	submit := func(c app.Caller) error {
		_, err := svc.SubmitRequest(ctx, c, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: emergency, BreakGlass: true})
		return err
	}
	r := breakGlass(t, svc, alice)
	holds, err := svc.ListBreakGlassHolds(ctx, admin)
	if err != nil || len(holds) != 1 || holds[0].RequestID != r.ID || holds[0].State != elevate.HoldAwaitingRatification {
		t.Fatalf("holds while awaiting ratification: %+v %v", holds, err)
	}
	if _, err := svc.Decide(ctx, bob, r.ID, app.Revoke, "not an emergency"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := submit(alice); !errors.Is(err, elevate.ErrBreakGlassBlocked) {
			t.Fatalf("break-glass after an approver's revocation (try %d): %v, want break-glass-blocked", i, err)
		}
	}
	if holds, err = svc.ListBreakGlassHolds(ctx, admin); err != nil || len(holds) != 1 || holds[0].State != elevate.HoldBlocked || holds[0].Reason != elevate.HoldReasonRevoked {
		t.Fatalf("holds after the revocation: %+v %v", holds, err)
	}
	if _, err := svc.ListBreakGlassHolds(ctx, bob); !errors.Is(err, app.ErrAdminOnly) {
		t.Fatalf("a non-admin lists holds: %v", err)
	}
	if err := svc.ClearBreakGlassHold(ctx, alice, alice.Principal); !errors.Is(err, app.ErrAdminOnly) {
		t.Fatalf("the blocked principal clears their own block: %v", err)
	}
	must(t, func() error { return svc.ClearBreakGlassHold(ctx, admin, alice.Principal) })
	if err := svc.ClearBreakGlassHold(ctx, admin, alice.Principal); !errors.Is(err, elevate.ErrNoBreakGlassBlock) {
		t.Fatalf("clearing twice: %v", err)
	}
	if holds, err = svc.ListBreakGlassHolds(ctx, admin); err != nil || len(holds) != 0 {
		t.Fatalf("holds after clearing: %+v %v", holds, err)
	}
	// Revoking one's own unratified grant does not free one either.
	own := breakGlass(t, svc, alice)
	if _, err := svc.Decide(ctx, alice, own.ID, app.Revoke, "done early"); err != nil {
		t.Fatal(err)
	}
	// (Its claim stands until the deadline: refused as still open.)
	if err := submit(alice); !errors.Is(err, elevate.ErrBreakGlassBlocked) && !errors.Is(err, elevate.ErrBreakGlassOpen) {
		t.Fatalf("break-glass after revoking one's own: %v, want it refused", err)
	}
	if holds, err = svc.ListBreakGlassHolds(ctx, admin); err != nil || len(holds) != 1 || holds[0].RequestID != own.ID {
		t.Fatalf("holds after revoking one's own: %+v %v", holds, err)
	}
}

// Twenty approvers ratify or revoke one break-glass grant at once: exactly
// one call wins and one outcome is stored.
func TestRatifyRevokeRaceOneOutcome(t *testing.T) {
	svc := newBreakGlassService(t, 24)
	var members []string
	for i := range 20 {
		members = append(members, "approver"+string(rune('a'+i))+"@example.com")
	}
	for _, m := range members {
		if _, err := svc.AddGroupMember(ctx, admin, "ops", m); err != nil {
			t.Fatal(err)
		}
	}
	r := breakGlass(t, svc, alice)
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, m := range members {
		wg.Go(func() {
			<-start
			kind := app.Ratify
			if i%2 == 1 {
				kind = app.Revoke
			}
			_, errs[i] = svc.Decide(ctx, app.Caller{Principal: m}, r.ID, kind, "race")
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, elevate.ErrConflict):
			t.Errorf("call %d: %v", i, err)
		}
	}
	// One call settles the ratification. A revoke that reads the request
	// after a ratify has committed is an ordinary revoke of a live grant,
	// and may win too; nothing can follow a revoke.
	got, err := svc.GetRequest(ctx, admin, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var outcome []elevate.DecisionKind
	for _, d := range got.Decisions[1:] {
		outcome = append(outcome, d.Decision)
	}
	if wins != len(outcome) {
		t.Fatalf("%d winners but %d decisions stored after the break-glass: %+v", wins, len(outcome), got)
	}
	switch {
	case slices.Equal(outcome, []elevate.DecisionKind{elevate.DecisionRatify}):
		if got.Ratification != elevate.RatificationRatified || !got.Active {
			t.Fatalf("ratified: %+v", got)
		}
	case slices.Equal(outcome, []elevate.DecisionKind{elevate.DecisionRevoke}),
		slices.Equal(outcome, []elevate.DecisionKind{elevate.DecisionRatify, elevate.DecisionRevoke}):
		want := elevate.RatificationRevoked
		if len(outcome) == 2 {
			want = elevate.RatificationRatified
		}
		if got.Ratification != want || got.Active || got.Status != elevate.StatusRevoked {
			t.Fatalf("revoked after %v: %+v", outcome, got)
		}
	default:
		t.Fatalf("outcome %v", outcome)
	}
}

// Members of the Elevate group named like the admin group got the alert and
// may ratify from their link; other admins may ratify through the API.
func TestAlertGroupMayRatify(t *testing.T) {
	svc := newBreakGlassService(t, 24)
	must(t, func() error {
		_, err := svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: svc.AlertGroup(), Members: []string{dave.Principal}})
		return err
	})
	r := breakGlass(t, svc, alice)
	link := app.LinkClaims{ID: "l-dave", RequestID: r.ID, Approver: dave.Principal}
	if _, err := svc.LinkRequest(ctx, link); err != nil {
		t.Fatalf("alert group member reads the link: %v", err)
	}
	if _, err := svc.DecideByLink(ctx, link, app.Approve, ""); !errors.Is(err, app.ErrLinkDead) {
		t.Fatalf("approve from a break-glass link: %v", err)
	}
	got, err := svc.DecideByLink(ctx, app.LinkClaims{ID: "l-dave-2", RequestID: r.ID, Approver: dave.Principal}, app.Ratify, "seen")
	if err != nil || got.Ratification != elevate.RatificationRatified || got.Decisions[1].Via != svc.AlertGroup() {
		t.Fatalf("alert group member ratifies by link: %+v %v", got, err)
	}
	if _, err := svc.DecideByLink(ctx, app.LinkClaims{ID: "l-dave-2", RequestID: r.ID, Approver: dave.Principal}, app.Revoke, ""); !errors.Is(err, elevate.ErrLinkUsed) {
		t.Fatalf("replayed link: %v", err)
	}
}

// fakeClock lets a test move time on without waiting; the store's conditions
// use the instants the service passes, so they follow it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(seconds int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Duration(seconds) * time.Second)
}
