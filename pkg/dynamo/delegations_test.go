package dynamo_test

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A delegate's approval rests on the member's membership and on the
// delegation itself, both checked in the decision's transaction: a
// delegation removed, or a member removed, between the service's read and
// the commit wins, and nothing changes (F17).
func TestDelegateApprovalRechecksTheDelegationAtCommit(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com", "carol@example.com")
	e.group(t, "exchange-admins", "bob@example.com")
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)
	now := e.clock.Now()
	bob := caller("bob@example.com")
	must[elevate.Delegation](t)(e.svc.PutDelegation(ctx, bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: "dave@example.com", From: now.Add(-time.Minute), Until: now.Add(time.Hour)}))
	r := submit(t, e, "alice@example.com", "Move")
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	ops := e.read(t, "ops")
	asDelegate := elevate.Decider{Principal: "dave@example.com", InGroup: true, Via: "ops", OnBehalfOf: "bob@example.com"}
	next := must[elevate.Request](t)(stored.Approve(asDelegate, "for bob", now))

	// The delegation goes between the read and the commit.
	if err := e.svc.DeleteDelegation(ctx, bob, app.SelfPrincipal); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.store.SaveDecision(ctx, stored, next, ops, "", now), elevate.ErrConcurrentUpdate)

	// Back, but for another group only: still refused.
	must[elevate.Delegation](t)(e.svc.PutDelegation(ctx, bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: "dave@example.com", From: now.Add(-time.Minute), Until: now.Add(time.Hour), Groups: []string{"exchange-admins"}}))
	wantErr(t, e.store.SaveDecision(ctx, stored, next, ops, "", now), elevate.ErrConcurrentUpdate)

	// Back for ops, but bob has left the group: the member check wins.
	must[elevate.Delegation](t)(e.svc.PutDelegation(ctx, bob, app.SelfPrincipal, elevate.DelegationInput{Delegate: "dave@example.com", From: now.Add(-time.Minute), Until: now.Add(time.Hour)}))
	e.removeMember(t, "ops", "bob@example.com")
	wantErr(t, e.store.SaveDecision(ctx, stored, next, ops, "", now), elevate.ErrConcurrentUpdate)
	if got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); got.Status != elevate.StatusPending {
		t.Fatalf("a refused delegate approval committed: %+v", got)
	}

	// With bob back, the same decision commits and records both names.
	must[elevate.Group](t)(e.svc.AddGroupMember(ctx, admin, "ops", "bob@example.com"))
	if err := e.store.SaveDecision(ctx, stored, next, ops, "", now); err != nil {
		t.Fatal(err)
	}
	got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	if d := got.Decisions[0]; got.Status != elevate.StatusApproved || d.By != "dave@example.com" || d.OnBehalfOf != "bob@example.com" {
		t.Fatalf("delegate approval: %+v", got)
	}
}
