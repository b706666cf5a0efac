package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

var (
	ctx   = context.Background()
	admin = app.Caller{Principal: "admin@example.com", Groups: []string{app.DefaultAdminGroup}}
	alice = app.Caller{Principal: "alice@example.com"}
	bob   = app.Caller{Principal: "bob@example.com"}
	carol = app.Caller{Principal: "carol@example.com"}
	dave  = app.Caller{Principal: "dave@example.com"}
)

func ptr[T any](v T) *T { return &v }

// newService runs the use cases over the real store on DynamoDB Local, with
// group ops (bob, carol), access on, and a Manual policy needing `required`
// approvals on Exchange\New-MoveRequest.
func newService(t *testing.T, required int) *app.Service {
	t.Helper()
	client, _ := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("app")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	svc := &app.Service{Store: dynamo.New(client, table, []byte("0123456789abcdef0123456789abcdef")), Clock: elevate.SystemClock}
	must(t, func() error {
		_, err := svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: "ops", Members: []string{bob.Principal, carol.Principal}})
		return err
	})
	must(t, func() error {
		_, err := svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{Enabled: ptr(true), DefaultApproverGroup: ptr("ops")})
		return err
	})
	must(t, func() error {
		_, err := svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual", RequiredApprovals: ptr(required)})
		return err
	})
	return svc
}

func must(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func submit(t *testing.T, svc *app.Service, c app.Caller) elevate.Request {
	t.Helper()
	r, err := svc.SubmitRequest(ctx, c, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "migrate"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAdminOnlyUseCases(t *testing.T) {
	svc := newService(t, 1)
	calls := map[string]func() error{
		"settings": func() error { _, err := svc.GetSettings(ctx, alice); return err },
		"patch": func() error {
			_, err := svc.UpdateSettings(ctx, alice, elevate.SettingsPatch{Enabled: ptr(false)})
			return err
		},
		"group": func() error {
			_, err := svc.CreateGroup(ctx, alice, elevate.NewGroupInput{Name: "x", Members: []string{}})
			return err
		},
		"member": func() error { _, err := svc.AddGroupMember(ctx, alice, "ops", alice.Principal); return err },
		"policy": func() error {
			_, err := svc.CreatePolicy(ctx, alice, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "X", ApprovalType: "Auto"})
			return err
		},
		"delete policy": func() error { return svc.DeletePolicy(ctx, alice, "task:exchange:new-moverequest") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, app.ErrAdminOnly) {
			t.Errorf("%s by a non-admin: %v, want ErrAdminOnly", name, err)
		}
	}
	// Nothing changed: alice is still not an approver and access is still on.
	g, err := svc.GetGroup(ctx, admin, "ops")
	if err != nil || g.HasMember(alice.Principal) {
		t.Fatalf("group changed: %+v %v", g, err)
	}
	s, err := svc.GetSettings(ctx, admin)
	if err != nil || !s.Enabled {
		t.Fatalf("settings changed: %+v %v", s, err)
	}
}

func TestVisibility(t *testing.T) {
	svc := newService(t, 1)
	r := submit(t, svc, alice)
	for _, c := range []app.Caller{alice, bob, admin} {
		if _, err := svc.GetRequest(ctx, c, r.ID); err != nil {
			t.Errorf("%s cannot see the request: %v", c.Principal, err)
		}
		page, err := svc.ListRequests(ctx, c, app.ListFilter{})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != r.ID {
			t.Errorf("%s lists %+v, %v", c.Principal, page.Items, err)
		}
	}
	// Someone who is neither requester, approver nor admin learns nothing,
	// not even that the ID exists.
	if _, err := svc.GetRequest(ctx, dave, r.ID); !errors.Is(err, elevate.ErrNotFound) {
		t.Errorf("dave reads the request: %v", err)
	}
	if page, err := svc.ListRequests(ctx, dave, app.ListFilter{}); err != nil || len(page.Items) != 0 {
		t.Errorf("dave lists %+v, %v", page.Items, err)
	}
	if _, err := svc.Decide(ctx, dave, r.ID, app.Approve, ""); !errors.Is(err, elevate.ErrForbidden) {
		t.Errorf("dave approves: %v", err)
	}
	if page, err := svc.ListRequests(ctx, bob, app.ListFilter{Status: elevate.StatusApproved}); err != nil || len(page.Items) != 0 {
		t.Errorf("status filter: %+v, %v", page.Items, err)
	}
}

func TestAuthorizeAboutOthers(t *testing.T) {
	svc := newService(t, 1)
	q := app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest", Principal: alice.Principal}
	if _, err := svc.Authorize(ctx, bob, q); !errors.Is(err, app.ErrAuthorizeOthers) {
		t.Fatalf("bob asks about alice: %v", err)
	}
	for _, c := range []app.Caller{admin, {Principal: "svc@example.com", Groups: []string{app.AuthorizersGroup}}, alice} {
		res, err := svc.Authorize(ctx, c, q)
		if err != nil || res.Allowed || res.Reason != elevate.ReasonApprovalRequired {
			t.Errorf("%s asks about alice: %+v %v", c.Principal, res, err)
		}
	}
}

// Two approvers of a 2-of-2 request deciding at once both count: the loser
// of the conditional write re-reads and re-applies the rules.
func TestConcurrentApprovalsOfNofM(t *testing.T) {
	svc := newService(t, 2)
	r := submit(t, svc, alice)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []app.Caller{bob, carol} {
		wg.Go(func() { _, errs[i] = svc.Decide(ctx, c, r.ID, app.Approve, "") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("approver %d: %v", i, err)
		}
	}
	got, err := svc.GetRequest(ctx, admin, r.ID)
	if err != nil || got.Status != elevate.StatusApproved || got.Approvals() != 2 || !got.Active {
		t.Fatalf("after both approvals: %+v %v", got, err)
	}
	res, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
	if err != nil || !res.Allowed || res.Reason != elevate.ReasonGrant || res.RequestID != r.ID {
		t.Fatalf("authorize after approval: %+v %v", res, err)
	}
}

func TestOneOpenRequestPerTarget(t *testing.T) {
	svc := newService(t, 1)
	first := submit(t, svc, alice)
	if _, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "again"}); !errors.Is(err, elevate.ErrOpenRequest) {
		t.Fatalf("second open request: %v", err)
	}
	if _, err := svc.Decide(ctx, alice, first.ID, app.Cancel, ""); err != nil {
		t.Fatal(err)
	}
	// Cancelling frees the slot.
	submit(t, svc, alice)
}

func TestMembershipIsCheckedAtDecisionTime(t *testing.T) {
	svc := newService(t, 1)
	r := submit(t, svc, alice)
	if _, err := svc.RemoveGroupMember(ctx, admin, "ops", bob.Principal); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, bob, r.ID, app.Approve, ""); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("removed approver decides: %v", err)
	}
	if got, err := svc.GetRequest(ctx, admin, r.ID); err != nil || got.Status != elevate.StatusPending {
		t.Fatalf("refused decision changed the request: %s %v", got.Status, err)
	}
	// The email-link page no longer shows him the request either.
	if _, err := svc.LinkRequest(ctx, app.LinkClaims{ID: "l1", RequestID: r.ID, Approver: bob.Principal}); !errors.Is(err, elevate.ErrNotApprover) {
		t.Fatalf("removed approver reads the link page: %v", err)
	}
	if _, err := svc.LinkRequest(ctx, app.LinkClaims{ID: "l2", RequestID: r.ID, Approver: carol.Principal}); err != nil {
		t.Fatalf("a current approver cannot read the link page: %v", err)
	}
}

// Customer Lockbox (F10): its own switch and approver group, always Manual,
// at most 4 hours, listed by type.
func TestLockbox(t *testing.T) {
	svc := newService(t, 1)
	lockbox := elevate.SubmitInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42", Reason: "support case 7"}
	if _, err := svc.SubmitRequest(ctx, alice, lockbox); !errors.Is(err, elevate.ErrLockboxDisabled) {
		t.Fatalf("lockbox off: %v", err)
	}
	res, err := svc.Authorize(ctx, alice, app.AuthzInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42"})
	if err != nil || !res.Allowed || res.Reason != elevate.ReasonDisabled {
		t.Fatalf("authorize with lockbox off: %+v %v", res, err)
	}
	must(t, func() error {
		_, err := svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: "lockbox-approvers", Members: []string{carol.Principal}})
		return err
	})
	must(t, func() error {
		_, err := svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{Lockbox: &elevate.LockboxPatch{Enabled: ptr(true), ApproverGroup: ptr("lockbox-approvers")}})
		return err
	})
	if _, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42", Reason: "r", DurationHours: ptr(5.0)}); !errors.Is(err, elevate.ErrDurationTooLong) {
		t.Fatalf("lockbox over 4 h: %v", err)
	}
	r, err := svc.SubmitRequest(ctx, alice, lockbox)
	if err != nil || r.ApprovalType != elevate.ApprovalManual || r.ApproverGroup != "lockbox-approvers" || r.Status != elevate.StatusPending {
		t.Fatalf("lockbox request: %+v %v", r, err)
	}
	submit(t, svc, alice) // a Task request, to be filtered out below
	page, err := svc.ListRequests(ctx, admin, app.ListFilter{Type: elevate.TypeLockbox})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != r.ID {
		t.Fatalf("list by type Lockbox: %+v %v", page.Items, err)
	}
	// The default group's bob cannot decide it; the Lockbox group's carol can.
	if _, err := svc.Decide(ctx, bob, r.ID, app.Approve, ""); !errors.Is(err, elevate.ErrForbidden) {
		t.Fatalf("bob approves a lockbox request: %v", err)
	}
	if _, err := svc.Decide(ctx, carol, r.ID, app.Approve, "case 7"); err != nil {
		t.Fatal(err)
	}
	res, err = svc.Authorize(ctx, alice, app.AuthzInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42"})
	if err != nil || !res.Allowed || res.Reason != elevate.ReasonGrant || res.RequestID != r.ID {
		t.Fatalf("authorize after lockbox approval: %+v %v", res, err)
	}
}
