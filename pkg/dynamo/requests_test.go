package dynamo_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

func caller(p string) app.Caller { return app.Caller{Principal: p} }

func submit(t *testing.T, e *env, who, name string) elevate.Request {
	t.Helper()
	return must[elevate.Request](t)(e.svc.SubmitRequest(ctx, caller(who), elevate.SubmitInput{Scope: "Exchange", Name: name, Reason: "work"}))
}

func grantOf(t *testing.T, e *env, who, name string) *elevate.Grant {
	t.Helper()
	read := must[app.AuthzRead](t)(e.store.ReadAuthz(ctx, who, elevate.Target{Type: elevate.TypeTask, Scope: "Exchange", Name: name}))
	return read.Grant
}

func TestRequestLifecycleAndAuthzRead(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com", "carol@example.com")
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)
	e.policy(t, "Auto", "Auto", "", 1)

	read := must[app.AuthzRead](t)(e.store.ReadAuthz(ctx, "alice@example.com", elevate.Target{Type: elevate.TypeTask, Scope: "exchange", Name: "MOVE"}))
	if !read.Settings.Enabled || read.Policy == nil || read.Policy.ID != "task:exchange:move" || read.Grant != nil {
		t.Fatalf("read %+v", read)
	}
	r := submit(t, e, "alice@example.com", "Move")
	if r.Status != elevate.StatusPending || r.ApproverGroup != "ops" {
		t.Fatalf("submitted %+v", r)
	}
	got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	if got.Requester != "alice@example.com" || got.Version != 1 || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("stored %+v", got)
	}
	if g := grantOf(t, e, "alice@example.com", "Move"); g != nil {
		t.Fatalf("a pending slot read as a grant: %+v", g)
	}
	_, err := e.svc.SubmitRequest(ctx, caller("alice@example.com"), elevate.SubmitInput{Scope: "exchange", Name: "move", Reason: "again"})
	wantErr(t, err, elevate.ErrOpenRequest)

	e.clock.Advance(time.Minute)
	approved := must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, "ok"))
	g := grantOf(t, e, "alice@example.com", "Move")
	if g == nil || g.RequestID != r.ID || !g.ExpiresAt.Equal(*approved.GrantExpiresAt) || g.Principal != "alice@example.com" {
		t.Fatalf("grant %+v for %+v", g, approved)
	}
	_, err = e.svc.Decide(ctx, caller("carol@example.com"), r.ID, app.Deny, "late")
	wantErr(t, err, elevate.ErrNotPending)
	_, err = e.svc.SubmitRequest(ctx, caller("alice@example.com"), elevate.SubmitInput{Scope: "Exchange", Name: "Move", Reason: "again"})
	wantErr(t, err, elevate.ErrOpenRequest)

	must[elevate.Request](t)(e.svc.Decide(ctx, caller("carol@example.com"), r.ID, app.Revoke, "done"))
	if g := grantOf(t, e, "alice@example.com", "Move"); g != nil {
		t.Fatalf("revoked grant still read: %+v", g)
	}
	if s := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); s.Status != elevate.StatusRevoked || len(s.Decisions) != 2 || s.Version != 3 {
		t.Fatalf("after revoke %+v", s)
	}
	// The slot is free again.
	r2 := submit(t, e, "alice@example.com", "Move")
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("alice@example.com"), r2.ID, app.Cancel, ""))
	r3 := submit(t, e, "alice@example.com", "Move")
	// An expired pending request frees the slot without anyone deleting it.
	e.clock.Advance(25 * time.Hour)
	r4 := submit(t, e, "alice@example.com", "Move")
	_, err = e.svc.Decide(ctx, caller("bob@example.com"), r3.ID, app.Approve, "")
	wantErr(t, err, elevate.ErrRequestExpired)
	if r4.ID == r3.ID {
		t.Fatal("ids collide")
	}

	// An Auto policy's slot is a grant at once.
	a := submit(t, e, "dave@example.com", "Auto")
	if a.Status != elevate.StatusApproved || !a.Active {
		t.Fatalf("auto %+v", a)
	}
	if g := grantOf(t, e, "dave@example.com", "Auto"); g == nil || g.RequestID != a.ID {
		t.Fatalf("auto grant %+v", g)
	}
	// The store never hides an expired grant: liveness is the domain's call.
	e.clock.Advance(5 * time.Hour)
	if g := grantOf(t, e, "dave@example.com", "Auto"); g == nil || g.Live(e.clock.Now()) {
		t.Fatalf("expired grant: %+v", g)
	}

	_, err = e.store.GetRequest(ctx, "missing")
	wantErr(t, err, elevate.ErrRequestNotFound)
	_, err = e.store.GetRequest(ctx, "")
	wantErr(t, err, elevate.ErrRequestNotFound)
}

func TestLockboxReadSkipsPolicy(t *testing.T) {
	e := newEnv(t)
	e.group(t, "lock", "bob@example.com")
	lock, on := "lock", true
	must[elevate.Settings](t)(e.svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{Lockbox: &elevate.LockboxPatch{Enabled: &on, ApproverGroup: &lock}}))
	r := must[elevate.Request](t)(e.svc.SubmitRequest(ctx, caller("alice@example.com"), elevate.SubmitInput{Type: "Lockbox", Scope: "Tenant", Name: "Mailbox", Reason: "support"}))
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, ""))
	read := must[app.AuthzRead](t)(e.store.ReadAuthz(ctx, "alice@example.com", r.Target()))
	if read.Policy != nil || read.Grant == nil || !read.Settings.Lockbox.Enabled {
		t.Fatalf("lockbox read %+v", read)
	}
}

func TestNOfMApprovalAndLinkReplay(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com", "carol@example.com")
	e.enable(t, "ops")
	e.policy(t, "Two", "Manual", "ops", 2)
	r := submit(t, e, "alice@example.com", "Two")

	first := must[elevate.Request](t)(e.svc.DecideByLink(ctx, app.LinkClaims{ID: "link-1", RequestID: r.ID, Approver: "bob@example.com"}, app.Approve, ""))
	if first.Status != elevate.StatusPending || grantOf(t, e, "alice@example.com", "Two") != nil {
		t.Fatalf("one of two approvals granted: %+v", first)
	}
	// The same approver can't be counted twice, even by a stale writer.
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	again, err := stored.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "", e.clock.Now())
	if err == nil {
		t.Fatalf("domain allowed a double approval: %+v", again)
	}
	forged := stored
	forged.Decisions = append(forged.Decisions, elevate.Decision{By: "bob@example.com", Decision: elevate.DecisionApprove, At: e.clock.Now()})
	forged.Version++
	wantErr(t, e.store.SaveDecision(ctx, stored, forged, e.read(t, stored.ApproverGroup), "", e.clock.Now()), elevate.ErrConcurrentUpdate)

	// A replayed link ID is refused in the decision's own transaction.
	_, err = e.svc.DecideByLink(ctx, app.LinkClaims{ID: "link-1", RequestID: r.ID, Approver: "carol@example.com"}, app.Approve, "")
	wantErr(t, err, elevate.ErrLinkUsed)
	if s := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); s.Version != 2 || s.Status != elevate.StatusPending {
		t.Fatalf("a refused link changed the request: %+v", s)
	}
	done := must[elevate.Request](t)(e.svc.DecideByLink(ctx, app.LinkClaims{ID: "link-2", RequestID: r.ID, Approver: "carol@example.com"}, app.Approve, ""))
	if done.Status != elevate.StatusApproved || grantOf(t, e, "alice@example.com", "Two") == nil {
		t.Fatalf("second approval: %+v", done)
	}
}

func TestRaceApproveDenyYieldsOneOutcome(t *testing.T) {
	e := newEnv(t)
	members := make([]string, 20)
	for i := range members {
		members[i] = fmt.Sprintf("m%02d@example.com", i)
	}
	e.group(t, "ops", members...)
	e.enable(t, "ops")
	e.policy(t, "Race", "Manual", "ops", 1)
	r := submit(t, e, "alice@example.com", "Race")

	var wg sync.WaitGroup
	errs := make([]error, len(members))
	start := make(chan struct{})
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			kind := app.Approve
			if i%2 == 1 {
				kind = app.Deny
			}
			_, errs[i] = e.svc.Decide(ctx, caller(m), r.ID, kind, "race")
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, elevate.ErrConflict):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	final := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	if wins != 1 || len(final.Decisions) != 1 {
		t.Fatalf("%d winners, decisions %+v", wins, final.Decisions)
	}
	g := grantOf(t, e, "alice@example.com", "Race")
	switch final.Status {
	case elevate.StatusApproved:
		if g == nil || g.RequestID != r.ID {
			t.Fatalf("approved without a grant: %+v", g)
		}
	case elevate.StatusDenied:
		if g != nil {
			t.Fatalf("denied with a grant: %+v", g)
		}
	default:
		t.Fatalf("final status %s", final.Status)
	}
}

func TestListRequestsPaginationFiltersAndVisibility(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.group(t, "sec", "sue@example.com")
	e.enable(t, "ops")
	for i := 0; i < 5; i++ {
		e.policy(t, fmt.Sprintf("T%d", i), "Manual", "", 1)
	}
	e.policy(t, "S", "Manual", "sec", 1)
	var ids []string
	for i := 0; i < 5; i++ {
		e.clock.Advance(time.Second)
		ids = append(ids, submit(t, e, "alice@example.com", fmt.Sprintf("T%d", i)).ID)
	}
	e.clock.Advance(time.Second)
	other := submit(t, e, "zed@example.com", "S")
	e.clock.Advance(time.Second)
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), ids[0], app.Deny, ""))

	// Newest first, three per page, across all requests.
	var seen []string
	q := app.RequestQuery{Index: app.AllRequests, Limit: 4, Now: e.clock.Now()}
	pages := 0
	for {
		page := must[app.RequestPage](t)(e.store.ListRequests(ctx, q))
		pages++
		for _, r := range page.Items {
			seen = append(seen, r.ID)
		}
		if page.Next == "" {
			break
		}
		q.Next = page.Next
	}
	want := []string{other.ID, ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) || pages != 2 {
		t.Fatalf("pages %d, order %v, want %v", pages, seen, want)
	}

	list := func(q app.RequestQuery) []string {
		t.Helper()
		q.Now = e.clock.Now()
		page := must[app.RequestPage](t)(e.store.ListRequests(ctx, q))
		var out []string
		for _, r := range page.Items {
			out = append(out, r.ID)
		}
		return out
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, Status: elevate.StatusDenied}); fmt.Sprint(got) != fmt.Sprint([]string{ids[0]}) {
		t.Fatalf("denied: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.ByRequester, Requester: "zed@example.com"}); fmt.Sprint(got) != fmt.Sprint([]string{other.ID}) {
		t.Fatalf("by requester: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.ByApproverGroup, Group: "sec"}); fmt.Sprint(got) != fmt.Sprint([]string{other.ID}) {
		t.Fatalf("by group: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, VisibleTo: &app.Visibility{Principal: "sue@example.com", Groups: []string{"sec"}}}); fmt.Sprint(got) != fmt.Sprint([]string{other.ID}) {
		t.Fatalf("visible to sue: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, Type: elevate.TypeLockbox}); len(got) != 0 {
		t.Fatalf("lockbox: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, Status: elevate.StatusPending}); len(got) != 5 {
		t.Fatalf("pending: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, Status: elevate.StatusExpired}); len(got) != 0 {
		t.Fatalf("expired too early: %v", got)
	}
	e.clock.Advance(25 * time.Hour)
	if got := list(app.RequestQuery{Index: app.AllRequests, Status: elevate.StatusExpired}); len(got) != 5 {
		t.Fatalf("expired: %v", got)
	}
	if got := list(app.RequestQuery{Index: app.AllRequests, Status: elevate.StatusPending}); len(got) != 0 {
		t.Fatalf("pending after expiry: %v", got)
	}

	// Tokens are bound to their query and signed.
	first := must[app.RequestPage](t)(e.store.ListRequests(ctx, app.RequestQuery{Index: app.AllRequests, Limit: 2, Now: e.clock.Now()}))
	if first.Next == "" {
		t.Fatal("no next token")
	}
	bad := []app.RequestQuery{
		{Index: app.AllRequests, Next: first.Next[:len(first.Next)-2] + "AA"},
		{Index: app.AllRequests, Next: "x" + first.Next},
		{Index: app.AllRequests, Next: "garbage"},
		{Index: app.AllRequests, Next: strings.Repeat("a", 5000)},
		{Index: app.AllRequests, Status: elevate.StatusDenied, Next: first.Next},
		{Index: app.ByRequester, Requester: "alice@example.com", Next: first.Next},
	}
	for _, q := range bad {
		q.Now = e.clock.Now()
		_, err := e.store.ListRequests(ctx, q)
		wantErr(t, err, elevate.ErrInvalid)
	}
	foreign := dynamo.New(e.client, e.table, []byte("another key, another deployment!"))
	_, err := foreign.ListRequests(ctx, app.RequestQuery{Index: app.AllRequests, Next: first.Next, Now: e.clock.Now()})
	wantErr(t, err, elevate.ErrInvalid)
	_, err = e.store.ListRequests(ctx, app.RequestQuery{Index: app.AllRequests, Status: "Bogus"})
	wantErr(t, err, elevate.ErrInvalid)
}

func TestDeliveryClaims(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	claim := func(recipient, token string, want bool, wantHolder string) {
		t.Helper()
		ok, holder, err := e.store.ClaimDelivery(ctx, "evt-1", recipient, token, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want || holder != wantHolder {
			t.Fatalf("claim of %s by %s: claimed %v held by %q, want %v held by %q", recipient, token, ok, holder, want, wantHolder)
		}
	}
	claim("bob@example.com", "t1", true, "t1")
	// A second claimant learns whose claim stands.
	claim("bob@example.com", "t2", false, "t1")
	claim("carol@example.com", "t3", true, "t3")
	if err := e.store.ReleaseDelivery(ctx, "evt-1", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	claim("bob@example.com", "t4", true, "t4")
}

func TestRecordAuthzWritesEventItem(t *testing.T) {
	e := newEnv(t)
	tg := elevate.Target{Type: elevate.TypeTask, Scope: "Exchange", Name: "X"}
	err := e.store.RecordAuthz(ctx, app.Event{ID: "authz-1", Time: time.Now(), Action: "authorize.denied", Actor: "a@example.com", Target: &tg, Detail: map[string]any{"reason": "approval-required"}})
	if err != nil {
		t.Fatal(err)
	}
	out := must[*dynamodb.GetItemOutput](t)(e.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		Key: keyOf("EVENT#authz-1", "EVENT")}))
	img := must[map[string]eventsAV](t)(dynamo.ToLambdaImage(out.Item))
	got := must[app.Event](t)(dynamo.EventFromImage(img))
	if got.Action != "authorize.denied" || got.Detail["reason"] != "approval-required" || *got.Target != tg {
		t.Fatalf("event %+v", got)
	}
}

func TestUnreachableDynamoIsUnavailable(t *testing.T) {
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	client := emulator.DynamoClient(fmt.Sprintf("http://127.0.0.1:%d", port), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	st := dynamo.New(client, "elevate", pageKey)
	_, err = st.GetSettings(ctx)
	wantErr(t, err, elevate.ErrUnavailable)
	_, err = st.ReadAuthz(ctx, "a@example.com", elevate.Target{Type: elevate.TypeTask, Scope: "a", Name: "b"})
	wantErr(t, err, elevate.ErrUnavailable)
	wantErr(t, st.CreateGroup(ctx, elevate.Group{Name: "g"}, ev("x")), elevate.ErrUnavailable)
	if strings.Contains(elevate.ErrUnavailable.Error(), "127.0.0.1") {
		t.Fatal("sentinel leaks details")
	}
}

// A member removed after the service read the group but before the decision
// commits loses: the transaction re-checks membership.
func TestRemovedApproverLosesTheRaceToCommit(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)
	r := submit(t, e, "alice@example.com", "Move")
	next, err := r.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "ok", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	read := e.read(t, "ops")
	if err := e.store.RemoveGroupMember(ctx, "ops", "bob@example.com", app.Event{ID: "ev-rm", Time: e.clock.Now(), Action: "group.member-removed", Actor: "admin@example.com"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.store.SaveDecision(ctx, r, next, read, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	if got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); got.Status != elevate.StatusPending || len(got.Decisions) != 0 {
		t.Fatalf("the refused approval changed the request: %+v", got)
	}
	if g := grantOf(t, e, "alice@example.com", "Move"); g != nil {
		t.Fatalf("a grant without a member's approval: %+v", g)
	}
	// Through the service, the retry re-reads the group and refuses plainly.
	_, err = e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, "ok")
	wantErr(t, err, elevate.ErrNotApprover)
}
