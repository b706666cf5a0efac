package local

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
)

const icAccount = "111122223333"

// icStack is a stack with alice and bob in the local Identity Store and a
// Manual Role policy binding the local permission set on one account.
func icStack(t *testing.T) (st *Stack, admin, alice, bob *client, aliceID string) {
	t.Helper()
	st = startStack(t)
	admin = st.client(t, "admin@example.com", "elevate-admins")
	alice = st.client(t, "alice@example.com")
	bob = st.client(t, "bob@example.com")
	var err error
	if aliceID, err = st.AWS.IdentityStore.AddUser(LocalIdentityStoreID, "alice@example.com", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "dba", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "dba"})
	admin.must(422, "POST", "/v1/policies", map[string]any{"type": "Role", "scope": "aws", "name": "DatabaseAdmin", "approvalType": "Manual",
		"identityCenter": map[string]any{"instanceArn": LocalInstanceArn, "permissionSetArns": []string{LocalPermissionSetArn}, "accountIds": []string{"12345"}}})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Role", "scope": "aws", "name": "DatabaseAdmin", "approvalType": "Manual",
		"identityCenter": map[string]any{"instanceArn": LocalInstanceArn, "permissionSetArns": []string{LocalPermissionSetArn}, "accountIds": []string{icAccount}}})
	return st, admin, alice, bob, aliceID
}

func provisioningOf(req map[string]any) []string {
	var out []string
	for _, p := range req["provisioning"].([]any) {
		out = append(out, p.(map[string]any)["status"].(string))
	}
	return out
}

func assigned(st *Stack, userID string) bool {
	return slices.Contains(st.AWS.SSOAdmin.Assignments(), awsapi.Assignment{InstanceArn: LocalInstanceArn, PermissionSetArn: LocalPermissionSetArn,
		AccountID: icAccount, PrincipalType: "USER", PrincipalID: userID})
}

func auditHas(recs []auditrecord.Record, action, requestID string) bool {
	return slices.ContainsFunc(recs, func(r auditrecord.Record) bool { return r.Action == action && r.RequestID == requestID })
}

// TestIdentityCenterOverlappingGrants is issue 20's walkthrough: a Role
// policy with a binding; a requester with no Identity Center user refused
// before any approver is asked; an approval making the assignment, shown
// as provisioning done; a second, overlapping grant on the same permission
// set and account; the first one ending keeps the assignment
// (assignment.kept); the second's revoke deletes it and puts the session
// deny on the permission set's inline policy in the account.
func TestIdentityCenterOverlappingGrants(t *testing.T) {
	st, _, alice, bob, aliceID := icStack(t)
	carol := st.client(t, "carol@example.com")
	ask := map[string]any{"type": "Role", "scope": "aws", "name": "DatabaseAdmin", "reason": "fix the replica", "durationHours": 1}
	refused := carol.must(422, "POST", "/v1/requests", ask)
	if !strings.Contains(refused["detail"].(string), "Identity Center user") {
		t.Fatalf("refusal %v", refused)
	}

	first := alice.must(201, "POST", "/v1/requests", ask)
	firstID := first["id"].(string)
	eq(t, "provisioning before approval", strings.Join(provisioningOf(first), ","), "pending")
	bob.must(200, "POST", "/v1/requests/"+firstID+"/approve", map[string]any{"comment": "ok"})
	eventually(t, "the first grant's assignment provisioned", func() bool {
		r := alice.must(200, "GET", "/v1/requests/"+firstID, nil)
		return strings.Join(provisioningOf(r), ",") == "done"
	})
	if !assigned(st, aliceID) {
		t.Fatalf("assignments %v lack alice's", st.AWS.SSOAdmin.Assignments())
	}

	// A second grant of the same permission set on the same account: a
	// RoleGroup policy binding it too.
	st.client(t, "admin@example.com", "elevate-admins").must(201, "POST", "/v1/policies", map[string]any{"type": "RoleGroup", "scope": "aws", "name": "DataTeam", "approvalType": "Auto",
		"identityCenter": map[string]any{"instanceArn": LocalInstanceArn, "permissionSetArns": []string{LocalPermissionSetArn}, "accountIds": []string{icAccount}}})
	second := alice.must(201, "POST", "/v1/requests", map[string]any{"type": "RoleGroup", "scope": "aws", "name": "DataTeam", "reason": "overlap", "durationHours": 2})
	secondID := second["id"].(string)
	eventually(t, "the second grant provisioned", func() bool {
		return strings.Join(provisioningOf(alice.must(200, "GET", "/v1/requests/"+secondID, nil)), ",") == "done"
	})

	// The first grant ends: the second still needs the assignment.
	alice.must(200, "POST", "/v1/requests/"+firstID+"/revoke", map[string]any{"comment": "done early"})
	eventually(t, "assignment.kept for the first grant", func() bool { return auditHas(auditRecords(t, st), "assignment.kept", firstID) })
	if !assigned(st, aliceID) {
		t.Fatal("the first grant's end removed the assignment the second still needs")
	}
	if p := st.AWS.SSOAdmin.ProvisionedPolicy(LocalPermissionSetArn, icAccount); strings.Contains(p, "Deny") {
		t.Fatalf("sessions denied while a grant still needs them: %s", p)
	}

	// The second ends: the assignment goes and alice's sessions are denied.
	revokedAt := time.Now().UTC()
	alice.must(200, "POST", "/v1/requests/"+secondID+"/revoke", map[string]any{"comment": "all done"})
	eventually(t, "the assignment deleted and the session deny provisioned", func() bool {
		p := st.AWS.SSOAdmin.ProvisionedPolicy(LocalPermissionSetArn, icAccount)
		return !assigned(st, aliceID) && strings.Contains(p, `"aws:userid":"*:alice@example.com"`) && strings.Contains(p, "aws:TokenIssueTime")
	})
	t.Logf("revoke to deny: %s", time.Since(revokedAt))
	eventually(t, "assignment.created and assignment.deleted in the trail", func() bool {
		recs := auditRecords(t, st)
		return auditHas(recs, "assignment.created", firstID) && auditHas(recs, "assignment.created", secondID) && auditHas(recs, "assignment.deleted", secondID)
	})
	for _, r := range auditRecords(t, st) {
		if strings.HasSuffix(r.Action, ".direct_write") {
			t.Errorf("Elevate's own writes flagged: %+v", r)
		}
	}
}
