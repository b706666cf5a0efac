package identitycenter

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

const (
	tInstance = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
	tPS       = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	tStore    = "d-0123456789"
	tAccount  = "111122223333"
	alice     = "alice@example.com"
)

// records is the real table for assignment records (versioned conditional
// writes against DynamoDB Local), with the requests and policies the test
// decides held in memory.
type records struct {
	*dynamo.Store
	mu       sync.Mutex
	requests map[string]elevate.Request
	policies []elevate.Policy
}

func (r *records) GetRequest(_ context.Context, id string) (elevate.Request, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req, ok := r.requests[id]
	if !ok {
		return req, elevate.ErrRequestNotFound
	}
	return req, nil
}

func (r *records) RequestsByID(_ context.Context, ids []string) ([]elevate.Request, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []elevate.Request
	for _, id := range ids {
		if req, ok := r.requests[id]; ok {
			out = append(out, req)
		}
	}
	return out, nil
}

func (r *records) ListPolicies(context.Context) ([]elevate.Policy, error) { return r.policies, nil }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type fixture struct {
	ap     *Applier
	recs   *records
	clock  *clock
	admin  *awsapi.SSOAdmin
	userID string
}

func newFixture(t *testing.T, t0 time.Time) *fixture {
	t.Helper()
	db, _ := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("ic")
	if err := dynamo.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	e, err := awsapi.Start(awsapi.Options{ProvisioningDelay: 20 * time.Millisecond,
		Keys: []awsapi.Identity{{AccessKeyID: emulator.AccessKeyID, SecretAccessKey: emulator.SecretAccessKey, Account: "000000000000"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if err := errors.Join(e.SSOAdmin.AddInstance(tInstance, tStore), e.SSOAdmin.AddPermissionSet(tInstance, tPS, "DatabaseAdmin", "PT1H")); err != nil {
		t.Fatal(err)
	}
	userID, err := e.IdentityStore.AddUser(tStore, alice, alice)
	if err != nil {
		t.Fatal(err)
	}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.Endpoint), Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID, emulator.SecretAccessKey, "")}
	c := &clock{t: t0}
	binding := &elevate.IdentityCenterBinding{InstanceArn: tInstance, PermissionSetArns: []string{tPS}, AccountIDs: []string{tAccount}}
	recs := &records{Store: dynamo.New(db, table, nil), requests: map[string]elevate.Request{},
		policies: []elevate.Policy{{ID: "role:aws:databaseadmin", Type: elevate.TypeRole, IdentityCenter: binding}}}
	ap := &Applier{Records: recs, Clock: c.now, Log: slog.New(slog.DiscardHandler),
		AWS: &AWS{Admin: ssoadmin.NewFromConfig(cfg), Users: identitystore.NewFromConfig(cfg), Poll: 10 * time.Millisecond, Backoff: 20 * time.Millisecond, Deadline: 20 * time.Second, Clock: c.now}}
	return &fixture{ap: ap, recs: recs, clock: c, admin: e.SSOAdmin, userID: userID}
}

// grant records an approved request of alice live on [start, end).
func (f *fixture) grant(id string, start, end time.Time) elevate.Request {
	r := elevate.Request{ID: id, Requester: alice, Type: elevate.TypeRole, Scope: "aws", Name: "DatabaseAdmin",
		Status: elevate.StatusApproved, GrantStartsAt: &start, GrantExpiresAt: &end, ExpiresAt: end,
		IdentityCenter: &elevate.IdentityCenterGrant{UserID: f.userID, UserName: alice,
			Assignments: []elevate.Assignment{{InstanceArn: tInstance, PermissionSetArn: tPS, AccountID: tAccount}}}}
	f.recs.mu.Lock()
	f.recs.requests[id] = r
	f.recs.mu.Unlock()
	return r
}

func (f *fixture) assigned() bool {
	return slices.Contains(f.admin.Assignments(), awsapi.Assignment{InstanceArn: tInstance, PermissionSetArn: tPS, AccountID: tAccount, PrincipalType: "USER", PrincipalID: f.userID})
}

func (f *fixture) record(t *testing.T) elevate.AssignmentRecord {
	t.Helper()
	rec, _, err := f.recs.GetAssignmentRecord(context.Background(), f.userID, elevate.Assignment{InstanceArn: tInstance, PermissionSetArn: tPS, AccountID: tAccount})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Expiry needs no event: the sweep, on its clock, ends the first grant
// (kept: the second needs it), then the second (deleted, sessions denied),
// and once the permission set's session duration has passed, drops the deny.
func TestSweepEndsExpiredGrantsOverlapSafe(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, t0.Add(31*time.Minute))
	ctx := context.Background()
	first := f.grant("r1", t0, t0.Add(time.Hour))
	second := f.grant("r2", t0.Add(30*time.Minute), t0.Add(2*time.Hour))
	for _, r := range []elevate.Request{first, second} {
		if err := f.ap.StartGrant(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if rec := f.record(t); !f.assigned() || !slices.Equal(rec.Holders, []string{"r1", "r2"}) {
		t.Fatalf("after both starts: assigned %v, holders %v", f.assigned(), rec.Holders)
	}

	f.clock.set(t0.Add(time.Hour + time.Second))
	if err := f.ap.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	rec := f.record(t)
	if !f.assigned() || rec.Action != elevate.ActionAssignmentKept || !slices.Equal(rec.KeptFor, []string{"r2"}) || rec.RequestID != "r1" {
		t.Fatalf("first expired: assigned %v, record %+v", f.assigned(), rec)
	}

	ended := t0.Add(2*time.Hour + time.Second)
	f.clock.set(ended)
	if err := f.ap.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	rec = f.record(t)
	policy := f.admin.ProvisionedPolicy(tPS, tAccount)
	if f.assigned() || rec.Action != elevate.ActionAssignmentDeleted || rec.State != elevate.AssignmentAbsent {
		t.Fatalf("second expired: assigned %v, record %+v", f.assigned(), rec)
	}
	if !strings.Contains(policy, `"aws:TokenIssueTime":"`+ended.Format(time.RFC3339)+`"`) || !strings.Contains(policy, "*:"+alice) {
		t.Fatalf("session deny not provisioned: %s", policy)
	}

	f.clock.set(ended.Add(time.Hour)) // every session issued before the deny has expired
	if err := f.ap.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if p := f.admin.ProvisionedPolicy(tPS, tAccount); strings.Contains(p, "Deny") {
		t.Fatalf("the deny outlived the session duration: %s", p)
	}
}

// A grant starting while the last holder's end deletes the assignment never
// loses it: the start waits for the delete (ErrDeleteUnderWay, retried as
// the stream would), then assigns again.
func TestStartRacingTheLastEndKeepsTheAssignment(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, t0.Add(time.Minute))
	ctx := context.Background()
	for i := range 5 {
		old := f.grant("old"+string(rune('a'+i)), t0, t0.Add(time.Hour))
		if err := f.ap.StartGrant(ctx, old); err != nil {
			t.Fatal(err)
		}
		ended := old
		ended.Status = elevate.StatusRevoked
		f.recs.mu.Lock()
		f.recs.requests[old.ID] = ended
		f.recs.mu.Unlock()
		next := f.grant("new"+string(rune('a'+i)), t0, t0.Add(time.Hour))
		// The delete is refused once, as AWS does while another operation
		// runs: the window in which a start could slip in is wide open.
		f.admin.Faults.Fail("DeleteAccountAssignment", 1, &awsapi.Error{Status: 409, Code: "ConflictException", Message: "busy", Sender: true})
		var wg sync.WaitGroup
		var endErr, startErr error
		wg.Go(func() { endErr = f.ap.EndGrant(ctx, ended) })
		wg.Go(func() {
			for {
				startErr = f.ap.StartGrant(ctx, next)
				if !errors.Is(startErr, ErrDeleteUnderWay) {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		wg.Wait()
		if endErr != nil || startErr != nil {
			t.Fatalf("round %d: end %v, start %v", i, endErr, startErr)
		}
		if rec := f.record(t); !f.assigned() || !slices.Contains(rec.Holders, next.ID) || rec.State != elevate.AssignmentPresent {
			t.Fatalf("round %d: assigned %v, record %+v", i, f.assigned(), rec)
		}
		// Leave the round with no live holder.
		done := next
		done.Status = elevate.StatusRevoked
		f.recs.mu.Lock()
		f.recs.requests[next.ID] = done
		f.recs.mu.Unlock()
		if err := f.ap.EndGrant(ctx, done); err != nil {
			t.Fatal(err)
		}
	}
}

// Without a configured store ID the adapter finds the instance's store
// through ListInstances; a principal with no user is the domain's 422.
func TestResolveUserFindsTheInstancesStore(t *testing.T) {
	f := newFixture(t, time.Now())
	dir := f.ap.AWS.(*AWS)
	u, err := dir.ResolveUser(context.Background(), tInstance, alice)
	if err != nil || u.ID != f.userID || u.UserName != alice {
		t.Fatalf("ResolveUser = %+v, %v; want %s", u, err, f.userID)
	}
	if _, err := dir.ResolveUser(context.Background(), tInstance, "mallory@example.com"); !errors.Is(err, elevate.ErrNoIdentityCenterUser) {
		t.Fatalf("unknown principal: %v, want ErrNoIdentityCenterUser", err)
	}
	if _, err := dir.ResolveUser(context.Background(), "arn:aws:sso:::instance/ssoins-ffffffffffffffff", alice); !errors.Is(err, elevate.ErrUnprocessable) {
		t.Fatalf("unknown instance: %v, want a 422", err)
	}
}

// A scheduled grant is judged at its start against the target's policy as
// it is then: a policy changed after the approval so that it no longer
// allows the grant, deleted, or no longer binding the assignment, leaves
// the assignment uncreated and failed with the reason; an unchanged policy
// starts it.
func TestScheduledStartRejudgesThePolicy(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Second)
	start, end := t0.Add(10*time.Minute), t0.Add(70*time.Minute)
	changed := t0.Add(5 * time.Minute)
	for _, tc := range []struct {
		name   string
		change func(p []elevate.Policy) []elevate.Policy
		reason string // "" when the grant should start
	}{
		{"unchanged", func(p []elevate.Policy) []elevate.Policy { return p }, ""},
		{"more approvals", func(p []elevate.Policy) []elevate.Policy {
			p[0].ApprovalType, p[0].RequiredApprovals, p[0].UpdatedAt = elevate.ApprovalManual, 2, changed
			return p
		}, "it no longer allows the grant"},
		{"deleted", func([]elevate.Policy) []elevate.Policy { return nil }, "the policy was deleted"},
		{"binding moved", func(p []elevate.Policy) []elevate.Policy {
			b := *p[0].IdentityCenter
			b.AccountIDs, p[0].IdentityCenter, p[0].UpdatedAt = []string{"444455556666"}, &b, changed
			return p
		}, "its Identity Center binding no longer names the assignment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, t0)
			ctx := context.Background()
			r := f.grant("r1", start, end)
			r.CreatedAt = t0.Add(-time.Minute)
			r.Decisions = []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, At: t0}}
			f.recs.mu.Lock()
			f.recs.requests[r.ID] = r
			f.recs.policies[0].ApprovalType, f.recs.policies[0].RequiredApprovals, f.recs.policies[0].UpdatedAt = elevate.ApprovalManual, 1, t0.Add(-time.Hour)
			f.recs.mu.Unlock()
			if err := f.ap.StartGrant(ctx, r); err != nil {
				t.Fatal(err)
			}
			f.recs.mu.Lock()
			f.recs.policies = tc.change(f.recs.policies)
			f.recs.mu.Unlock()

			f.clock.set(start.Add(time.Second))
			if err := f.ap.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			prov, err := f.recs.GetProvisioning(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(prov) != 1 {
				t.Fatalf("provisioning %+v, want one assignment", prov)
			}
			if due, err := f.recs.DueStarts(ctx, end); err != nil || len(due) != 0 {
				t.Fatalf("scheduled start left behind: %+v, %v", due, err)
			}
			if tc.reason == "" {
				if !f.assigned() || prov[0].Status != elevate.ProvisioningDone {
					t.Fatalf("unchanged policy: assigned %v, provisioning %+v", f.assigned(), prov[0])
				}
				return
			}
			want := "policy changed before the grant's start: " + tc.reason
			if f.assigned() || prov[0].Status != elevate.ProvisioningFailed || prov[0].Reason != want {
				t.Fatalf("assigned %v, provisioning %+v; want failed with %q", f.assigned(), prov[0], want)
			}
			if rec := f.record(t); rec.Action != elevate.ActionAssignmentFailed || rec.Reason != want || len(rec.Holders) != 0 {
				t.Fatalf("record %+v, want assignment.failed with no holder", rec)
			}
		})
	}
}
