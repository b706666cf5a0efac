package app_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// A scheduled request decided before its start: authorize answers
// not-yet-active with activeFrom until the window opens, then allows, on
// the one BatchGetItem's grant slot.
func TestScheduledStartOverTheStore(t *testing.T) {
	svc := newService(t, 1)
	now := elevate.SystemClock()
	svc.Clock = func() time.Time { return now }
	start := now.Add(3 * time.Hour).Truncate(time.Second)
	r, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "change window",
		DurationHours: ptr(2.0), StartAt: ptr(start.Format(time.RFC3339))})
	if err != nil {
		t.Fatal(err)
	}
	if !r.StartAt.Equal(start) || !r.ExpiresAt.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("pending until %s, want the window's end", r.ExpiresAt)
	}
	if _, err := svc.Decide(ctx, bob, r.ID, app.Approve, ""); err != nil {
		t.Fatal(err)
	}
	ask := func() app.AuthzResult {
		a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := ask(); a.Allowed || a.Reason != elevate.ReasonNotYetActive || a.ActiveFrom == nil || *a.ActiveFrom != start.UTC().Format(time.RFC3339) {
		t.Fatalf("before the start: %+v", a)
	}
	got, err := svc.GetRequest(ctx, alice, r.ID)
	if err != nil || got.Active || got.Status != elevate.StatusApproved {
		t.Fatalf("before the start the request reads %+v %v", got, err)
	}
	now = start
	if a := ask(); !a.Allowed || a.Reason != elevate.ReasonGrant {
		t.Fatalf("at the start: %+v", a)
	}
	now = start.Add(2 * time.Hour)
	if a := ask(); a.Allowed {
		t.Fatalf("after the window: %+v", a)
	}
}

func TestScheduleAheadIsASetting(t *testing.T) {
	svc := newService(t, 1)
	if _, err := svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{MaxScheduleAheadHours: ptr(48.0)}); err != nil {
		t.Fatal(err)
	}
	st, err := svc.GetSettings(ctx, admin)
	if err != nil || st.MaxScheduleAheadHours != 48 {
		t.Fatalf("maxScheduleAheadHours %v %v", st.MaxScheduleAheadHours, err)
	}
	far := svc.Clock().Add(49 * time.Hour).Format(time.RFC3339)
	if _, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", StartAt: &far}); !errors.Is(err, elevate.ErrStartTooFar) {
		t.Fatalf("beyond the setting: %v", err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{MaxScheduleAheadHours: ptr(10000.0)}); !errors.Is(err, elevate.ErrUnprocessable) {
		t.Fatalf("out of range setting: %v", err)
	}
}

type verifierFunc func(context.Context, *elevate.Policy, string) (*elevate.ChangeWindow, error)

func (f verifierFunc) VerifyTicket(ctx context.Context, p *elevate.Policy, t string) (*elevate.ChangeWindow, error) {
	return f(ctx, p, t)
}

func TestTicketsOverTheStore(t *testing.T) {
	svc := newService(t, 1)
	must(t, func() error {
		_, err := svc.UpdatePolicy(ctx, admin, "task:exchange:new-moverequest", elevate.PolicyInput{ApprovalType: "Manual", TicketRequired: ptr(true), TicketPattern: ptr(`CHG-[0-9]+`)})
		return err
	})
	in := func(ticket string) elevate.SubmitInput {
		return elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", Ticket: ticket}
	}
	if _, err := svc.SubmitRequest(ctx, alice, in("")); !errors.Is(err, elevate.ErrUnprocessable) {
		t.Fatalf("missing ticket: %v", err)
	}
	called := 0
	windowEnd := svc.Clock().Add(time.Hour).Truncate(time.Second)
	svc.Tickets = verifierFunc(func(_ context.Context, _ *elevate.Policy, ticket string) (*elevate.ChangeWindow, error) {
		called++
		if ticket == "CHG-9" {
			return nil, errors.Join(elevate.ErrUnavailable, errors.New("connection refused"))
		}
		return &elevate.ChangeWindow{End: &windowEnd}, nil
	})
	if _, err := svc.SubmitRequest(ctx, alice, in("INC-1")); !errors.Is(err, elevate.ErrUnprocessable) || called != 0 {
		t.Fatalf("a ticket that fails the pattern is never sent out: %v, %d calls", err, called)
	}
	if _, err := svc.SubmitRequest(ctx, alice, in("CHG-9")); !errors.Is(err, elevate.ErrUnavailable) {
		t.Fatalf("verifier down: %v", err)
	}
	if page, err := svc.ListRequests(ctx, admin, app.ListFilter{}); err != nil || len(page.Items) != 0 {
		t.Fatalf("a request was written while the verifier was down: %+v %v", page.Items, err)
	}
	r, err := svc.SubmitRequest(ctx, alice, in("CHG-1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ticket != "CHG-1" || r.ChangeWindow == nil || !r.ExpiresAt.Equal(windowEnd) {
		t.Fatalf("request %+v: pending must end with the change window", r)
	}
	approved, err := svc.Decide(ctx, bob, r.ID, app.Approve, "")
	if err != nil || !approved.GrantExpiresAt.Equal(windowEnd) {
		t.Fatalf("grant capped to the window: %v %v", approved.GrantExpiresAt, err)
	}
	for ticket, want := range map[string]int{"CHG-1": 1, "CHG-2": 0} {
		page, err := svc.ListRequests(ctx, admin, app.ListFilter{Ticket: ticket})
		if err != nil || len(page.Items) != want {
			t.Fatalf("?ticket=%s: %d items (%v), want %d", ticket, len(page.Items), err, want)
		}
	}
}

// Authorization stays one BatchGetItem and one PutItem with a scheduled
// grant in the slot: the start is read with the slot itself.
func TestAuthorizeScheduledIsOneReadOneWrite(t *testing.T) {
	svc := newService(t, 1)
	start := svc.Clock().Add(time.Hour).Format(time.RFC3339)
	r, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", StartAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, bob, r.ID, app.Approve, ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	_, endpoint := emulatortest.DynamoForTest(t)
	counting := emulator.DynamoClient(endpoint, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				calls[fmt.Sprintf("%T", in.Parameters)]++
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
		})
	})
	counted := &app.Service{Store: dynamo.New(counting, svc.Store.(*dynamo.Store).Table(), []byte("0123456789abcdef0123456789abcdef")), Clock: svc.Clock}
	a, err := counted.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
	if err != nil || a.Reason != elevate.ReasonNotYetActive {
		t.Fatalf("authorize: %+v %v", a, err)
	}
	want := map[string]int{"*dynamodb.BatchGetItemInput": 1, "*dynamodb.PutItemInput": 1}
	if !maps.Equal(calls, want) {
		t.Fatalf("authorize made %v, want %v", calls, want)
	}
}

// Issue 16 item 8 over the store: a request approved automatically for a
// window days ahead does not start once an admin switches the policy to
// Manual before then: authorize answers policy-changed, naming the request
// (the policy is read in authorize's one BatchGetItem anyway); one approved
// under the Manual policy itself starts.
func TestScheduledGrantRejudgedAtItsStart(t *testing.T) {
	svc := newService(t, 1)
	now := elevate.SystemClock()
	svc.Clock = func() time.Time { return now }
	must(t, func() error {
		_, err := svc.UpdatePolicy(ctx, admin, "task:exchange:new-moverequest", elevate.PolicyInput{ApprovalType: "Auto"})
		return err
	})
	start := now.Add(48 * time.Hour).Truncate(time.Second)
	r, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "weekend migration",
		DurationHours: ptr(2.0), StartAt: ptr(start.Format(time.RFC3339))})
	if err != nil || r.Status != elevate.StatusApproved {
		t.Fatalf("auto-approved scheduled request: %+v %v", r, err)
	}
	now = now.Add(24 * time.Hour)
	must(t, func() error {
		_, err := svc.UpdatePolicy(ctx, admin, "task:exchange:new-moverequest", elevate.PolicyInput{ApprovalType: "Manual"})
		return err
	})
	now = start.Add(time.Minute)
	a, err := svc.Authorize(ctx, alice, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"})
	if err != nil || a.Allowed || a.Reason != elevate.ReasonPolicyChanged || a.RequestID != r.ID {
		t.Fatalf("at the start after the policy went Manual: %+v %v", a, err)
	}

	// Bob's scheduled request, approved by a person under the Manual
	// policy, starts.
	now = elevate.SystemClock().Add(25 * time.Hour)
	start2 := now.Add(time.Hour).Truncate(time.Second)
	r2, err := svc.SubmitRequest(ctx, dave, elevate.SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "his own window",
		DurationHours: ptr(1.0), StartAt: ptr(start2.Format(time.RFC3339))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decide(ctx, bob, r2.ID, app.Approve, ""); err != nil {
		t.Fatal(err)
	}
	now = start2.Add(time.Minute)
	if a, err := svc.Authorize(ctx, dave, app.AuthzInput{Scope: "Exchange", Name: "New-MoveRequest"}); err != nil || !a.Allowed || a.Reason != elevate.ReasonGrant {
		t.Fatalf("a grant approved under the current policy: %+v %v", a, err)
	}
}
