package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

var pageKey = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	store  *dynamo.Store
	client *dynamodb.Client
	table  string
	clock  *clock
	svc    *app.Service
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	client, _ := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("elevate")
	if err := dynamo.CreateTable(context.Background(), client, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	st := dynamo.New(client, table, pageKey)
	// The wall clock, not a fixed date: grant slots and group holds carry a
	// ttl that DynamoDB Local's TTL sweeper judges by the wall clock, and a
	// ttl long past may be swept mid-test.
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	var idMu sync.Mutex
	n := 0
	svc := &app.Service{Store: st, Clock: c.Now, NewID: func() string {
		idMu.Lock()
		defer idMu.Unlock()
		n++
		return fmt.Sprintf("id%04d", n)
	}}
	return &env{store: st, client: client, table: table, clock: c, svc: svc}
}

var ctx = context.Background()

var admin = app.Caller{Principal: "admin@example.com", Groups: []string{app.DefaultAdminGroup}}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func ev(action string) app.Event {
	return app.Event{ID: fmt.Sprintf("ev-%d", time.Now().UnixNano()), Time: time.Now(), Action: action, Actor: "admin@example.com"}
}

// read is group as the service reads it before a decision.
func (e *env) read(t *testing.T, name string) elevate.Group {
	t.Helper()
	return must[elevate.Group](t)(e.store.GetGroup(ctx, name))
}

func (e *env) group(t *testing.T, name string, members ...string) {
	t.Helper()
	if members == nil {
		members = []string{}
	}
	must[elevate.Group](t)(e.svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: name, Members: members}))
}

func (e *env) enable(t *testing.T, group string) {
	t.Helper()
	on := true
	must[elevate.Settings](t)(e.svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{Enabled: &on, DefaultApproverGroup: &group}))
}

func (e *env) policy(t *testing.T, name, approval, group string, required int) elevate.Policy {
	t.Helper()
	in := elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: name, ApprovalType: approval, RequiredApprovals: &required}
	if group != "" {
		in.ApproverGroup = &group
	}
	return must[elevate.Policy](t)(e.svc.CreatePolicy(ctx, admin, in))
}

func (e *env) refs(t *testing.T, group string) string {
	t.Helper()
	out, err := e.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "GROUP"}, "SK": &types.AttributeValueMemberS{Value: group}}})
	if err != nil || out.Item == nil {
		t.Fatalf("group %s: %v", group, err)
	}
	return out.Item["refs"].(*types.AttributeValueMemberN).Value
}

func TestCreateTableIsIdempotentAndMatchesTabledef(t *testing.T) {
	e := newEnv(t)
	if err := dynamo.CreateTable(ctx, e.client, e.table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	d := must[*dynamodb.DescribeTableOutput](t)(e.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(e.table)}))
	if len(d.Table.GlobalSecondaryIndexes) != 4 || d.Table.StreamSpecification == nil || d.Table.StreamSpecification.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Fatalf("table: %+v", d.Table)
	}
	ttl := must[*dynamodb.DescribeTimeToLiveOutput](t)(e.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(e.table)}))
	if ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "ttl" {
		t.Fatalf("ttl: %+v", ttl.TimeToLiveDescription)
	}
}

func TestSettingsVersionedAndGroupChecked(t *testing.T) {
	e := newEnv(t)
	s := must[elevate.Settings](t)(e.store.GetSettings(ctx))
	if s.Version != 0 || s.Enabled || s.MaxPolicies != elevate.DefaultMaxPolicies {
		t.Fatalf("defaults: %+v", s)
	}
	on, ghost := true, "ghost"
	_, err := e.svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{Enabled: &on, DefaultApproverGroup: &ghost})
	wantErr(t, err, elevate.ErrUnknownGroup)
	if s := must[elevate.Settings](t)(e.store.GetSettings(ctx)); s.Version != 0 {
		t.Fatalf("a refused update was stored: %+v", s)
	}

	e.group(t, "ops", "a@example.com")
	e.group(t, "lock")
	e.enable(t, "ops")
	s = must[elevate.Settings](t)(e.store.GetSettings(ctx))
	if !s.Enabled || s.DefaultApproverGroup != "ops" || s.Version != 1 || s.UpdatedBy != admin.Principal {
		t.Fatalf("stored: %+v", s)
	}
	if r := e.refs(t, "ops"); r != "1" {
		t.Fatalf("ops refs %s", r)
	}
	wantErr(t, e.store.DeleteGroup(ctx, "ops", ev("group.deleted")), elevate.ErrGroupInUse)

	// A writer holding a stale version loses.
	stale := s
	stale.Version = 0
	next := s
	next.Version = 2
	wantErr(t, e.store.SaveSettings(ctx, stale, next, ev("settings.updated")), elevate.ErrConcurrentUpdate)

	lock, enabled := "lock", true
	must[elevate.Settings](t)(e.svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{DefaultApproverGroup: &lock, Lockbox: &elevate.LockboxPatch{Enabled: &enabled, ApproverGroup: &lock}}))
	if r := e.refs(t, "ops"); r != "0" {
		t.Fatalf("ops refs after switching away: %s", r)
	}
	if r := e.refs(t, "lock"); r != "1" {
		t.Fatalf("lock refs (default and lockbox count once): %s", r)
	}
	if err := e.store.DeleteGroup(ctx, "ops", ev("group.deleted")); err != nil {
		t.Fatalf("delete unused group: %v", err)
	}
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops", "b@example.com", "a@example.com")
	e.group(t, "empty")
	_, err := e.svc.CreateGroup(ctx, admin, elevate.NewGroupInput{Name: "ops", Members: []string{}})
	wantErr(t, err, elevate.ErrGroupExists)

	g := must[elevate.Group](t)(e.store.GetGroup(ctx, "ops"))
	if fmt.Sprint(g.Members) != "[a@example.com b@example.com]" {
		t.Fatalf("members %v", g.Members)
	}
	if g := must[elevate.Group](t)(e.store.GetGroup(ctx, "empty")); g.Members == nil || len(g.Members) != 0 {
		t.Fatalf("empty group members %#v", g.Members)
	}
	all := must[[]elevate.Group](t)(e.store.ListGroups(ctx))
	if len(all) != 2 || all[0].Name != "empty" || all[1].Name != "ops" {
		t.Fatalf("list %+v", all)
	}

	must[elevate.Group](t)(e.svc.AddGroupMember(ctx, admin, "empty", "C@Example.com"))
	must[elevate.Group](t)(e.svc.AddGroupMember(ctx, admin, "empty", "c@example.com"))
	if g := must[elevate.Group](t)(e.store.GetGroup(ctx, "empty")); fmt.Sprint(g.Members) != "[c@example.com]" {
		t.Fatalf("after add: %v", g.Members)
	}
	must[elevate.Group](t)(e.svc.RemoveGroupMember(ctx, admin, "empty", "c@example.com"))
	if g := must[elevate.Group](t)(e.store.GetGroup(ctx, "empty")); len(g.Members) != 0 {
		t.Fatalf("after remove: %v", g.Members)
	}
	wantErr(t, e.store.RemoveGroupMember(ctx, "ops", "z@example.com", ev("x")), elevate.ErrMemberNotFound)
	wantErr(t, e.store.RemoveGroupMember(ctx, "nope", "a@example.com", ev("x")), elevate.ErrGroupNotFound)
	wantErr(t, e.store.AddGroupMember(ctx, "nope", "a@example.com", ev("x")), elevate.ErrGroupNotFound)
	_, err = e.store.GetGroup(ctx, "nope")
	wantErr(t, err, elevate.ErrGroupNotFound)
	_, err = e.store.GetGroup(ctx, "")
	wantErr(t, err, elevate.ErrGroupNotFound)
	wantErr(t, e.store.DeleteGroup(ctx, "nope", ev("x")), elevate.ErrGroupNotFound)
	if err := e.store.DeleteGroup(ctx, "empty", ev("x")); err != nil {
		t.Fatal(err)
	}
	_, err = e.store.GetGroup(ctx, "empty")
	wantErr(t, err, elevate.ErrGroupNotFound)
}

func TestPoliciesMoveRefsAndCounter(t *testing.T) {
	e := newEnv(t)
	e.group(t, "ops")
	e.group(t, "sec")
	required := 1
	_, err := e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "X", ApprovalType: "Manual", ApproverGroup: aws.String("ghost"), RequiredApprovals: &required})
	wantErr(t, err, elevate.ErrUnknownGroup)
	if all := must[[]elevate.Policy](t)(e.store.ListPolicies(ctx)); len(all) != 0 {
		t.Fatalf("refused policy stored: %+v", all)
	}

	p := e.policy(t, "New-MoveRequest", "Manual", "ops", 2)
	_, err = e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "task", Scope: "exchange", Name: "new-moverequest", ApprovalType: "Auto"})
	wantErr(t, err, elevate.ErrPolicyExists)
	got := must[elevate.Policy](t)(e.store.GetPolicy(ctx, p.ID))
	if got.ID != "task:exchange:new-moverequest" || got.RequiredApprovals != 2 || got.ApproverGroup != "ops" || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("policy %+v", got)
	}
	if r := e.refs(t, "ops"); r != "1" {
		t.Fatalf("ops refs %s", r)
	}
	wantErr(t, e.store.DeleteGroup(ctx, "ops", ev("x")), elevate.ErrGroupInUse)

	e.clock.Advance(time.Second)
	updated := must[elevate.Policy](t)(e.svc.UpdatePolicy(ctx, admin, p.ID, elevate.PolicyInput{ApprovalType: "Manual", ApproverGroup: aws.String("sec")}))
	if r := e.refs(t, "ops"); r != "0" {
		t.Fatalf("ops refs after update %s", r)
	}
	if r := e.refs(t, "sec"); r != "1" {
		t.Fatalf("sec refs after update %s", r)
	}
	// The update was based on p; a second writer still holding p loses.
	wantErr(t, e.store.UpdatePolicy(ctx, p, p, ev("x")), elevate.ErrConcurrentUpdate)
	_, err = e.svc.UpdatePolicy(ctx, admin, p.ID, elevate.PolicyInput{ApprovalType: "Manual", ApproverGroup: aws.String("ghost")})
	wantErr(t, err, elevate.ErrUnknownGroup)

	if err := e.svc.DeletePolicy(ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	if r := e.refs(t, "sec"); r != "0" {
		t.Fatalf("sec refs after delete %s", r)
	}
	_, err = e.store.GetPolicy(ctx, p.ID)
	wantErr(t, err, elevate.ErrPolicyNotFound)
	wantErr(t, e.store.DeletePolicy(ctx, updated, ev("x")), elevate.ErrPolicyNotFound)
	wantErr(t, e.store.UpdatePolicy(ctx, updated, updated, ev("x")), elevate.ErrPolicyNotFound)
	_, err = e.store.GetPolicy(ctx, "")
	wantErr(t, err, elevate.ErrPolicyNotFound)
}

func TestConcurrentCreatesOnOneTargetYieldOnePolicy(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "Same", ApprovalType: "Auto"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, elevate.ErrPolicyExists), errors.Is(err, elevate.ErrConcurrentUpdate):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 || len(must[[]elevate.Policy](t)(e.store.ListPolicies(ctx))) != 1 {
		t.Fatalf("%d creates succeeded", ok)
	}
}

func TestConcurrentCreatesNeverExceedTheCap(t *testing.T) {
	e := newEnv(t)
	const limit = 3
	max := limit
	must[elevate.Settings](t)(e.svc.UpdateSettings(ctx, admin, elevate.SettingsPatch{MaxPolicies: &max}))
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: fmt.Sprintf("T%d", i), ApprovalType: "Auto"})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, elevate.ErrPolicyCap), errors.Is(err, elevate.ErrConcurrentUpdate):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	n := len(must[[]elevate.Policy](t)(e.store.ListPolicies(ctx)))
	if ok > limit || n != ok {
		t.Fatalf("%d creates succeeded, %d stored, cap %d", ok, n, limit)
	}
	// Deleting one frees a place under the cap.
	all := must[[]elevate.Policy](t)(e.store.ListPolicies(ctx))
	if err := e.svc.DeletePolicy(ctx, admin, all[0].ID); err != nil {
		t.Fatal(err)
	}
	if ok == limit {
		if _, err := e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "Again", ApprovalType: "Auto"}); err != nil {
			t.Fatalf("create after delete: %v", err)
		}
		_, err := e.svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "Exchange", Name: "Over", ApprovalType: "Auto"})
		wantErr(t, err, elevate.ErrPolicyCap)
	}
}

type eventsAV = events.DynamoDBAttributeValue

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}
