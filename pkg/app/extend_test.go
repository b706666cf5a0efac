package app_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// grantedRequest is alice's request approved by bob.
func grantedRequest(t *testing.T, svc *app.Service) elevate.Request {
	t.Helper()
	r := submit(t, svc, alice)
	r, err := svc.Decide(ctx, bob, r.ID, app.Approve, "ok")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func extend(svc *app.Service, c app.Caller, id string, h float64) (elevate.Request, error) {
	return svc.Extend(ctx, c, id, elevate.ExtendInput{DurationHours: &h, Reason: "the migration runs long"})
}

func TestConcurrentExtendsMakeOnePendingExtension(t *testing.T) {
	svc := newService(t, 1)
	orig := grantedRequest(t, svc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := []string{}, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ext, err := extend(svc, alice, orig.ID, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made = append(made, ext.ID)
			case errors.Is(err, elevate.ErrConflict):
				refused++
			default:
				t.Errorf("extend: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(made) != 1 || refused != 19 {
		t.Fatalf("%d extensions made, %d refused; want 1 and 19", len(made), refused)
	}
	stored, err := svc.Store.GetRequest(ctx, orig.ID)
	if err != nil || stored.PendingExtension != made[0] {
		t.Fatalf("original names pending extension %q (%v), want %q", stored.PendingExtension, err, made[0])
	}
	page, err := svc.ListRequests(ctx, admin, app.ListFilter{Status: elevate.StatusPending})
	if err != nil || len(page.Items) != 1 || page.Items[0].Extends != orig.ID {
		t.Fatalf("pending requests %+v (%v), want the one extension", page.Items, err)
	}
}

func TestExtensionApprovalMovesTheGrant(t *testing.T) {
	svc := newService(t, 1)
	orig := grantedRequest(t, svc)
	ext, err := extend(svc, alice, orig.ID, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Status != elevate.StatusPending || ext.Active || !ext.StartAt.Equal(*orig.GrantExpiresAt) {
		t.Fatalf("extension %+v", ext)
	}
	// The grant runs on meanwhile.
	if a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"}); err != nil || !a.Allowed || a.RequestID != orig.ID {
		t.Fatalf("authorize while pending: %+v %v", a, err)
	}
	if _, err := svc.Decide(ctx, alice, ext.ID, app.Approve, ""); !errors.Is(err, elevate.ErrSelfApproval) {
		t.Fatalf("self-approval of an extension: %v", err)
	}
	approved, err := svc.Decide(ctx, carol, ext.ID, app.Approve, "fine")
	if err != nil {
		t.Fatal(err)
	}
	want := orig.GrantExpiresAt.Add(90 * time.Minute)
	moved, err := svc.Store.GetRequest(ctx, orig.ID)
	if err != nil || !moved.GrantExpiresAt.Equal(want) || !approved.GrantExpiresAt.Equal(want) || moved.PendingExtension != "" || len(moved.Extensions) != 1 {
		t.Fatalf("original after approval %+v (%v), want end %s", moved, err, want)
	}
	a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
	if err != nil || !a.Allowed || a.ExpiresAt == nil || *a.ExpiresAt != want.UTC().Format(time.RFC3339) {
		t.Fatalf("authorize after approval: %+v %v, want expiry %s", a, err, want)
	}
}

func TestApprovingAnExtensionAfterTheOriginalWasRevoked(t *testing.T) {
	svc := newService(t, 1)
	orig := grantedRequest(t, svc)
	ext, err := extend(svc, alice, orig.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, bob, orig.ID, app.Revoke, "incident over"); err != nil {
		t.Fatal(err)
	}
	stored, err := svc.Store.GetRequest(ctx, ext.ID)
	if err != nil || stored.Status != elevate.StatusRevoked {
		t.Fatalf("pending extension after the original's revocation: %s %v", stored.Status, err)
	}
	if _, err := svc.Decide(ctx, carol, ext.ID, app.Approve, ""); !errors.Is(err, elevate.ErrConflict) {
		t.Fatalf("approving the extension of a revoked grant: %v, want 409", err)
	}
	if _, err := extend(svc, alice, orig.ID, 1); !errors.Is(err, elevate.ErrExtendEnded) {
		t.Fatalf("extending a revoked grant: %v", err)
	}
	if a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"}); err != nil || a.Allowed {
		t.Fatalf("a revoked grant: %+v %v", a, err)
	}
}

// An extension approved while its original is revoked in between loses
// the transaction: the store's condition on the original holds the line
// even when the service's read was stale.
func TestExtensionApprovalRacingRevocation(t *testing.T) {
	svc := newService(t, 1)
	orig := grantedRequest(t, svc)
	ext, err := extend(svc, alice, orig.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	prevOrig, err := svc.Store.GetRequest(ctx, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	prevExt, err := svc.Store.GetRequest(ctx, ext.ID)
	if err != nil {
		t.Fatal(err)
	}
	now := svc.Clock()
	nextExt, err := prevExt.Approve(elevate.Decider{Principal: carol.Principal, InGroup: true}, "", now)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := prevOrig.ExtendedBy(nextExt, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, alice, orig.ID, app.Revoke, "done early"); err != nil {
		t.Fatal(err)
	}
	err = svc.Store.SaveLinkedDecision(ctx, prevExt, nextExt, app.Change{Prev: prevOrig, Next: moved}, elevate.Group{}, "", now)
	if !errors.Is(err, elevate.ErrConflict) {
		t.Fatalf("stale extension approval: %v, want a conflict", err)
	}
	if r, err := svc.Store.GetRequest(ctx, orig.ID); err != nil || r.Status != elevate.StatusRevoked || !r.GrantExpiresAt.Equal(*orig.GrantExpiresAt) {
		t.Fatalf("original moved after revocation: %+v %v", r, err)
	}
}

func TestAutoExtension(t *testing.T) {
	svc := newService(t, 1)
	must(t, func() error {
		_, err := svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Scope: "Exchange", Name: "Get-Mailbox", ApprovalType: "Auto", MaxDurationHours: ptr(6.0)})
		return err
	})
	orig, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "Get-Mailbox", Reason: "look", DurationHours: ptr(4.0)})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := extend(svc, alice, orig.ID, 3)
	if err != nil || ext.Status != elevate.StatusApproved {
		t.Fatalf("auto extension: %+v %v", ext, err)
	}
	// Capped at 6 h from the original start, not 4 + 3.
	want := orig.GrantStartsAt.Add(6 * time.Hour)
	a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "Get-Mailbox"})
	if err != nil || !a.Allowed || *a.ExpiresAt != want.UTC().Format(time.RFC3339) {
		t.Fatalf("authorize: %+v %v, want expiry %s", a, err, want)
	}
	if _, err := extend(svc, alice, orig.ID, 1); !errors.Is(err, elevate.ErrUnprocessable) {
		t.Fatalf("extending past the policy max: %v", err)
	}
}
