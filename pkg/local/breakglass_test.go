package local

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

const outage = "mail cluster down at 3 a.m., no approver answers"

// breakGlassStack has group ops (bob), the admins' Elevate twin group
// (root), access on, and a Manual policy on Exchange\New-MoveRequest that
// allows break-glass for at most an hour, to be ratified within ratifyWithin.
func breakGlassStack(t *testing.T, ratifyWithin float64) (*Stack, *client) {
	t.Helper()
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "elevate-admins", "members": []string{"root@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual",
		"breakGlass": map[string]any{"enabled": true, "maxDurationHours": 1, "ratifyWithinHours": ratifyWithin}})
	return st, admin
}

// emailWith returns the first email to `to` whose subject contains subj.
func emailWith(t *testing.T, st *Stack, to, subj string) (emulator.StoredEmail, bool) {
	t.Helper()
	emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range emails {
		if slices.Contains(e.Destination.To, to) && strings.Contains(e.Subject, subj) {
			return e, true
		}
	}
	return emulator.StoredEmail{}, false
}

func hasRecord(recs []auditrecord.Record, action, requestID, actor string) bool {
	return slices.ContainsFunc(recs, func(r auditrecord.Record) bool {
		return r.Action == action && r.RequestID == requestID && (actor == "" || r.Actor == actor)
	})
}

// TestBreakGlassThroughTheStack: a break-glass request is approved at once
// for the requester alone; bob (approver) and root (the admins' group) get a
// BREAK-GLASS alert with a personal link; root ratifies through the link;
// a second unratified grant is refused with 409 and audited; the trail holds
// request.break_glass and request.ratified.
func TestBreakGlassThroughTheStack(t *testing.T) {
	st, admin := breakGlassStack(t, 24)
	alice := st.client(t, "alice@example.com")
	bob := st.client(t, "bob@example.com")

	// bob is away: dave stands in for him and gets the alert too.
	bob.must(200, "PUT", "/v1/delegations/me", map[string]any{"delegate": "dave@example.com",
		"from": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	alice.must(422, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "too short", "breakGlass": true})
	r := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": outage, "breakGlass": true})
	id, _ := r["id"].(string)
	eq(t, "status", r["status"], any("Approved"))
	eq(t, "breakGlass", r["breakGlass"], any(true))
	eq(t, "ratification", r["ratification"], any("pending"))
	alice.authorize("New-MoveRequest", true, "grant")
	bob.authorize("New-MoveRequest", false, "approval-required") // for the requester alone

	// The same principal cannot hold a second unratified grant (here the
	// target's slot refuses it first: one open request per target).
	alice.must(409, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": outage, "breakGlass": true})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Set-Mailbox", "approvalType": "Manual", "breakGlass": map[string]any{"enabled": true}})
	refused := alice.must(409, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "Set-Mailbox", "reason": outage, "breakGlass": true})
	eq(t, "refusal code", refused["code"], any("break-glass-open"))

	var link string
	eventually(t, "break-glass alerts to bob and root, and alice's notice", func() bool {
		_, toBob := emailWith(t, st, "bob@example.com", "BREAK-GLASS")
		e, toRoot := emailWith(t, st, "root@example.com", "BREAK-GLASS")
		_, toAlice := emailWith(t, st, "alice@example.com", "Break-glass access active")
		d, toDave := emailWith(t, st, "dave@example.com", "BREAK-GLASS")
		link = linkPattern.FindString(e.Body.Text)
		return toBob && toRoot && toAlice && link != "" && toDave && strings.Contains(d.Body.Text, "delegate of bob@example.com")
	})
	if _, self := emailWith(t, st, "alice@example.com", "BREAK-GLASS"); self {
		t.Fatal("the requester got an alert link for her own break-glass")
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `value="ratify"`) || !strings.Contains(string(page), `value="revoke"`) {
		t.Fatalf("alert link page %d: %s", resp.StatusCode, page)
	}
	post := func(decision string) int {
		form := url.Values{"decision": {decision}, "comment": {"outage confirmed"}, "request": {id}}
		resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eq(t, "approve from the alert link", post("approve"), 409)
	eq(t, "ratify from the alert link", post("ratify"), 200)
	eq(t, "replayed alert link", post("revoke"), 409)
	got := alice.must(200, "GET", "/v1/requests/"+id, nil)
	eq(t, "ratification after the link", got["ratification"], any("ratified"))
	alice.authorize("New-MoveRequest", true, "grant")
	bob.must(409, "POST", "/v1/requests/"+id+"/ratify", map[string]any{"comment": "late"})

	list := admin.must(200, "GET", "/v1/requests?breakGlass=true&ratification=ratified", nil)
	if items, _ := list["items"].([]any); len(items) != 1 {
		t.Fatalf("ratified break-glass listing: %v", list["items"])
	}
	admin.must(400, "GET", "/v1/requests?ratification=maybe", nil)

	eventually(t, "the break-glass trail", func() bool {
		recs := auditRecords(t, st)
		return hasRecord(recs, auditrecord.ActionRequestBreakGlass, id, "alice@example.com") &&
			hasRecord(recs, auditrecord.ActionRequestRatified, id, "root@example.com") &&
			hasRecord(recs, auditrecord.ActionGrantCreated, id, "system") &&
			slices.ContainsFunc(recs, func(r auditrecord.Record) bool {
				return r.Action == auditrecord.ActionRefusedBreakGlassOpen && r.Actor == "alice@example.com"
			}) && hasRecord(recs, "refused.not-ratifiable", id, "bob@example.com")
	})
	eventually(t, "alice hears of the ratification", func() bool {
		_, ok := emailWith(t, st, "alice@example.com", "Break-glass ratified")
		return ok
	})
}

// TestTTLBreakGlassMissedRatification lets a one-minute ratification
// deadline pass unanswered: at the deadline the grant ends at read time (the
// request reads missed and Revoked, authorize says no), then DynamoDB Local's
// TTL deletes the ratification claim and the grant slot, and the stream
// carries request.ratification_missed and grant.expired to the trail and the
// missed-ratification emails to alice and the admins.
func TestTTLBreakGlassMissedRatification(t *testing.T) {
	st, admin := breakGlassStack(t, 1.0/60)
	alice := st.client(t, "alice@example.com")
	r := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": outage, "breakGlass": true})
	id, _ := r["id"].(string)
	alice.authorize("New-MoveRequest", true, "grant")

	time.Sleep(time.Until(parseTime(t, r["ratifyBy"])) + 100*time.Millisecond)
	alice.authorize("New-MoveRequest", false, "approval-required")
	got := alice.must(200, "GET", "/v1/requests/"+id, nil)
	eq(t, "ratification after the deadline", got["ratification"], any("missed"))
	eq(t, "status after the deadline", got["status"], any("Revoked"))
	eq(t, "active after the deadline", got["active"], any(false))
	st.client(t, "bob@example.com").must(409, "POST", "/v1/requests/"+id+"/ratify", nil)
	missed := admin.must(200, "GET", "/v1/requests?breakGlass=true&ratification=missed", nil)
	if items, _ := missed["items"].([]any); len(items) != 1 {
		t.Fatalf("missed listing: %v", missed["items"])
	}

	deadline := time.Now().Add(3 * time.Minute)
	for {
		recs := auditRecords(t, st)
		_, toAlice := emailWith(t, st, "alice@example.com", "ratification missed")
		_, toRoot := emailWith(t, st, "root@example.com", "ratification missed")
		if hasRecord(recs, auditrecord.ActionRequestRatificationMissed, id, "system") && hasRecord(recs, auditrecord.ActionGrantExpired, id, "system") && toAlice && toRoot {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the missed ratification never reached the trail and the inboxes (alice %v, root %v); audit: %v", toAlice, toRoot, recs)
		}
		time.Sleep(time.Second)
	}
	// Issue 16 item 5: a missed deadline leaves the principal blocked until
	// an admin releases the hold; then they may break the glass again.
	again := map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": outage, "breakGlass": true}
	alice.must(403, "POST", "/v1/requests", again)
	admin.must(204, "DELETE", "/v1/break-glass/holds/alice@example.com", nil)
	alice.must(201, "POST", "/v1/requests", again)
}

// Issue 16 item 5 through the stack: bob's revocation of alice's unratified
// break-glass blocks her (403 break-glass-blocked, audited); admins list the
// hold at GET /v1/break-glass/holds and release it with DELETE, which the
// trail records as break_glass.unblocked by the admin; then she may break
// the glass again. A non-admin may do neither.
func TestBreakGlassHoldsThroughTheStack(t *testing.T) {
	st, admin := breakGlassStack(t, 24)
	alice := st.client(t, "alice@example.com")
	bob := st.client(t, "bob@example.com")
	open := map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": outage, "breakGlass": true}
	r := alice.must(201, "POST", "/v1/requests", open)
	id, _ := r["id"].(string)
	bob.must(200, "POST", "/v1/requests/"+id+"/revoke", map[string]any{"comment": "not an emergency"})
	refused := alice.must(403, "POST", "/v1/requests", open)
	eq(t, "refusal code", refused["code"], any("break-glass-blocked"))

	bob.must(403, "GET", "/v1/break-glass/holds", nil)
	alice.must(403, "DELETE", "/v1/break-glass/holds/alice@example.com", nil)
	holds := admin.must(200, "GET", "/v1/break-glass/holds", nil)
	items, _ := holds["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("holds: %v", holds)
	}
	h, _ := items[0].(map[string]any)
	eq(t, "held principal", h["principal"], any("alice@example.com"))
	eq(t, "hold state", h["state"], any("blocked"))
	eq(t, "hold reason", h["reason"], any("revoked"))
	admin.must(204, "DELETE", "/v1/break-glass/holds/alice@example.com", nil)
	admin.must(404, "DELETE", "/v1/break-glass/holds/alice@example.com", nil)
	again := alice.must(201, "POST", "/v1/requests", open)

	eventually(t, "the unblock and the refusal in the trail", func() bool {
		recs := auditRecords(t, st)
		return hasRecord(recs, auditrecord.ActionBreakGlassUnblocked, id, "admin@example.com") &&
			hasRecord(recs, "refused.break-glass-blocked", "", "alice@example.com") && hasRecord(recs, auditrecord.ActionRequestBreakGlass, again["id"].(string), "")
	})
	n := 0
	for _, r := range auditRecords(t, st) {
		if r.Action == auditrecord.ActionBreakGlassUnblocked || strings.HasPrefix(r.Action, "break_glass.") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d break_glass.* records, want the one unblock", n)
	}
}
