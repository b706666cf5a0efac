package dynamo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// txRecorder is e's store and service over a client that records the keys
// of every transaction (writes and condition checks) since the last take.
type txRecorder struct {
	mu   sync.Mutex
	keys map[string]bool
	svc  app.Service
}

func recordTx(e *env) *txRecorder {
	r := &txRecorder{keys: map[string]bool{}}
	capture := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("capture", func(c context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					r.mu.Lock()
					for _, k := range writtenKeys(in.Parameters) {
						r.keys[k] = true
					}
					r.mu.Unlock()
				}
				return next.HandleInitialize(c, in)
			}), middleware.After)
		})
	}
	r.svc = *e.svc
	r.svc.Store = dynamo.New(dynamodb.New(e.client.Options(), capture), e.table, pageKey)
	return r
}

func (r *txRecorder) take() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keys
	r.keys = map[string]bool{}
	return k
}

// Issue 17 item 12: a decision touches the items of the approvers it rests
// on, not an item every decision for the group touches. Approvals, a
// denial, a revocation as an approver and final N-of-M approvals for one
// group, by different approvers on different requests: two decisions share
// an item only if they rest on a common approver.
func TestDecisionsForAGroupShareNoItem(t *testing.T) {
	e := newEnv(t)
	bob, carol, dave, erin, frank := "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com", "frank@example.com"
	e.group(t, "sec", bob, carol, dave, erin, frank)
	e.enable(t, "sec")
	e.policy(t, "One", "Manual", "", 1)
	e.policy(t, "Two", "Manual", "sec", 2)
	r1 := submit(t, e, "alice@example.com", "One")
	r2 := submit(t, e, "ann@example.com", "One")
	r3 := submit(t, e, "amy@example.com", "One")
	r4 := submit(t, e, "alice@example.com", "Two")
	r5 := submit(t, e, "ann@example.com", "Two")

	rec := recordTx(e)
	type decided struct {
		name    string
		request string
		restsOn []string
		keys    map[string]bool
	}
	var all []decided
	decide := func(name, who string, r elevate.Request, kind elevate.DecisionKind, want elevate.Status, restsOn ...string) {
		t.Helper()
		rec.take()
		got, err := rec.svc.Decide(ctx, caller(who), r.ID, kind, name)
		if err != nil || got.Status != want {
			t.Fatalf("%s: %v %+v", name, err, got)
		}
		all = append(all, decided{name, r.ID, restsOn, rec.take()})
	}
	decide("bob approves r1", bob, r1, app.Approve, elevate.StatusApproved, bob)
	decide("carol denies r2", carol, r2, app.Deny, elevate.StatusDenied, carol)
	decide("dave approves r3", dave, r3, app.Approve, elevate.StatusApproved, dave)
	decide("erin revokes r3", erin, r3, app.Revoke, elevate.StatusRevoked, erin)
	decide("bob approves r4", bob, r4, app.Approve, elevate.StatusPending, bob)
	decide("carol completes r4", carol, r4, app.Approve, elevate.StatusApproved, carol, bob)
	decide("dave approves r5", dave, r5, app.Approve, elevate.StatusPending, dave)
	decide("frank completes r5", frank, r5, app.Approve, elevate.StatusApproved, frank, dave)

	pairs := 0
	for i, a := range all {
		members := 0
		for k := range a.keys {
			if strings.HasPrefix(k, tabledef.PrefixMembers) {
				members++
			}
		}
		if members != len(a.restsOn) {
			t.Errorf("%s: %d member items checked, want %d: %v", a.name, members, len(a.restsOn), a.keys)
		}
		for _, b := range all[i+1:] {
			if a.request == b.request || slices.ContainsFunc(a.restsOn, func(p string) bool { return slices.Contains(b.restsOn, p) }) {
				continue
			}
			pairs++
			for k := range a.keys {
				if b.keys[k] {
					t.Errorf("%q and %q both touch %s", a.name, b.name, k)
				}
			}
		}
	}
	if pairs < 15 {
		t.Fatalf("only %d pairs compared", pairs)
	}
}

func (e *env) memberItems(t *testing.T, group string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewQueryPaginator(e.client, &dynamodb.QueryInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tabledef.PrefixMembers + group}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Items)
	}
	return n
}

// A group deleted and created again under its name never inherits the old
// group's member items, even those a dead deleter left behind: bob, a
// member of the old group only, cannot decide for the new one at commit.
func TestRecreatedGroupIgnoresTheOldGroupsMembers(t *testing.T) {
	e := newEnv(t)
	bob, carol := "bob@example.com", "carol@example.com"
	e.group(t, "ops", bob, carol)
	old := e.read(t, "ops")
	if err := e.svc.DeleteGroup(ctx, admin, "ops"); err != nil {
		t.Fatal(err)
	}
	if n := e.memberItems(t, "ops"); n != 0 {
		t.Fatalf("a delete left %d member items", n)
	}
	// As if the deleter died before removing them.
	if _, err := e.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table),
		Item: merge(dynamo.MemberKey("ops", old.Generation, bob), map[string]types.AttributeValue{"kind": &types.AttributeValueMemberS{Value: dynamo.KindMember}})}); err != nil {
		t.Fatal(err)
	}
	e.group(t, "ops", carol)
	cur := e.read(t, "ops")
	if cur.Generation == "" || cur.Generation == old.Generation {
		t.Fatalf("generations: old %q, new %q", old.Generation, cur.Generation)
	}
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)
	r := submit(t, e, "alice@example.com", "Move")
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	// bob's approval as a stale reader of the membership would make it.
	next := must[elevate.Request](t)(stored.Approve(elevate.Decider{Principal: bob, InGroup: true, Via: "ops"}, "", e.clock.Now()))
	wantErr(t, e.store.SaveDecision(ctx, stored, next, cur, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	if got := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID)); got.Status != elevate.StatusPending {
		t.Fatalf("an old member approved for the new group: %+v", got)
	}
	_, err := e.svc.Decide(ctx, caller(bob), r.ID, app.Approve, "")
	wantErr(t, err, elevate.ErrNotApprover)
	must[elevate.Request](t)(e.svc.Decide(ctx, caller(carol), r.ID, app.Approve, ""))
}

func merge(a, b map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// A group too big for one transaction (up to 500 members, 100 items per
// transaction) gets its member items ahead of its group item; a create that
// loses to an existing group removes the ones it wrote; the items follow
// every change, and a member removed between the read and the commit
// refuses the decision.
func TestBigGroupMemberItems(t *testing.T) {
	e := newEnv(t)
	var members []string
	for i := range 150 {
		members = append(members, fmt.Sprintf("m%03d@example.com", i))
	}
	e.group(t, "big", members...)
	if n := e.memberItems(t, "big"); n != 150 {
		t.Fatalf("%d member items for 150 members", n)
	}
	_, err := e.svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: "big", Members: append(slices.Clone(members), "x@example.com")})
	wantErr(t, err, elevate.ErrGroupExists)
	if n := e.memberItems(t, "big"); n != 150 {
		t.Fatalf("a refused create left member items: %d", n)
	}
	e.enable(t, "big")
	e.policy(t, "Move", "Manual", "", 1)
	r := submit(t, e, "alice@example.com", "Move")
	read := e.read(t, "big")
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	next := must[elevate.Request](t)(stored.Approve(elevate.Decider{Principal: members[140], InGroup: true, Via: "big"}, "", e.clock.Now()))
	e.removeMember(t, "big", members[140])
	if n := e.memberItems(t, "big"); n != 149 {
		t.Fatalf("%d member items after a removal", n)
	}
	wantErr(t, e.store.SaveDecision(ctx, stored, next, read, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	must[elevate.Group](t)(e.svc.AddGroupMember(ctx, admin, "big", members[140]))
	if err := e.store.SaveDecision(ctx, stored, next, read, "", e.clock.Now()); err != nil {
		t.Fatalf("a member back in the group: %v", err)
	}
}

// v1.1 tables hold groups without member items. Until its next membership
// change such a group is checked on its group item as before (a removal
// between the read and the commit still wins); that change, or adding an
// existing member, gives it member items, with the audit seeing only the
// membership change.
func TestGroupWithoutMemberItemsMigrates(t *testing.T) {
	e := newEnv(t)
	bob, carol := "bob@example.com", "carol@example.com"
	e.group(t, "ops", bob, carol)
	e.legacy(t, "ops")
	e.enable(t, "ops")
	e.policy(t, "Move", "Manual", "", 1)

	r := submit(t, e, "alice@example.com", "Move")
	read := e.read(t, "ops")
	if read.Generation != "" {
		t.Fatalf("legacy group has generation %q", read.Generation)
	}
	stored := must[elevate.Request](t)(e.store.GetRequest(ctx, r.ID))
	next := must[elevate.Request](t)(stored.Approve(elevate.Decider{Principal: bob, InGroup: true, Via: "ops"}, "", e.clock.Now()))
	e.removeMember(t, "ops", bob) // the change that migrates it
	wantErr(t, e.store.SaveDecision(ctx, stored, next, read, "", e.clock.Now()), elevate.ErrConcurrentUpdate)
	if cur := e.read(t, "ops"); cur.Generation == "" || e.memberItems(t, "ops") != 1 {
		t.Fatalf("not migrated by a removal: %+v, %d items", cur, e.memberItems(t, "ops"))
	}
	must[elevate.Request](t)(e.svc.Decide(ctx, caller(carol), r.ID, app.Approve, ""))

	// Adding an existing member migrates without changing the members.
	e.group(t, "sec", bob, carol)
	e.legacy(t, "sec")
	must[elevate.Group](t)(e.svc.AddGroupMember(ctx, admin, "sec", carol))
	if cur := e.read(t, "sec"); cur.Generation == "" || fmt.Sprint(cur.Members) != fmt.Sprint([]string{bob, carol}) || e.memberItems(t, "sec") != 2 {
		t.Fatalf("not migrated by an idempotent add: %+v, %d items", cur, e.memberItems(t, "sec"))
	}
}

// legacy makes group look as v1.1 wrote it: no generation, no member items.
func (e *env) legacy(t *testing.T, group string) {
	t.Helper()
	if _, err := e.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: tabledef.PartitionGroups}, "SK": &types.AttributeValueMemberS{Value: group}},
		UpdateExpression: aws.String("REMOVE gen")}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tabledef.PrefixMembers + group}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if _, err := e.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
			t.Fatal(err)
		}
	}
}
