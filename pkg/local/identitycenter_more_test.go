package local

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
)

// TestIdentityCenterScheduledStart: a scheduled grant's assignment is made
// by the sweep once its start has come, not before.
func TestIdentityCenterScheduledStart(t *testing.T) {
	st, _, alice, bob, aliceID := icStack(t)
	start := time.Now().UTC().Add(4 * time.Second).Truncate(time.Second)
	req := alice.must(201, "POST", "/v1/requests", map[string]any{"type": "Role", "scope": "aws", "name": "DatabaseAdmin",
		"reason": "tonight", "durationHours": 1, "startAt": start.Format(time.RFC3339)})
	id := req["id"].(string)
	bob.must(200, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"})
	for time.Now().Before(start.Add(-100 * time.Millisecond)) {
		if assigned(st, aliceID) {
			t.Fatalf("assigned at %s, before the start %s", time.Now().UTC(), start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, "the assignment after the start", func() bool { return assigned(st, aliceID) })
	t.Logf("assigned %s after the start", time.Since(start))
	eventually(t, "provisioning done", func() bool {
		return strings.Join(provisioningOf(alice.must(200, "GET", "/v1/requests/"+id, nil)), ",") == "done"
	})
}

// TestIdentityCenterReconcile: an assignment of a managed permission set
// that no grant explains is flagged assignment.direct_write; where the
// policy says removeUnmanaged it is removed too (assignment.deleted).
func TestIdentityCenterReconcile(t *testing.T) {
	st, admin, _, _, _ := icStack(t)
	const strictPS = "arn:aws:sso:::permissionSet/ssoins-7223d1e0d1e6a1b5/ps-aaaabbbbccccdddd"
	if err := st.AWS.SSOAdmin.AddPermissionSet(LocalInstanceArn, strictPS, "Strict", "PT1H"); err != nil {
		t.Fatal(err)
	}
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Role", "scope": "aws", "name": "Strict", "approvalType": "Manual",
		"identityCenter": map[string]any{"instanceArn": LocalInstanceArn, "permissionSetArns": []string{strictPS}, "accountIds": []string{icAccount}, "removeUnmanaged": true}})
	mallory, err := st.AWS.IdentityStore.AddUser(LocalIdentityStoreID, "mallory@example.com", "mallory@example.com")
	if err != nil {
		t.Fatal(err)
	}
	byHand := func(ps string) awsapi.Assignment {
		return awsapi.Assignment{InstanceArn: LocalInstanceArn, PermissionSetArn: ps, AccountID: icAccount, PrincipalType: "USER", PrincipalID: mallory}
	}
	st.AWS.SSOAdmin.Assign(byHand(LocalPermissionSetArn))
	st.AWS.SSOAdmin.Assign(byHand(strictPS))
	eventually(t, "both flagged, the strict one removed", func() bool {
		var flagged int
		for _, r := range auditRecords(t, st) {
			if r.Action == "assignment.direct_write" && r.Detail["userId"] == mallory {
				flagged++
			}
		}
		return flagged == 2 && !slices.Contains(st.AWS.SSOAdmin.Assignments(), byHand(strictPS))
	})
	if !slices.Contains(st.AWS.SSOAdmin.Assignments(), byHand(LocalPermissionSetArn)) {
		t.Fatal("removed an unmanaged assignment the policy did not ask to remove")
	}
	eventually(t, "the removal audited", func() bool {
		return slices.ContainsFunc(auditRecords(t, st), func(r auditrecord.Record) bool {
			return r.Action == "assignment.deleted" && r.Detail["userId"] == mallory && strings.Contains(r.Detail["reason"].(string), "removeUnmanaged")
		})
	})
	// Flagged once, not on every sweep.
	time.Sleep(3 * DefaultSweepInterval)
	var flagged int
	for _, r := range auditRecords(t, st) {
		if r.Action == "assignment.direct_write" {
			flagged++
		}
	}
	if flagged != 2 {
		t.Fatalf("%d direct_write records, want 2 (one per assignment)", flagged)
	}
}

// TestIdentityCenterFailures: a ConflictException storm and throttling are
// retried until the assignment provisions; a deleted permission set is
// reported: provisioning failed on the request, assignment.failed in the
// trail, an email to the requester and the admins, and no assignment left.
func TestIdentityCenterFailures(t *testing.T) {
	st, admin, alice, bob, aliceID := icStack(t)
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "elevate-admins", "members": []string{"admin@example.com"}})
	conflict := &awsapi.Error{Status: http.StatusConflict, Code: "ConflictException", Message: "Another operation is in progress", Sender: true}
	st.AWS.SSOAdmin.Faults.Fail("CreateAccountAssignment", 4, conflict)
	st.AWS.SSOAdmin.Faults.Throttle(3)
	req := alice.must(201, "POST", "/v1/requests", map[string]any{"type": "Role", "scope": "aws", "name": "DatabaseAdmin", "reason": "storm", "durationHours": 1})
	id := req["id"].(string)
	bob.must(200, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"})
	eventually(t, "provisioned despite the storm", func() bool {
		return strings.Join(provisioningOf(alice.must(200, "GET", "/v1/requests/"+id, nil)), ",") == "done"
	})
	if !assigned(st, aliceID) {
		t.Fatal("done but not assigned")
	}

	const gonePS = "arn:aws:sso:::permissionSet/ssoins-7223d1e0d1e6a1b5/ps-eeeeffff00001111"
	if err := st.AWS.SSOAdmin.AddPermissionSet(LocalInstanceArn, gonePS, "Gone", "PT1H"); err != nil {
		t.Fatal(err)
	}
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Role", "scope": "aws", "name": "Gone", "approvalType": "Auto",
		"identityCenter": map[string]any{"instanceArn": LocalInstanceArn, "permissionSetArns": []string{gonePS}, "accountIds": []string{icAccount}}})
	st.AWS.SSOAdmin.DeletePermissionSet(gonePS)
	failed := alice.must(201, "POST", "/v1/requests", map[string]any{"type": "Role", "scope": "aws", "name": "Gone", "reason": "deleted set", "durationHours": 1})
	fid := failed["id"].(string)
	var reason string
	eventually(t, "provisioning failed with a reason", func() bool {
		r := alice.must(200, "GET", "/v1/requests/"+fid, nil)
		p := r["provisioning"].([]any)[0].(map[string]any)
		reason, _ = p["reason"].(string)
		return p["status"] == "failed"
	})
	if !strings.Contains(reason, "ResourceNotFoundException") {
		t.Errorf("reason %q does not say what AWS answered", reason)
	}
	eventually(t, "assignment.failed in the trail and emails to alice and the admin", func() bool {
		if !auditHas(auditRecords(t, st), "assignment.failed", fid) {
			return false
		}
		emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, e := range emails {
			if strings.Contains(e.Subject, "Access not provisioned") {
				to = append(to, e.Destination.To...)
			}
		}
		return slices.Contains(to, "alice@example.com") && slices.Contains(to, "admin@example.com")
	})
	for _, as := range st.AWS.SSOAdmin.Assignments() {
		if as.PermissionSetArn == gonePS {
			t.Fatalf("a failed assignment was left behind: %+v", as)
		}
	}
}
