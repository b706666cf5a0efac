package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

var erin = app.Caller{Principal: "erin@example.com"}

func delegate(t *testing.T, svc *app.Service, c app.Caller, principal, to string, from, until time.Time) {
	t.Helper()
	if _, err := svc.PutDelegation(ctx, c, principal, elevate.DelegationInput{Delegate: to, From: from, Until: until}); err != nil {
		t.Fatal(err)
	}
}

// A delegate approves inside the window, for the member, and is refused
// before and after it; both names are recorded.
func TestDelegateDecidesInsideTheWindowOnly(t *testing.T) {
	svc := newService(t, 1)
	clock := &fakeClock{now: elevate.SystemClock()}
	svc.Clock = clock.Now
	start := clock.Now()
	delegate(t, svc, bob, app.SelfPrincipal, dave.Principal, start.Add(time.Hour), start.Add(2*time.Hour))

	r := submit(t, svc, alice)
	if _, err := svc.Decide(ctx, dave, r.ID, app.Approve, "early"); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("before the window: %v", err)
	}
	if _, err := svc.GetRequest(ctx, dave, r.ID); !errors.Is(err, elevate.ErrNotFound) {
		t.Fatalf("dave sees the request before the window: %v", err)
	}
	clock.advance(90 * 60)
	// Inside the window the delegate sees what he may decide.
	if _, err := svc.GetRequest(ctx, dave, r.ID); err != nil {
		t.Fatalf("dave cannot see the request inside the window: %v", err)
	}
	if page, err := svc.ListRequests(ctx, dave, app.ListFilter{Status: elevate.StatusPending}); err != nil || len(page.Items) != 1 || page.Items[0].ID != r.ID {
		t.Fatalf("dave's pending list inside the window: %+v %v", page.Items, err)
	}
	got, err := svc.Decide(ctx, dave, r.ID, app.Approve, "covering for bob")
	if err != nil || got.Status != elevate.StatusApproved {
		t.Fatalf("inside the window: %+v %v", got, err)
	}
	if d := got.Decisions[0]; d.By != dave.Principal || d.OnBehalfOf != bob.Principal || d.Via != "ops" {
		t.Fatalf("decision %+v, want by dave on behalf of bob via ops", d)
	}
	if _, err := svc.Decide(ctx, dave, r.ID, app.Revoke, "done"); err != nil {
		t.Fatalf("the delegate revokes: %v", err)
	}
	clock.advance(31 * 60) // past until
	r2 := submit(t, svc, alice)
	if _, err := svc.Decide(ctx, dave, r2.ID, app.Approve, "late"); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("after the window: %v", err)
	}
	if got, err := svc.GetRequest(ctx, admin, r2.ID); err != nil || got.Status != elevate.StatusPending {
		t.Fatalf("a refused delegate changed the request: %s %v", got.Status, err)
	}
}

func TestDelegationRules(t *testing.T) {
	svc := newService(t, 2)
	now := svc.Clock()
	delegate(t, svc, bob, bob.Principal, dave.Principal, now, now.Add(24*time.Hour))
	// dave approves for another group only; he hands that on to erin.
	must(t, func() error {
		_, err := svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: "other", Members: []string{dave.Principal}})
		return err
	})
	delegate(t, svc, dave, app.SelfPrincipal, erin.Principal, now, now.Add(24*time.Hour))

	r := submit(t, svc, alice)
	if _, err := svc.Decide(ctx, erin, r.ID, app.Approve, ""); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("a delegate's delegate (not transitive): %v", err)
	}
	if _, err := svc.Decide(ctx, bob, r.ID, app.Approve, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, dave, r.ID, app.Approve, ""); !errors.Is(err, elevate.ErrAlreadyDecided) {
		t.Fatalf("the delegate approves again for bob under 2 of 2: %v", err)
	}
	// Never the delegate's own request, nor the request of the member they
	// stand in for.
	own, err := svc.SubmitRequest(ctx, dave, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, dave, own.ID, app.Approve, ""); !errors.Is(err, elevate.ErrSelfApproval) {
		t.Fatalf("the delegate approves their own request: %v", err)
	}
	bobs := submit(t, svc, bob)
	if _, err := svc.Decide(ctx, dave, bobs.ID, app.Approve, ""); !errors.Is(err, elevate.ErrForbidden) {
		t.Fatalf("the delegate approves bob's own request: %v", err)
	}
	// Removing bob from the group ends his delegation's effect.
	r2 := submit(t, svc, carol)
	if _, err := svc.RemoveGroupMember(ctx, admin, "ops", bob.Principal); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, dave, r2.ID, app.Approve, ""); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("the delegate of a removed approver: %v", err)
	}

	// Refusals.
	for name, c := range map[string]struct {
		caller    app.Caller
		principal string
		in        elevate.DelegationInput
		want      error
	}{
		"to yourself":           {bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: bob.Principal, From: now, Until: now.Add(time.Hour)}, elevate.ErrDelegateSelf},
		"over 30 days":          {bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: dave.Principal, From: now, Until: now.Add(31 * 24 * time.Hour)}, elevate.ErrDelegationTooLong},
		"until before from":     {bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: dave.Principal, From: now.Add(time.Hour), Until: now}, elevate.ErrDelegationWindow},
		"for someone else":      {carol, bob.Principal, elevate.DelegationInput{Delegate: carol.Principal, From: now, Until: now.Add(time.Hour)}, elevate.ErrDelegateOthers},
		"remove someone else's": {carol, bob.Principal, elevate.DelegationInput{}, elevate.ErrDelegateOthers},
		// Issue 16 item 7: only approvals one holds can be handed over.
		"by a member of no group":          {erin, app.SelfPrincipal, elevate.DelegationInput{Delegate: carol.Principal, From: now, Until: now.Add(time.Hour)}, elevate.ErrDelegatorNotApprover},
		"for a group one is not in":        {carol, app.SelfPrincipal, elevate.DelegationInput{Delegate: dave.Principal, From: now, Until: now.Add(time.Hour), Groups: []string{"other"}}, elevate.ErrDelegatorNotApprover},
		"by an admin for a member of none": {admin, "zed@example.com", elevate.DelegationInput{Delegate: carol.Principal, From: now, Until: now.Add(time.Hour)}, elevate.ErrDelegatorNotApprover},
		"for a group that does not exist":  {carol, app.SelfPrincipal, elevate.DelegationInput{Delegate: dave.Principal, From: now, Until: now.Add(time.Hour), Groups: []string{"ops", "ghosts"}}, elevate.ErrDelegatorNotApprover},
	} {
		var err error
		if name == "remove someone else's" {
			err = svc.DeleteDelegation(ctx, c.caller, c.principal)
		} else {
			_, err = svc.PutDelegation(ctx, c.caller, c.principal, c.in)
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// An admin may delegate for anyone; people see what they gave or hold.
	delegate(t, svc, admin, carol.Principal, erin.Principal, now, now.Add(time.Hour))
	mine, err := svc.ListDelegations(ctx, erin)
	if err != nil || len(mine) != 2 {
		t.Fatalf("erin's delegations: %+v %v", mine, err)
	}
	all, err := svc.ListDelegations(ctx, admin)
	if err != nil || len(all) != 3 {
		t.Fatalf("all delegations: %+v %v", all, err)
	}
	if err := svc.DeleteDelegation(ctx, bob, app.SelfPrincipal); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteDelegation(ctx, bob, app.SelfPrincipal); !errors.Is(err, elevate.ErrDelegationNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// Issue 16 item 7: every decision by a non-member, every listing and every
// approval email reads all delegations, so their number is bounded: a new
// one past the bound is refused 409 too-many-delegations; replacing one's
// own is not a new one; removing one makes room.
func TestDelegationsAreBounded(t *testing.T) {
	svc := newService(t, 1)
	svc.MaxDelegations = 2
	now := svc.Clock()
	if _, err := svc.AddGroupMember(ctx, admin, "ops", dave.Principal); err != nil {
		t.Fatal(err)
	}
	delegate(t, svc, bob, app.SelfPrincipal, erin.Principal, now, now.Add(time.Hour))
	delegate(t, svc, carol, app.SelfPrincipal, erin.Principal, now, now.Add(time.Hour))
	third := elevate.DelegationInput{Delegate: erin.Principal, From: now, Until: now.Add(time.Hour)}
	if _, err := svc.PutDelegation(ctx, dave, app.SelfPrincipal, third); !errors.Is(err, elevate.ErrTooManyDelegations) {
		t.Fatalf("a third delegation past a bound of two: %v", err)
	}
	delegate(t, svc, bob, app.SelfPrincipal, dave.Principal, now, now.Add(2*time.Hour)) // a replacement
	if err := svc.DeleteDelegation(ctx, carol, app.SelfPrincipal); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutDelegation(ctx, dave, app.SelfPrincipal, third); err != nil {
		t.Fatalf("after one was removed: %v", err)
	}
}
