package local

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// TestTTLExpiryEndToEnd lets DynamoDB Local's real TTL sweeper end a pending
// request and a grant, each of the shortest allowed length (one minute), and
// checks the whole path: read-time expiry first, then the TTL REMOVE through
// the stream poller to request.expired / grant.expired in the audit bucket and
// to the requester's emails. It takes a little over a minute, so it runs in the
// make ttl group.
func TestTTLExpiryEndToEnd(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops", "pendingExpiryHours": 1.0 / 60})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Get-Mailbox", "approvalType": "Auto"})

	pending := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "nobody will answer"})
	granted := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "Get-Mailbox", "reason": "short look", "durationHours": 1.0 / 60})
	pendingID, _ := pending["id"].(string)
	grantedID, _ := granted["id"].(string)
	alice.authorize("Get-Mailbox", true, "grant")

	// Read-time expiry does not wait for TTL.
	time.Sleep(time.Until(parseTime(t, pending["expiresAt"])) + 100*time.Millisecond)
	eq(t, "pending request after its expiry", alice.must(200, "GET", "/v1/requests/"+pendingID, nil)["status"], any("Expired"))
	time.Sleep(time.Until(parseTime(t, granted["expiresAt"])) + 100*time.Millisecond)
	alice.authorize("Get-Mailbox", false, "approval-required")
	eq(t, "grant after its expiry", alice.must(200, "GET", "/v1/requests/"+grantedID, nil)["active"], any(false))

	// Then TTL deletes the slots, and the stream carries the expiries.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		recs := auditRecords(t, st)
		if slices.ContainsFunc(recs, func(r auditrecord.Record) bool {
			return r.Action == auditrecord.ActionRequestExpired && r.RequestID == pendingID && r.Actor == "system"
		}) && slices.ContainsFunc(recs, func(r auditrecord.Record) bool {
			return r.Action == auditrecord.ActionGrantExpired && r.RequestID == grantedID && r.Actor == "system"
		}) && expiryEmails(t, st) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TTL expiry reached the audit trail and alice's inbox; audit: %v", recs)
		}
		time.Sleep(time.Second)
	}
	// The request item itself is history: it is kept, and still reads Expired.
	eq(t, "expired request kept", alice.must(200, "GET", "/v1/requests/"+pendingID, nil)["status"], any("Expired"))
	list := alice.must(200, "GET", "/v1/requests?status=Expired", nil)
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Fatalf("status=Expired lists %v", list["items"])
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

func auditRecords(t *testing.T, st *Stack) []auditrecord.Record {
	t.Helper()
	var recs []auditrecord.Record
	f := auditquery.Filter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}
	if err := auditquery.Query(context.Background(), emulator.S3Client(st.S3Endpoint), st.Bucket, f, func(r auditrecord.Record) error {
		recs = append(recs, r)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	return recs
}

// expiryEmails counts alice's "expired" emails.
func expiryEmails(t *testing.T, st *Stack) int {
	t.Helper()
	emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range emails {
		if slices.Contains(e.Destination.To, "alice@example.com") && strings.Contains(strings.ToLower(e.Subject), "expired") {
			n++
		}
	}
	return n
}
