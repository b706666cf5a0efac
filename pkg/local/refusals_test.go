package local

import (
	"net/http"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// Issue 10 item 8 through the local stack: refused attempts reach the audit
// bucket through the stream, like authorization decisions; a call without a
// valid identity does not.
func TestRefusalsReachTheAuditBucket(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	req := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "r"})
	id := req["id"].(string)

	alice.must(403, "POST", "/v1/requests/"+id+"/approve", map[string]any{})
	alice.must(403, "GET", "/v1/settings", nil)
	resp, err := http.Get(st.URL + "/v1/links/not-a-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forged link: %d", resp.StatusCode)
	}
	anon := &client{t: t, base: st.URL}
	anon.must(401, "POST", "/v1/requests/"+id+"/approve", map[string]any{})

	want := map[string]string{"refused.self-approval": "alice@example.com", "refused.admin-only": "alice@example.com", "refused.link-malformed": app.ActorAnonymous}
	var recs []auditrecord.Record
	eventually(t, "refusals in the audit bucket", func() bool {
		recs = auditRecords(t, st)
		n := 0
		for _, r := range recs {
			if actor, ok := want[r.Action]; ok && r.Actor == actor {
				n++
			}
		}
		return n == len(want)
	})
	refused := 0
	for _, r := range recs {
		if strings.HasPrefix(r.Action, app.RefusalPrefix) {
			refused++
			if r.Action == "refused.self-approval" && (r.RequestID != id || r.Detail["route"] != "POST /v1/requests/{id}/approve") {
				t.Errorf("self-approval record %+v", r)
			}
		}
	}
	if refused != len(want) {
		t.Errorf("%d refusal records, want %d (the 401 must not be one): %+v", refused, len(want), recs)
	}
}
