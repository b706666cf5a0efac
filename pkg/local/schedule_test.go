package local

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// TestScheduleTicketsExtensions is issue 12 through real HTTP against the
// local stack: a scheduled request carrying a ticket (approver email with
// the window and the ticket in its subject, link page, not-yet-active,
// ?ticket=), an automatic extension, 20 concurrent extends making one
// pending extension, and its approval refused once the original is revoked;
// the audit trail carries the ticket and links the extension.
func TestScheduleTicketsExtensions(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	bob := st.client(t, "bob@example.com")
	carol := st.client(t, "carol@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com", "carol@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops", "maxScheduleAheadHours": 48})
	admin.must(422, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual", "ticketPattern": "CHG-(["})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual", "ticketRequired": true, "ticketPattern": "CHG-[0-9]+"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Get-Mailbox", "approvalType": "Auto", "maxDurationHours": 3})

	start := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Second)
	ask := map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "tonight's change", "durationHours": 1, "startAt": start.Format(time.RFC3339)}
	refused := alice.must(422, "POST", "/v1/requests", ask)
	if !strings.Contains(refused["detail"].(string), "CHG-[0-9]+") {
		t.Fatalf("the refusal does not name the pattern: %v", refused["detail"])
	}
	ask["ticket"] = "CHG-42"
	req := alice.must(201, "POST", "/v1/requests", ask)
	id := req["id"].(string)
	eq(t, "startAt", req["startAt"], any(start.Format("2006-01-02T15:04:05Z")))
	eq(t, "pending expiry is the window's end", req["expiresAt"], any(start.Add(time.Hour).Format("2006-01-02T15:04:05Z")))
	alice.must(409, "POST", "/v1/requests", ask) // one open request per target, scheduled or not

	var link string
	eventually(t, "bob's approval email naming the ticket and the window", func() bool {
		emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range emails {
			if slices.Contains(e.Destination.To, "bob@example.com") && strings.Contains(e.Subject, "CHG-42") &&
				strings.Contains(e.Body.Text, "Window:") && strings.Contains(e.Body.Text, start.Format("2006-01-02 15:04")) {
				link = linkPattern.FindString(e.Body.Text)
			}
		}
		return link != ""
	})
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<dt>Window</dt>") || !strings.Contains(string(page), "CHG-42") {
		t.Fatalf("the link page lacks the window or the ticket:\n%s", page)
	}

	bob.must(200, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "for tonight"})
	got := alice.authorize("New-MoveRequest", false, "not-yet-active")
	eq(t, "activeFrom", got["activeFrom"], any(start.Format(time.RFC3339)))
	list := bob.must(200, "GET", "/v1/requests?ticket=CHG-42", nil)
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("?ticket=CHG-42: %v", list["items"])
	}

	// Auto: extended at once, capped at the policy's 3 h from the start.
	auto := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "Get-Mailbox", "reason": "look", "durationHours": 2})
	ext := alice.must(201, "POST", "/v1/requests/"+auto["id"].(string)+"/extend", map[string]any{"durationHours": 2, "reason": "still looking"})
	eq(t, "auto extension", ext["status"], any("Approved"))
	eq(t, "extends", ext["extends"], any(auto["id"]))
	until := alice.authorize("Get-Mailbox", true, "grant")["expiresAt"].(string)
	grantStart, _ := time.Parse(time.RFC3339, auto["grantStartsAt"].(string))
	eq(t, "extended end", until, grantStart.Add(3*time.Hour).Format(time.RFC3339))

	// Manual: of 20 concurrent extends of the scheduled grant, one is made.
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	var extID string
	var mu sync.Mutex
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := alice.do("POST", "/v1/requests/"+id+"/extend", map[string]any{"durationHours": 0.5, "reason": "overrun"})
			codes <- code
			if code == 201 {
				mu.Lock()
				extID = out["id"].(string)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != 19 {
		t.Fatalf("20 concurrent extends answered %v, want one 201 and nineteen 409", count)
	}
	bob.must(200, "POST", "/v1/requests/"+id+"/revoke", map[string]any{"comment": "change cancelled"})
	carol.must(409, "POST", "/v1/requests/"+extID+"/approve", map[string]any{"comment": "too late"})
	eq(t, "extension after revocation", alice.must(200, "GET", "/v1/requests/"+extID, nil)["status"], any("Revoked"))

	eventually(t, "audit records with the ticket and the extension", func() bool {
		var ticketed, extended bool
		c := emulator.S3Client(st.S3Endpoint)
		f := auditquery.Filter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}
		if err := auditquery.Query(context.Background(), c, st.Bucket, f, func(r auditrecord.Record) error {
			ticketed = ticketed || (r.Action == auditrecord.ActionRequestCreated && r.Ticket == "CHG-42" && r.Detail["startAt"] != nil)
			extended = extended || (r.Action == auditrecord.ActionRequestExtended && r.RequestID == auto["id"] && r.Detail["extension"] == ext["id"])
			return nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		return ticketed && extended
	})
}
