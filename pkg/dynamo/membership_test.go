package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

func (e *env) removeMember(t *testing.T, group, member string) {
	t.Helper()
	must[elevate.Group](t)(e.svc.RemoveGroupMember(ctx, admin, group, member))
}

// removingStore removes a member between the service's read of the group and
// its first SaveDecision: the interleaving a concurrent admin produces.
type removingStore struct {
	app.Store
	once   sync.Once
	remove func()
}

func (s *removingStore) SaveDecision(c context.Context, prev, next elevate.Request, read elevate.Group, linkID string, now time.Time) error {
	s.once.Do(s.remove)
	return s.Store.SaveDecision(c, prev, next, read, linkID, now)
}

// Issue 10 item 5: a revoke made as an approver re-checks the revoker's
// membership inside its transaction, as approve and deny do.
func TestRevokeRechecksRevokerMembershipAtCommit(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com", "carol@example.com")
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)
	r := submit(t, e, "alice@example.com", "Move")
	approved := must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, "ok"))
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, approved.ID))

	next, err := stored.Revoke(elevate.Decider{Principal: "carol@example.com", InGroup: true}, "stop", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	read := e.read(t, "ops")
	e.removeMember(t, "ops", "carol@example.com")
	wantErr(t, e.store.SaveDecision(ctx, stored, next, read, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	if got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); got.Status != elevate.StatusApproved {
		t.Fatalf("a removed member's revoke committed: %+v", got)
	}
	_, err = e.svc.Decide(ctx, caller("carol@example.com"), r.ID, app.Revoke, "stop")
	wantErr(t, err, elevate.ErrNotRevoker)

	// The requester's and an admin's rights do not rest on membership.
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("alice@example.com"), r.ID, app.Revoke, "done"))
	r2 := submit(t, e, "alice@example.com", "Move")
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r2.ID, app.Approve, "ok"))
	if got := must[elevate.Request](t)(e.svc.Decide(ctx, admin, r2.ID, app.Revoke, "audit")); got.Status != elevate.StatusRevoked || got.Decisions[1].As != elevate.RevokeAsAdmin {
		t.Fatalf("admin revoke: %+v", got)
	}
}

func nOfMEnv(t *testing.T) (*env, elevate.Request) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com", "carol@example.com", "dave@example.com")
	e.enable(t, "ops")
	e.policy(t, "Two", "Manual", "ops", 2)
	r := submit(t, e, "alice@example.com", "Two")
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, "one"))
	return e, r
}

// Issue 10 item 6: an approval from someone who has since left the group
// does not count. The request stays Pending (the response and the audit
// record say final:false) until enough current members approve.
func TestNOfMCountsOnlyCurrentMembers(t *testing.T) {
	e, r := nOfMEnv(t)
	e.removeMember(t, "ops", "bob@example.com")
	got := must[elevate.Request](t)(e.svc.Decide(ctx, caller("carol@example.com"), r.ID, app.Approve, "two"))
	if got.Status != elevate.StatusPending || grantOf(t, e, "alice@example.com", "Two") != nil {
		t.Fatalf("a departed approver's approval counted: %+v", got)
	}
	done := must[elevate.Request](t)(e.svc.Decide(ctx, caller("dave@example.com"), r.ID, app.Approve, "three"))
	if done.Status != elevate.StatusApproved || fmt.Sprint(done.CountedBy) != "[carol@example.com dave@example.com]" {
		t.Fatalf("two current members: %+v", done)
	}
	if stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); fmt.Sprint(stored.CountedBy) != fmt.Sprint(done.CountedBy) {
		t.Fatalf("countedBy not stored: %v", stored.CountedBy)
	}
	if g := grantOf(t, e, "alice@example.com", "Two"); g == nil || g.RequestID != r.ID {
		t.Fatalf("no grant after two current approvals: %+v", g)
	}
}

// The concurrent case: the earlier approver is removed after the service
// counted them but before the final approval commits. The commit checks every
// counted approver, so it fails; the retry no longer counts them.
func TestNOfMEarlierApproverRemovedBeforeTheFinalCommit(t *testing.T) {
	e, r := nOfMEnv(t)
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	all := func(string) bool { return true }
	final, err := stored.Approve(elevate.Decider{Principal: "carol@example.com", InGroup: true, StillApprover: all}, "", e.clock.Now())
	if err != nil || final.Status != elevate.StatusApproved {
		t.Fatalf("domain: %v %+v", err, final)
	}
	read := e.read(t, "ops")
	e.removeMember(t, "ops", "bob@example.com")
	wantErr(t, e.store.SaveDecision(ctx, stored, final, read, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	if g := grantOf(t, e, "alice@example.com", "Two"); g != nil {
		t.Fatalf("granted on a removed member's approval: %+v", g)
	}

	// Through the service, with the removal landing inside the decision.
	e2, r2 := nOfMEnv(t)
	svc := *e2.svc
	svc.Store = &removingStore{Store: e2.store, remove: func() { e2.removeMember(t, "ops", "bob@example.com") }}
	got, err := svc.Decide(ctx, caller("carol@example.com"), r2.ID, app.Approve, "two")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != elevate.StatusPending || grantOf(t, e2, "alice@example.com", "Two") != nil {
		t.Fatalf("the race let a removed approver count: %+v", got)
	}
	if stored := must[elevate.Request](t)(e2.store.GetRequest(ctx, r2.ID)); stored.Approvals() != 2 || stored.Status != elevate.StatusPending {
		t.Fatalf("carol's approval should be recorded, the request pending: %+v", stored)
	}
}

// Concurrent final approvers while the earlier approver is being removed:
// whatever the interleaving, one outcome, a grant only on approvals counted
// by the commit, and never a request stuck Pending with two current members'
// approvals recorded.
func TestNOfMConcurrentFinalApprovalsAndRemoval(t *testing.T) {
	for round := 0; round < 5; round++ {
		e, r := nOfMEnv(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var decided [2]error
		wg.Add(3)
		go func() {
			defer wg.Done()
			<-start
			if _, err := e.svc.RemoveGroupMember(ctx, admin, "ops", "bob@example.com"); err != nil {
				t.Error(err)
			}
		}()
		for i, who := range []string{"carol@example.com", "dave@example.com"} {
			go func() {
				defer wg.Done()
				<-start
				_, decided[i] = e.svc.Decide(ctx, caller(who), r.ID, app.Approve, "")
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range decided {
			if err != nil && !errors.Is(err, elevate.ErrConflict) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		final := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
		g := grantOf(t, e, "alice@example.com", "Two")
		current := 0
		for _, d := range final.Decisions {
			if d.Decision == elevate.DecisionApprove && d.By != "bob@example.com" {
				current++
			}
		}
		switch final.Status {
		case elevate.StatusApproved:
			if g == nil || g.RequestID != r.ID || len(final.CountedBy) != 2 {
				t.Fatalf("round %d: approved %+v grant %+v", round, final, g)
			}
		case elevate.StatusPending:
			if g != nil || current >= 2 {
				t.Fatalf("round %d: pending with grant %+v after %d current approvals", round, g, current)
			}
		default:
			t.Fatalf("round %d: status %s", round, final.Status)
		}
	}
}

// Issue 10 item 7: a group cannot be deleted while a pending request or a
// live grant names it, even after every policy stopped naming it; lapsed
// requests stop blocking the moment they lapse.
func TestGroupDeleteRefusedWhileRequestsNameIt(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.group(t, "sec", "bob@example.com")
	e.enable(t, "ops")
	p := e.policy(t, "Move", "Manual", "sec", 1)
	moveAway := func() {
		e.clock.Advance(time.Second)
		must[elevate.Policy](t)(e.svc.UpdatePolicy(ctx, admin, p.ID, elevate.PolicyInput{ApprovalType: "Manual", ApproverGroup: aws.String("ops")}))
	}
	r := submit(t, e, "alice@example.com", "Move")
	moveAway()
	if r := e.refs(t, "sec"); r != "0" {
		t.Fatalf("sec refs %s", r)
	}
	wantErr(t, e.svc.DeleteGroup(ctx, admin, "sec"), elevate.ErrGroupInUse) // pending
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), r.ID, app.Approve, ""))
	wantErr(t, e.svc.DeleteGroup(ctx, admin, "sec"), elevate.ErrGroupInUse) // live grant
	// A refused delete leaves nothing locked: new requests naming the group
	// still go through (here one written directly, as the policy moved).
	other := r
	other.ID, other.Requester, other.Status, other.Decisions, other.CountedBy, other.GrantExpiresAt = "other-1", "zoe@example.com", elevate.StatusPending, nil, nil, nil
	other.ExpiresAt = e.clock.Now().Add(time.Hour)
	if err := e.store.CreateRequest(ctx, other); err != nil {
		t.Fatalf("request after a refused delete: %v", err)
	}
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("alice@example.com"), r.ID, app.Revoke, "done"))
	wantErr(t, e.svc.DeleteGroup(ctx, admin, "sec"), elevate.ErrGroupInUse) // zoe's is pending
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("zoe@example.com"), other.ID, app.Cancel, ""))
	if err := e.svc.DeleteGroup(ctx, admin, "sec"); err != nil {
		t.Fatalf("delete once nothing names it: %v", err)
	}
	// A request naming a deleted group is refused, not left orphaned.
	other.ID, other.Requester = "other-2", "yan@example.com"
	wantErr(t, e.store.CreateRequest(ctx, other), elevate.ErrUnknownGroup)
}

func TestGroupDeleteNotBlockedByLapsedRequests(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "bob@example.com")
	e.group(t, "sec", "bob@example.com")
	e.enable(t, "ops")
	p := e.policy(t, "Move", "Manual", "sec", 1)
	q := e.policy(t, "Grant", "Manual", "sec", 1)
	pending := submit(t, e, "alice@example.com", "Move")
	granted := submit(t, e, "alice@example.com", "Grant")
	must[elevate.Request](t)(e.svc.Decide(ctx, caller("bob@example.com"), granted.ID, app.Approve, ""))
	for _, id := range []string{p.ID, q.ID} {
		e.clock.Advance(time.Second)
		must[elevate.Policy](t)(e.svc.UpdatePolicy(ctx, admin, id, elevate.PolicyInput{ApprovalType: "Manual", ApproverGroup: aws.String("ops")}))
	}
	wantErr(t, e.svc.DeleteGroup(ctx, admin, "sec"), elevate.ErrGroupInUse)
	// Both lapse by time alone: nothing is written, TTL has not run.
	e.clock.Advance(25 * time.Hour)
	if v := must[elevate.Request](t)(e.svc.GetRequest(ctx, admin, pending.ID)); v.Status != elevate.StatusExpired {
		t.Fatalf("pending request should read as expired: %s", v.Status)
	}
	if err := e.svc.DeleteGroup(ctx, admin, "sec"); err != nil {
		t.Fatalf("lapsed requests still block the delete: %v", err)
	}
}

// A delete racing requests that name the group: either the delete wins and no
// request naming it was created, or it is refused.
func TestGroupDeleteRacingRequestCreation(t *testing.T) {
	for round := 0; round < 5; round++ {
		e := newEnv(t)
		e.group(t, "sec", "bob@example.com")
		base := elevate.Request{Type: elevate.TypeTask, Scope: "Exchange", Name: "Move", Reason: "r", DurationHours: 1,
			Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual, ApproverGroup: "sec", RequiredApprovals: 1,
			Decisions: []elevate.Decision{}, CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour), Version: 1}
		var wg sync.WaitGroup
		start := make(chan struct{})
		created := make([]error, 6)
		var deleted error
		for i := range created {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := base
				r.ID, r.Requester = fmt.Sprintf("r%d-%d", round, i), fmt.Sprintf("u%d@example.com", i)
				<-start
				created[i] = e.store.CreateRequest(ctx, r)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			deleted = e.svc.DeleteGroup(ctx, admin, "sec")
		}()
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range created {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, elevate.ErrUnknownGroup), errors.Is(err, elevate.ErrConcurrentUpdate):
			default:
				t.Fatalf("create: %v", err)
			}
		}
		switch {
		case deleted == nil && ok > 0:
			t.Fatalf("round %d: group deleted while %d requests name it", round, ok)
		case deleted != nil && !errors.Is(deleted, elevate.ErrGroupInUse) && !errors.Is(deleted, elevate.ErrConcurrentUpdate):
			t.Fatalf("delete: %v", deleted)
		}
	}
}
