package local

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// TestDelegationThroughTheStack: bob (ops) hands his approvals to dave for
// an hour; alice's request emails dave his own link saying whom he stands in
// for; dave approves through it; the request, alice's email and the audit
// record carry both names; every refusal of the delegation rules answers its
// status; after bob's delegation is removed dave is refused.
func TestDelegationThroughTheStack(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	bob := st.client(t, "bob@example.com")
	dave := st.client(t, "dave@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})

	now := time.Now().UTC()
	window := func(from, until time.Time) map[string]any {
		return map[string]any{"delegate": "dave@example.com", "from": from.Format(time.RFC3339), "until": until.Format(time.RFC3339)}
	}
	// Refusals: each gets its status and nothing is stored.
	bob.must(422, "PUT", "/v1/delegations/me", map[string]any{"delegate": "bob@example.com", "from": now.Format(time.RFC3339), "until": now.Add(time.Hour).Format(time.RFC3339)})
	bob.must(422, "PUT", "/v1/delegations/me", window(now, now.Add(31*24*time.Hour)))
	bob.must(422, "PUT", "/v1/delegations/me", window(now.Add(time.Hour), now))
	dave.must(403, "PUT", "/v1/delegations/bob@example.com", window(now, now.Add(time.Hour)))
	bob.must(400, "PUT", "/v1/delegations/me", map[string]any{"delegate": "dave@example.com", "from": "tomorrow", "until": now.Format(time.RFC3339)})
	if items, _ := admin.must(200, "GET", "/v1/delegations", nil)["items"].([]any); len(items) != 0 {
		t.Fatalf("refused delegations were stored: %v", items)
	}

	bob.must(200, "PUT", "/v1/delegations/me", window(now.Add(-time.Minute), now.Add(time.Hour)))
	if items, _ := dave.must(200, "GET", "/v1/delegations", nil)["items"].([]any); len(items) != 1 {
		t.Fatalf("dave's delegations: %v", items)
	}
	id := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "ticket 9"})["id"].(string)

	var link string
	eventually(t, "dave's approval email as bob's delegate", func() bool {
		e, ok := emailWith(t, st, "dave@example.com", "Approval needed")
		link = linkPattern.FindString(e.Body.Text)
		return ok && link != "" && strings.Contains(e.Body.Text, "delegate of bob@example.com")
	})
	form := url.Values{"decision": {"approve"}, "comment": {"for bob"}, "request": {id}}
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "delegate's link approval", resp.StatusCode, 200)
	got := alice.must(200, "GET", "/v1/requests/"+id, nil)
	decisions, _ := got["decisions"].([]any)
	if d, _ := decisions[0].(map[string]any); d["by"] != "dave@example.com" || d["onBehalfOf"] != "bob@example.com" {
		t.Fatalf("decision %v", decisions)
	}
	alice.authorize("New-MoveRequest", true, "grant")

	eventually(t, "both names in the trail and in alice's email", func() bool {
		e, ok := emailWith(t, st, "alice@example.com", "approved")
		found := false
		for _, r := range auditRecords(t, st) {
			if r.Action == auditrecord.ActionRequestApproved && r.RequestID == id && r.Actor == "dave@example.com" && r.Detail["onBehalfOf"] == "bob@example.com" {
				found = true
			}
		}
		return found && ok && strings.Contains(e.Body.Text, "dave@example.com (on behalf of bob@example.com)")
	})

	// Once bob removes his delegation, dave decides nothing.
	bob.must(204, "DELETE", "/v1/delegations/me", nil)
	carol := st.client(t, "carol@example.com")
	other := carol.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "ticket 10"})["id"].(string)
	dave.must(403, "POST", "/v1/requests/"+other+"/approve", map[string]any{"comment": "no longer"})
	eventually(t, "the delegation's set and removal in the trail", func() bool {
		acts := auditActions(t, st)
		return slices.Contains(acts, "delegation.set") && slices.Contains(acts, "delegation.removed")
	})
}
