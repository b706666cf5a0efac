package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIBreakGlassAndDelegation drives both v1.1 features through the built
// binary: a policy allowing break-glass, a self-approved request, ratify,
// the break-glass listing; then a delegation, a delegate's approval on
// behalf of the approver, the delegation listing and its removal.
func TestCLIBreakGlassAndDelegation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local and the SES emulator")
	}
	w := startWalkthrough(t)
	admin := w.login("admin@example.com", "elevate-admins")
	alice := w.login("alice@example.com")
	bob := w.login("bob@example.com")
	dave := w.login("dave@example.com")

	w.ok(admin, "group", "new", "approvers", "--member", "bob@example.com")
	w.ok(admin, "enable", "--approver-group", "approvers")
	w.ok(admin, "policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "Manual", "--break-glass", "--break-glass-max", "1h", "--ratify-within", "24h")
	if r := w.elevate(admin, "policy", "new", "--task", `Exchange\Set-Mailbox`, "--approval", "Manual", "--ratify-within", "2h"); r.code != 2 {
		t.Fatalf("--ratify-within without --break-glass: exit %d stderr %q", r.code, r.stderr)
	}

	// Break-glass: approved at once, then ratified by bob.
	if r := w.elevate(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "outage", "--break-glass"); r.code != 3 {
		t.Fatalf("short break-glass reason: exit %d stderr %q", r.code, r.stderr)
	}
	var req struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		Ratification string `json:"ratification"`
	}
	out := w.ok(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "mail cluster down, nobody answers", "--break-glass", "-o", "json")
	if err := json.Unmarshal([]byte(out), &req); err != nil || req.Status != "Approved" || req.Ratification != "pending" {
		t.Fatalf("break-glass request %s: %+v %v", out, req, err)
	}
	if r := w.elevate(alice, "authorize", "--task", `Exchange\New-MoveRequest`); r.code != 0 {
		t.Fatalf("authorize during break-glass: exit %d %s", r.code, r.stdout)
	}
	if out := w.ok(admin, "request", "list", "--ratification", "pending"); !strings.Contains(out, req.ID) {
		t.Fatalf("pending ratifications lack %s:\n%s", req.ID, out)
	}
	if r := w.elevate(alice, "ratify", req.ID); r.code != 3 || !strings.HasPrefix(r.stderr, "Forbidden: ") {
		t.Fatalf("self-ratification: exit %d stderr %q", r.code, r.stderr)
	}
	if out := w.ok(bob, "ratify", req.ID, "--comment", "outage confirmed"); !strings.Contains(out, "ratified") || !strings.Contains(out, "outage confirmed") {
		t.Fatalf("ratify printed:\n%s", out)
	}
	if out := w.ok(admin, "request", "list", "--ratification", "ratified"); !strings.Contains(out, req.ID) {
		t.Fatalf("ratified list lacks %s:\n%s", req.ID, out)
	}
	w.ok(alice, "revoke", req.ID, "--comment", "done")

	// Issue 16 item 5: bob's revocation of an unratified grant blocks alice
	// until an admin releases the hold.
	out = w.ok(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "mail cluster down again, nobody answers", "--break-glass", "-o", "json")
	if err := json.Unmarshal([]byte(out), &req); err != nil {
		t.Fatal(err)
	}
	w.ok(bob, "revoke", req.ID, "--comment", "not an emergency")
	if r := w.elevate(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "mail cluster down again, nobody answers", "--break-glass"); r.code != 3 || !strings.HasPrefix(r.stderr, "Forbidden: ") {
		t.Fatalf("break-glass while blocked: exit %d stderr %q", r.code, r.stderr)
	}
	if out := w.ok(admin, "break-glass", "holds"); !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "blocked") || !strings.Contains(out, "revoked") {
		t.Fatalf("break-glass holds:\n%s", out)
	}
	if r := w.elevate(bob, "break-glass", "release", "alice@example.com"); r.code != 3 {
		t.Fatalf("a non-admin releases a hold: exit %d stderr %q", r.code, r.stderr)
	}
	w.ok(admin, "break-glass", "release", "alice@example.com")
	out = w.ok(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "mail cluster down again, nobody answers", "--break-glass", "-o", "json")
	if err := json.Unmarshal([]byte(out), &req); err != nil || req.Status != "Approved" {
		t.Fatalf("break-glass after the release %s: %v", out, err)
	}
	w.ok(bob, "ratify", req.ID)
	w.ok(alice, "revoke", req.ID, "--comment", "done")

	// Delegation: bob hands his approvals to dave for a day.
	if r := w.elevate(bob, "delegate", "--to", "bob@example.com", "--until", "+24h"); r.code != 3 {
		t.Fatalf("delegate to yourself: exit %d stderr %q", r.code, r.stderr)
	}
	if r := w.elevate(bob, "delegate", "--to", "dave@example.com", "--until", "+745h"); r.code != 3 {
		t.Fatalf("delegate for over 30 days: exit %d stderr %q", r.code, r.stderr)
	}
	if r := w.elevate(dave, "delegate", "--to", "dave@example.com", "--for", "bob@example.com", "--until", "+24h"); r.code != 3 || !strings.HasPrefix(r.stderr, "Forbidden: ") {
		t.Fatalf("non-admin delegating for someone else: exit %d stderr %q", r.code, r.stderr)
	}
	w.ok(bob, "delegate", "--to", "dave@example.com", "--from", "now", "--until", "+24h")
	if out := w.ok(dave, "delegation", "list"); !strings.Contains(out, "bob@example.com") || !strings.Contains(out, "dave@example.com") {
		t.Fatalf("delegation list:\n%s", out)
	}
	var next struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(w.ok(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "ticket 9", "-o", "json")), &next); err != nil {
		t.Fatal(err)
	}
	if out := w.ok(dave, "approve", next.ID, "--comment", "for bob"); !strings.Contains(out, "dave@example.com for bob@example.com") {
		t.Fatalf("the delegate's approval printed:\n%s", out)
	}
	w.ok(bob, "delegation", "remove")
	if out := w.ok(admin, "delegation", "list"); strings.Contains(out, "dave@example.com") {
		t.Fatalf("delegation listed after removal:\n%s", out)
	}
}
