package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCLIScheduleTicketExtend drives issue 12 through the built binary: a
// policy requiring a ticket, request new --start --ticket, the window and
// the ticket in get and list, authorize before the start, and request
// extend on an Auto grant.
func TestCLIScheduleTicketExtend(t *testing.T) {
	w := startWalkthrough(t)
	admin := w.login("admin@example.com", "elevate-admins")
	alice := w.login("alice@example.com")
	bob := w.login("bob@example.com")

	w.ok(admin, "group", "new", "approvers", "--member", "bob@example.com")
	w.ok(admin, "enable", "--approver-group", "approvers")
	w.ok(admin, "settings", "set", "--schedule-ahead", "48h")
	w.ok(admin, "policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "Manual", "--ticket-required", "--ticket-pattern", "CHG-[0-9]+")
	w.ok(admin, "policy", "new", "--task", `Exchange\Get-Mailbox`, "--approval", "Auto", "--max-duration", "4h")

	if r := w.elevate(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "change", "--start", "+2h"); r.code == 0 || !strings.Contains(r.stderr, "CHG-[0-9]+") {
		t.Fatalf("no ticket: exit %d stderr %q", r.code, r.stderr)
	}
	if r := w.elevate(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "change", "--ticket", "CHG-9", "--start", "+72h"); r.code == 0 {
		t.Fatalf("beyond the schedule-ahead setting: exit 0")
	}
	out := w.ok(alice, "-o", "json", "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "tonight's change", "--duration", "1h", "--ticket", "CHG-42", "--start", "+2h")
	var req struct {
		ID      string    `json:"id"`
		StartAt time.Time `json:"startAt"`
		Ticket  string    `json:"ticket"`
	}
	if err := json.Unmarshal([]byte(out), &req); err != nil || req.Ticket != "CHG-42" || time.Until(req.StartAt) < 110*time.Minute {
		t.Fatalf("request new: %s (%v)", out, err)
	}
	if got := w.ok(alice, "request", "get", req.ID); !strings.Contains(got, "Window") || !strings.Contains(got, "CHG-42") || !strings.Contains(got, req.StartAt.UTC().Format("2006-01-02 15:04")) {
		t.Fatalf("request get:\n%s", got)
	}
	if got := w.ok(bob, "request", "list", "--ticket", "CHG-42"); !strings.Contains(got, req.ID) || !strings.Contains(got, "TICKET") {
		t.Fatalf("request list --ticket:\n%s", got)
	}
	w.ok(bob, "approve", req.ID, "--comment", "for tonight")
	if r := w.elevate(alice, "authorize", "--task", `Exchange\New-MoveRequest`); r.code != 5 || !strings.Contains(r.stdout, "not-yet-active") || !strings.Contains(r.stdout, " from ") {
		t.Fatalf("authorize before the start: exit %d %q", r.code, r.stdout)
	}

	out = w.ok(alice, "-o", "json", "request", "new", "--task", `Exchange\Get-Mailbox`, "--reason", "look", "--duration", "1h")
	var auto struct{ ID string }
	if err := json.Unmarshal([]byte(out), &auto); err != nil {
		t.Fatal(err)
	}
	if got := w.ok(alice, "request", "extend", auto.ID, "--duration", "1h", "--reason", "still looking"); !strings.Contains(got, "Approved") || !strings.Contains(got, "Extends") {
		t.Fatalf("request extend:\n%s", got)
	}
	if got := w.ok(alice, "request", "get", auto.ID); !strings.Contains(got, "Extensions") {
		t.Fatalf("the original does not list its extension:\n%s", got)
	}
	if r := w.elevate(alice, "request", "extend", req.ID, "--duration", "30h", "--reason", "x"); r.code == 0 {
		t.Fatal("an extension beyond the policy maximum was accepted")
	}
}
