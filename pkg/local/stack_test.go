package local

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

// startStack runs a stack on free ports, sharing this binary's DynamoDB Local.
// Every DynamoDB call each function makes must be within its IAM grant.
func startStack(t *testing.T) *Stack {
	t.Helper()
	_, endpoint := emulatortest.DynamoForTest(t)
	o, spec := withOpenAPI(t, Options{
		DynamoEndpoint: endpoint,
		Table:          emulatortest.UniqueTableName("stack"),
		RecordCalls:    true,
	})
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checked(st, spec)
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Error(err)
		}
		emulatortest.CheckCallsWithinGrants(t, st.Calls)
	})
	return st
}

// client speaks to the stack as one principal.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (s *Stack) client(t *testing.T, principal string, groups ...string) *client {
	t.Helper()
	tok, err := s.Token(principal, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: s.URL, token: tok}
}

// do sends body (a string is sent as is, anything else as JSON) and decodes
// a JSON answer into a map.
func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: undecodable body %q", method, path, raw)
		}
	}
	out["_raw"] = string(raw)
	return resp.StatusCode, out
}

// must fails the test unless the call answers want.
func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, out["_raw"])
	}
	return out
}

func (c *client) authorize(name string, wantAllowed bool, wantReason string) map[string]any {
	c.t.Helper()
	out := c.must(200, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": name})
	if out["allowed"] != wantAllowed || out["reason"] != wantReason {
		c.t.Fatalf("authorize %s: allowed=%v reason=%v, want %v %s", name, out["allowed"], out["reason"], wantAllowed, wantReason)
	}
	return out
}

// TestSeedWalkthrough is the acceptance test: the seed scenario
// through real HTTP against the local stack.
func TestSeedWalkthrough(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	bob := st.client(t, "bob@example.com")
	carol := st.client(t, "carol@example.com")
	dave := st.client(t, "dave@example.com")
	svc := st.client(t, "svc-backup@example.com")

	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com", "carol@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops", "systemAccounts": []string{"svc-backup@example.com"}})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Get-Mailbox", "approvalType": "Auto"})

	alice.authorize("New-MoveRequest", false, "approval-required")
	req := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "move mailbox for ticket 42", "durationHours": 2})
	id, _ := req["id"].(string)
	if id == "" || req["status"] != "Pending" {
		t.Fatalf("request = %v", req)
	}
	alice.must(403, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "me"})
	dave.must(403, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "not mine to approve"})

	// The approvers' emails go out through the stream poller and notify.
	eventually(t, "approval emails to bob and carol", func() bool {
		to := emailRecipients(t, st)
		return slices.Contains(to, "bob@example.com") && slices.Contains(to, "carol@example.com")
	})

	approved := bob.must(200, "POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"})
	eq(t, "status after approve", approved["status"], any("Approved"))
	got := alice.authorize("New-MoveRequest", true, "grant")
	eq(t, "requestId", got["requestId"], any(id))

	carol.must(409, "POST", "/v1/requests/"+id+"/deny", map[string]any{"comment": "too late"})
	bob.must(200, "POST", "/v1/requests/"+id+"/revoke", map[string]any{"comment": "done"})
	alice.authorize("New-MoveRequest", false, "approval-required")

	// The Auto policy approves at once.
	auto := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "Get-Mailbox", "reason": "look"})
	eq(t, "auto status", auto["status"], any("Approved"))
	alice.authorize("Get-Mailbox", true, "grant")

	svc.authorize("New-MoveRequest", true, "system-account")
	// PAM gates only covered tasks, and only while it is on (M365 semantics).
	alice.authorize("Remove-Mailbox", true, "no-policy")

	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": false})
	alice.authorize("New-MoveRequest", true, "disabled")

	// Every state change reaches the audit bucket through the poller.
	eventually(t, "audit records of the walkthrough", func() bool {
		acts := auditActions(t, st)
		for _, want := range []string{auditrecord.ActionRequestCreated, auditrecord.ActionRequestApproved, auditrecord.ActionRequestRevoked, auditrecord.ActionSettingsUpdated, auditrecord.ActionAuthorizeAllowed, auditrecord.ActionAuthorizeDenied} {
			if !slices.Contains(acts, want) {
				return false
			}
		}
		return true
	})
}

func emailRecipients(t *testing.T, st *Stack) []string {
	t.Helper()
	emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, e := range emails {
		to = append(to, e.Destination.To...)
	}
	return to
}

func auditActions(t *testing.T, st *Stack) []string {
	t.Helper()
	c := emulator.S3Client(st.S3Endpoint)
	var acts []string
	f := auditquery.Filter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}
	if err := auditquery.Query(context.Background(), c, st.Bucket, f, func(r auditrecord.Record) error {
		acts = append(acts, r.Action)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	return acts
}

// TestMalformedCalls: each bad call gets its 4xx, changes nothing, and the
// service stays healthy throughout.
func TestMalformedCalls(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	user := st.client(t, "alice@example.com")
	anon := &client{t: t, base: st.URL}
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	before := snapshot(admin)
	// Two calls probe routes the API does not have: they must be refused,
	// and the OpenAPI checker must see them as undocumented.
	checkerOf(t, st).ExpectUndocumented("GET", "/v1/nope")
	checkerOf(t, st).ExpectUndocumented("PATCH", "/v1/groups")

	cases := []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		want   int
	}{
		{"no token", anon, "GET", "/v1/settings", nil, 401},
		{"garbage token", &client{t: t, base: st.URL, token: "x.y.z"}, "GET", "/v1/settings", nil, 401},
		{"unknown route", admin, "GET", "/v1/nope", nil, 404},
		{"wrong method", admin, "PATCH", "/v1/groups", nil, 404},
		{"not JSON", admin, "POST", "/v1/groups", "{nope", 400},
		{"unknown field", admin, "POST", "/v1/groups", `{"name":"x","members":[],"admin":true}`, 400},
		{"wrong type", admin, "POST", "/v1/groups", `{"name":"x","members":"bob"}`, 400},
		{"missing field", admin, "POST", "/v1/policies", `{"scope":"Exchange","name":"X"}`, 400},
		{"body over 64 KiB", admin, "POST", "/v1/groups", `{"name":"x","description":"` + strings.Repeat("a", 65<<10) + `","members":[]}`, 413},
		{"bad group name in path", admin, "GET", "/v1/groups/bad%20name!", nil, 400},
		{"unknown group", admin, "GET", "/v1/groups/none", nil, 404},
		{"policy for unknown group", admin, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Y", "approvalType": "Manual", "approverGroup": "ghosts"}, 422},
		{"duplicate policy", admin, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Auto"}, 409},
		{"enable without default group", admin, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ghosts"}, 422},
		{"non-admin on admin route", user, "GET", "/v1/settings", nil, 403},
		{"non-admin creates policy", user, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Z", "approvalType": "Auto"}, 403},
		{"request without policy", user, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "Uncovered", "reason": "x"}, 422},
		{"negative duration", user, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "x", "durationHours": -1}, 400},
		{"unknown request", user, "GET", "/v1/requests/0123456789abcdef", nil, 404},
		{"approve unknown request", user, "POST", "/v1/requests/0123456789abcdef/approve", map[string]any{}, 404},
		{"bad list status", user, "GET", "/v1/requests?status=Bogus", nil, 400},
		{"authorize another principal", user, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "principal": "bob@example.com"}, 403},
		{"forged link", anon, "GET", "/v1/links/forged.token", nil, 0},
		{"token route wants POST", anon, "GET", TokenPath, nil, 405},
		{"token route wants an email", anon, "POST", TokenPath, `{"principal":"nobody"}`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			got, out := tc.c.do(tc.method, tc.path, tc.body)
			if tc.want == 0 {
				if got < 400 || got >= 500 {
					t.Errorf("status %d, want a 4xx: %s", got, out["_raw"])
				}
			} else if got != tc.want {
				t.Errorf("status %d, want %d: %s", got, tc.want, out["_raw"])
			}
			if strings.Contains(out["_raw"].(string), "dynamodb") || strings.Contains(out["_raw"].(string), "goroutine") {
				t.Errorf("answer leaks internals: %s", out["_raw"])
			}
			anon.t = t
			anon.must(200, "GET", "/healthz", nil)
		})
	}
	admin.t, user.t, anon.t = t, t, t
	eq(t, "state after bad calls", snapshot(admin), before)
}

// snapshot is the configuration and request state as an admin sees it.
func snapshot(admin *client) string {
	var parts []string
	for _, p := range []string{"/v1/settings", "/v1/groups", "/v1/policies", "/v1/requests"} {
		out := admin.must(200, "GET", p, nil)
		parts = append(parts, out["_raw"].(string))
	}
	return strings.Join(parts, "\n")
}

// TestStopEndsEverything starts its own DynamoDB Local, as make run does, and
// checks that Stop ends java, node and the API.
func TestStopEndsEverything(t *testing.T) {
	o, _ := withOpenAPI(t, Options{})
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	anon := &client{t: t, base: st.URL}
	anon.must(200, "GET", "/healthz", nil)
	if err := st.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, exited := range map[string]<-chan struct{}{"DynamoDB Local": st.Dynamo.Exited(), "SES emulator": st.SES.Exited()} {
		select {
		case <-exited:
		default:
			t.Errorf("%s still running after Stop", name)
		}
	}
	if _, err := http.Get(st.URL + "/healthz"); err == nil {
		t.Error("API still answers after Stop")
	}
	if err := st.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartFailsOnTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	st, err := Start(context.Background(), Options{Addr: ln.Addr().String()})
	if err == nil {
		_ = st.Stop()
		t.Fatal("Start succeeded on a taken port")
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
}

var linkPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+/v1/links/[A-Za-z0-9._~%-]+`)

// TestEmailLinkApproval follows the approver's emailed link: the stream
// poller feeds notify, SES carries the email, and the link page works through
// the gateway without a JWT. A GET changes nothing; the POST decides once.
func TestEmailLinkApproval(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	id := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "ticket 7"})["id"].(string)

	var link string
	eventually(t, "bob's approval email", func() bool {
		e, _ := emailWith(t, st, "bob@example.com", "Approval needed")
		link = linkPattern.FindString(e.Body.Text + e.Body.HTML)
		return link != ""
	})
	if !strings.HasPrefix(link, st.URL+"/v1/links/") {
		t.Fatalf("link %q does not point at the stack", link)
	}

	for range 2 {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		eq(t, "GET status", resp.StatusCode, 200)
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "New-MoveRequest") {
			t.Fatalf("link page: %s %s", resp.Header.Get("Content-Type"), page)
		}
	}
	eq(t, "status after GETs", alice.must(200, "GET", "/v1/requests/"+id, nil)["status"], any("Pending"))

	post := func() int {
		form := url.Values{"decision": {"approve"}, "comment": {"fine"}, "request": {id}}
		resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eq(t, "POST status", post(), 200)
	eq(t, "status after POST", alice.must(200, "GET", "/v1/requests/"+id, nil)["status"], any("Approved"))
	alice.authorize("New-MoveRequest", true, "grant")
	if code := post(); code < 400 || code >= 500 {
		t.Errorf("replayed link answered %d, want a 4xx", code)
	}
}

// TestAuditSurvivesS3Outage: while S3 is down nothing reaches the bucket
// (notify moves on independently); after recovery the record that failed is
// re-delivered and arrives.
func TestAuditSurvivesS3Outage(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	st.S3.SetDown(true)
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})

	advanced := func(consumer string) bool {
		return slices.ContainsFunc(st.Poller.Checkpoints(consumer), func(c Checkpoint) bool { return c.Sequence != "" })
	}
	eventually(t, "notify to pass the record", func() bool { return advanced("notify") })
	if keys, err := st.S3.Keys(); err != nil || len(keys) != 0 {
		t.Fatalf("audit objects written while S3 was down: %v %v", keys, err)
	}
	st.S3.SetDown(false)
	eventually(t, "group.created in the audit bucket", func() bool {
		return slices.Contains(auditActions(t, st), auditrecord.ActionGroupCreated)
	})
	eventually(t, "audit checkpoint", func() bool { return advanced("audit") })
}
