package audit

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Records made from a request carry its ticket and window, an extension's
// link to its original, and an approved extension's request.extended.
func TestScheduleTicketExtensionRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	start := t0.Add(2 * time.Hour)
	grantEnd := start.Add(time.Hour)
	orig := elevate.Request{ID: "r1", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest", Requester: "alice@example.com",
		Reason: "change", DurationHours: 1, Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops",
		RequiredApprovals: 1, CreatedAt: t0, ExpiresAt: grantEnd, StartAt: &start, Ticket: "CHG-42", Version: 1}
	created := requestCreated(orig)
	if len(created) != 1 || created[0].Ticket != "CHG-42" || created[0].Detail["startAt"] != start {
		t.Fatalf("request.created %+v", created)
	}

	ext := orig
	ext.ID, ext.Extends, ext.StartAt = "e1", "r1", &grantEnd
	approved, err := ext.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "ok", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	recs := requestChanged(ext, approved)
	if len(recs) != 2 {
		t.Fatalf("approving an extension gave %d records: %+v", len(recs), recs)
	}
	if r := recs[0]; r.Action != auditrecord.ActionRequestApproved || r.RequestID != "e1" || r.Detail["extends"] != "r1" || r.Ticket != "CHG-42" {
		t.Errorf("extension's own record %+v", r)
	}
	if r := recs[1]; r.Action != auditrecord.ActionRequestExtended || r.RequestID != "r1" || r.Actor != "bob@example.com" ||
		r.Detail["extension"] != "e1" || r.Detail["grantExpiresAt"] != grantEnd.Add(time.Hour) {
		t.Errorf("request.extended %+v", r)
	}
	// A denied extension extends nothing.
	denied, err := ext.Deny(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "no", t0.Add(time.Hour))
	if err != nil || denied.Status != elevate.StatusDenied {
		t.Fatalf("deny the extension: %s %v", denied.Status, err)
	}
	for _, r := range requestChanged(ext, denied) {
		if r.Action == auditrecord.ActionRequestExtended {
			t.Errorf("a denied extension yielded %+v", r)
		}
	}
}
