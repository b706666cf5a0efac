package local

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// TestKeysSurviveOneRotation (issue 21 item 3) through the local stack: the
// link and page keys live in the in-process Secrets Manager; an approval
// link emailed before a rotation still opens after it, and is refused (403,
// audited) after a second one; the same for a page token (a 400 that says
// to list again); each rotation is a key.rotated record in the trail naming
// the secret and its versions, never the key.
func TestKeysSurviveOneRotation(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	for _, name := range []string{"New-MoveRequest", "Get-Mailbox"} {
		admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": name, "approvalType": "Manual"})
		alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": name, "reason": "ticket 7"})
	}
	var link string
	eventually(t, "bob's approval email", func() bool {
		e, _ := emailWith(t, st, "bob@example.com", "Approval needed")
		link = linkPattern.FindString(e.Body.Text + e.Body.HTML)
		return link != ""
	})
	page := alice.must(200, "GET", "/v1/requests?limit=1", nil)
	next, _ := page["next"].(string)
	if next == "" {
		t.Fatalf("no page token: %v", page)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eq(t, "link before any rotation", first200(get(link)), 200)

	rotate := func() []Rotation {
		t.Helper()
		resp, err := http.Post(st.URL+RotateKeysPath, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Rotated []Rotation }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Rotated) != 2 {
			t.Fatalf("rotate: %d %v %+v", resp.StatusCode, err, out)
		}
		return out.Rotated
	}
	first := rotate()
	eq(t, "link after one rotation", first200(get(link)), 200)
	again := alice.must(200, "GET", "/v1/requests?limit=1&next="+next, nil)
	if items, _ := again["items"].([]any); len(items) != 1 {
		t.Fatalf("the page token no longer resumes after one rotation: %v", again)
	}

	second := rotate()
	code, body := get(link)
	if code != 403 || !strings.Contains(body, "retired") {
		t.Errorf("link after two rotations: %d, want 403 saying the key was retired: %s", code, body)
	}
	status, problem := alice.do("GET", "/v1/requests?limit=1&next="+next, nil)
	if status != 400 || !strings.Contains(problem["detail"].(string), "rotated out") {
		t.Errorf("page token after two rotations: %d %v, want 400 saying to list again", status, problem)
	}
	// A link emailed now is signed by the current key and works.
	alice.must(200, "GET", "/v1/requests?limit=1", nil)

	versions := map[string]bool{}
	for _, r := range append(first, second...) {
		versions[r.VersionID] = true
	}
	eventually(t, "the rotations and the refused link in the trail", func() bool {
		rotated, refused := 0, false
		for _, r := range auditRecords(t, st) {
			switch r.Action {
			case auditrecord.ActionKeyRotated:
				if versions[r.Detail["versionId"].(string)] && r.Actor == "system" && r.Detail["previousVersionId"] != "" {
					rotated++
				}
			case "refused.link-forged":
				refused = true
			}
		}
		return rotated == 4 && refused
	})
	for _, r := range auditRecords(t, st) {
		if r.Action != auditrecord.ActionKeyRotated {
			continue
		}
		for k := range r.Detail {
			if !slices.Contains([]string{"secretArn", "secretName", "versionId", "previousVersionId"}, k) {
				t.Errorf("key.rotated carries %q: %+v", k, r)
			}
		}
	}
}

func first200(code int, _ string) int { return code }
