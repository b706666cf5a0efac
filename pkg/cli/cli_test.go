package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const testToken = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"

// seen is one request as the fake API received it.
type seen struct {
	Method, Path, RawQuery, Auth, ContentType string
	Body                                      map[string]any
	RawBody                                   string
}

// fakeAPI speaks HTTP API v1's wire format closely enough to test the client:
// JSON answers, problem+json refusals. Handlers are keyed "METHOD /path".
type fakeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
	routes   map[string]func(w http.ResponseWriter, r *http.Request)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{routes: map[string]func(http.ResponseWriter, *http.Request){}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), RawBody: string(raw)}
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &s.Body)
		}
		f.mu.Lock()
		f.requests = append(f.requests, s)
		h := f.routes[r.Method+" "+r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			problem(w, http.StatusNotFound, "no such route in the fake")
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) on(route string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = func(w http.ResponseWriter, _ *http.Request) {
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func (f *fakeAPI) got() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes the CLI in-process with only the given environment.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

func apiEnv(f *fakeAPI) map[string]string {
	return map[string]string{EnvAPIURL: f.URL, EnvToken: testToken}
}

const requestJSON = `{"id":"r-1","type":"Task","scope":"Exchange","name":"New-MoveRequest","requester":"alice@example.com","reason":"migrate","durationHours":1.5,"status":"Pending","approvalType":"Manual","approverGroup":"approvers","requiredApprovals":1,"decisions":[],"createdAt":"2025-03-10T08:00:00Z","expiresAt":"2025-03-11T08:00:00Z","active":false,"futureField":"kept"}`

func TestCommandsSendTheContract(t *testing.T) {
	cases := []struct {
		args        []string
		route       string
		method      string
		path, query string
		body        map[string]any
	}{
		{[]string{"enable", "--approver-group", "approvers"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "",
			map[string]any{"enabled": true, "defaultApproverGroup": "approvers"}},
		{[]string{"enable", "--approver-group", "approvers", "--system-account", "svc@x.io", "--system-account", "bot@x.io"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "",
			map[string]any{"enabled": true, "defaultApproverGroup": "approvers", "systemAccounts": []any{"svc@x.io", "bot@x.io"}}},
		{[]string{"disable"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "", map[string]any{"enabled": false}},
		{[]string{"settings", "get"}, "GET /v1/settings", "GET", "/v1/settings", "", nil},
		{[]string{"settings", "set", "--max-policies", "50", "--pending-expiry", "36h", "--default-duration", "90m"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "",
			map[string]any{"maxPolicies": 50.0, "pendingExpiryHours": 36.0, "defaultDurationHours": 1.5}},
		{[]string{"lockbox", "enable", "--approver-group", "lockbox-approvers", "--max-duration", "2h"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "",
			map[string]any{"lockbox": map[string]any{"enabled": true, "approverGroup": "lockbox-approvers", "maxDurationHours": 2.0}}},
		{[]string{"lockbox", "disable"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "", map[string]any{"lockbox": map[string]any{"enabled": false}}},
		{[]string{"group", "new", "approvers", "--member", "bob@x.io", "--member", "carol@x.io", "--description", "Exchange admins"}, "POST /v1/groups", "POST", "/v1/groups", "",
			map[string]any{"name": "approvers", "description": "Exchange admins", "members": []any{"bob@x.io", "carol@x.io"}}},
		{[]string{"group", "new", "empty"}, "POST /v1/groups", "POST", "/v1/groups", "", map[string]any{"name": "empty", "description": "", "members": []any{}}},
		{[]string{"group", "add", "approvers", "dave+ops@x.io"}, "PUT /v1/groups/approvers/members/dave+ops@x.io", "PUT", "/v1/groups/approvers/members/dave+ops@x.io", "", nil},
		{[]string{"group", "remove", "approvers", "bob@x.io"}, "DELETE /v1/groups/approvers/members/bob@x.io", "DELETE", "/v1/groups/approvers/members/bob@x.io", "", nil},
		{[]string{"group", "list"}, "GET /v1/groups", "GET", "/v1/groups", "", nil},
		{[]string{"group", "get", "approvers"}, "GET /v1/groups/approvers", "GET", "/v1/groups/approvers", "", nil},
		{[]string{"group", "delete", "approvers"}, "DELETE /v1/groups/approvers", "DELETE", "/v1/groups/approvers", "", nil},
		{[]string{"policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "manual", "--approver-group", "approvers", "--max-duration", "1h30m", "--required-approvals", "2"}, "POST /v1/policies", "POST", "/v1/policies", "",
			map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual", "approverGroup": "approvers", "maxDurationHours": 1.5, "requiredApprovals": 2.0}},
		{[]string{"policy", "new", "--role-group", "Exchange/Organization-Management", "--approval", "Auto"}, "POST /v1/policies", "POST", "/v1/policies", "",
			map[string]any{"type": "RoleGroup", "scope": "Exchange", "name": "Organization-Management", "approvalType": "Auto"}},
		{[]string{"policy", "list"}, "GET /v1/policies", "GET", "/v1/policies", "", nil},
		{[]string{"break-glass", "holds"}, "GET /v1/break-glass/holds", "GET", "/v1/break-glass/holds", "", nil},
		{[]string{"break-glass", "release", "alice@x.io"}, "DELETE /v1/break-glass/holds/alice@x.io", "DELETE", "/v1/break-glass/holds/alice@x.io", "", nil},
		{[]string{"policy", "get", "task:exchange:new-moverequest"}, "GET /v1/policies/task:exchange:new-moverequest", "GET", "/v1/policies/task:exchange:new-moverequest", "", nil},
		{[]string{"policy", "remove", `Exchange\New-MoveRequest`}, "DELETE /v1/policies/task:exchange:new-moverequest", "DELETE", "/v1/policies/task:exchange:new-moverequest", "", nil},
		{[]string{"policy", "remove", "--type", "Role", `Exchange\Mail-Recipients`}, "DELETE /v1/policies/role:exchange:mail-recipients", "DELETE", "/v1/policies/role:exchange:mail-recipients", "", nil},
		{[]string{"request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "migrate mailbox", "--duration", "30m"}, "POST /v1/requests", "POST", "/v1/requests", "",
			map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "reason": "migrate mailbox", "durationHours": 0.5}},
		{[]string{"request", "new", "--lockbox", "--task", `Exchange\Mailbox-Content`, "--reason", "ticket 42"}, "POST /v1/requests", "POST", "/v1/requests", "",
			map[string]any{"type": "Lockbox", "scope": "Exchange", "name": "Mailbox-Content", "reason": "ticket 42"}},
		{[]string{"request", "get", "r-1"}, "GET /v1/requests/r-1", "GET", "/v1/requests/r-1", "", nil},
		// scheduled start, tickets and extensions (F13-F15)
		{[]string{"request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "change", "--start", "2030-01-01T23:00:00+01:00", "--ticket", "CHG-7"}, "POST /v1/requests", "POST", "/v1/requests", "",
			map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "reason": "change", "startAt": "2030-01-01T22:00:00Z", "ticket": "CHG-7"}},
		{[]string{"request", "extend", "r-1", "--duration", "1h", "--reason", "runs long"}, "POST /v1/requests/r-1/extend", "POST", "/v1/requests/r-1/extend", "",
			map[string]any{"durationHours": 1.0, "reason": "runs long"}},
		{[]string{"request", "list", "--ticket", "CHG-7"}, "GET /v1/requests", "GET", "/v1/requests", "ticket=CHG-7", nil},
		{[]string{"policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "Manual", "--ticket-required", "--ticket-pattern", "CHG-[0-9]+"}, "POST /v1/policies", "POST", "/v1/policies", "",
			map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual", "ticketRequired": true, "ticketPattern": "CHG-[0-9]+"}},
		{[]string{"settings", "set", "--schedule-ahead", "48h"}, "PATCH /v1/settings", "PATCH", "/v1/settings", "", map[string]any{"maxScheduleAheadHours": 48.0}},
		{[]string{"request", "list", "--status", "pending", "--type", "lockbox", "--requester", "alice@example.com", "--limit", "10"}, "GET /v1/requests", "GET", "/v1/requests",
			"limit=10&requester=alice%40example.com&status=Pending&type=Lockbox", nil},
		{[]string{"approve", "r-1", "--comment", "ok"}, "POST /v1/requests/r-1/approve", "POST", "/v1/requests/r-1/approve", "", map[string]any{"comment": "ok"}},
		{[]string{"approve", "r-1"}, "POST /v1/requests/r-1/approve", "POST", "/v1/requests/r-1/approve", "", nil},
		{[]string{"deny", "r-1", "-m", "no ticket"}, "POST /v1/requests/r-1/deny", "POST", "/v1/requests/r-1/deny", "", map[string]any{"comment": "no ticket"}},
		{[]string{"revoke", "r-1", "--comment", "done"}, "POST /v1/requests/r-1/revoke", "POST", "/v1/requests/r-1/revoke", "", map[string]any{"comment": "done"}},
		{[]string{"cancel", "r-1"}, "POST /v1/requests/r-1/cancel", "POST", "/v1/requests/r-1/cancel", "", nil},
		{[]string{"authorize", "--task", `Exchange\New-MoveRequest`, "--principal", "alice@example.com"}, "POST /v1/authorize", "POST", "/v1/authorize", "",
			map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "principal": "alice@example.com"}},
		{[]string{"authorize", "--lockbox", "--task", `Exchange\Mailbox-Content`}, "POST /v1/authorize", "POST", "/v1/authorize", "",
			map[string]any{"type": "Lockbox", "scope": "Exchange", "name": "Mailbox-Content"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := newFakeAPI(t)
			for _, r := range []string{"PATCH /v1/settings", "GET /v1/settings"} {
				f.on(r, 200, `{"enabled":true,"defaultApproverGroup":"approvers","systemAccounts":[],"maxPolicies":30,"defaultDurationHours":4,"pendingExpiryHours":24,"lockbox":{"enabled":false,"approverGroup":"","maxDurationHours":4}}`)
			}
			f.on("POST /v1/authorize", 200, `{"allowed":true,"reason":"grant"}`)
			f.on("GET /v1/groups", 200, `{"items":[]}`)
			f.on("GET /v1/policies", 200, `{"items":[]}`)
			f.on("GET /v1/requests", 200, `{"items":[]}`)
			if _, ok := f.routes[tc.route]; !ok {
				switch {
				case strings.Contains(tc.route, "/requests"):
					f.on(tc.route, 200, requestJSON)
				case tc.route == "DELETE /v1/groups/approvers", strings.HasPrefix(tc.route, "DELETE /v1/policies"):
					f.on(tc.route, http.StatusNoContent, "")
				case strings.Contains(tc.route, "/groups"):
					f.on(tc.route, 200, `{"name":"approvers","description":"","members":["bob@x.io"]}`)
				default:
					f.on(tc.route, 200, `{"id":"task:exchange:new-moverequest","type":"Task","scope":"Exchange","name":"New-MoveRequest","approvalType":"Manual","approverGroup":"approvers","requiredApprovals":1}`)
				}
			}
			res := run(t, apiEnv(f), tc.args...)
			if res.code != ExitOK {
				t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
			}
			got := f.got()
			if len(got) != 1 {
				t.Fatalf("sent %d requests, want 1: %+v", len(got), got)
			}
			s := got[0]
			if s.Method != tc.method || s.Path != tc.path || s.RawQuery != tc.query {
				t.Fatalf("sent %s %s?%s, want %s %s?%s", s.Method, s.Path, s.RawQuery, tc.method, tc.path, tc.query)
			}
			if s.Auth != "Bearer "+testToken {
				t.Fatalf("Authorization = %q", s.Auth)
			}
			if !reflect.DeepEqual(s.Body, tc.body) {
				t.Fatalf("body = %v, want %v", s.Body, tc.body)
			}
			if tc.body != nil && s.ContentType != "application/json" {
				t.Fatalf("Content-Type = %q", s.ContentType)
			}
			if res.stdout == "" {
				t.Fatal("nothing printed")
			}
		})
	}
}

func TestUsageErrorsExitTwoAndSendNothing(t *testing.T) {
	cases := [][]string{
		{"bogus"},
		{"group"},
		{"group", "frobnicate"},
		{"enable"},
		{"enable", "--approver-group"},
		{"enable", "--approver-group", "g", "extra"},
		{"group", "new"},
		{"group", "add", "approvers"},
		{"group", "get", ""},
		{"policy", "new", "--approval", "Manual"},
		{"policy", "new", "--task", `Exchange\X`},
		{"policy", "new", "--task", `Exchange\X`, "--approval", "Sometimes"},
		{"policy", "new", "--task", `Exchange\X`, "--role", `Exchange\Y`, "--approval", "Manual"},
		{"policy", "new", "--task", "NoBackslash", "--approval", "Manual"},
		{"policy", "new", "--task", `Exchange\has space`, "--approval", "Manual"},
		{"policy", "new", "--task", `Exchange\X`, "--approval", "Manual", "--max-duration", "forever"},
		{"policy", "new", "--task", `Exchange\X`, "--approval", "Manual", "--max-duration", "-2h"},
		{"policy", "new", "--task", `Exchange\X`, "--approval", "Manual", "--required-approvals", "0"},
		{"policy", "remove", "--type", "Bogus", `Exchange\X`},
		{"request", "new", "--task", `Exchange\X`},
		{"request", "new", "--task", `Exchange\X`, "--reason", "r", "--duration", "0"},
		{"request", "new", "--role", `Exchange\X`, "--lockbox", "--reason", "r"},
		{"request", "new", "--task", `Exchange\X`, "--reason", "r", "--start", "tomorrow"},
		{"request", "new", "--task", `Exchange\X`, "--reason", "r", "--start", "+soon"},
		{"request", "extend", "r-1", "--reason", "r"},
		{"request", "extend", "r-1", "--duration", "1h"},
		{"request", "extend", "--duration", "1h", "--reason", "r"},
		{"request", "list", "--status", "Open"},
		{"request", "list", "--type", "Mailbox"},
		{"request", "list", "--limit", "500"},
		{"request", "list", "--all", "--next", "abc"},
		{"request", "get"},
		{"approve"},
		{"approve", "a", "b"},
		{"authorize"},
		{"settings", "set"},
		{"settings", "get", "--output", "yaml"},
		{"settings", "get", "--timeout", "0s"},
		{"login", "--as", "alice@example.com"},
		{"login", "--local"},
		{"audit", "query"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFakeAPI(t)
			res := run(t, apiEnv(f), args...)
			if res.code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", res.code, ExitUsage, res.stderr)
			}
			if n := len(f.got()); n != 0 {
				t.Fatalf("a usage error sent %d requests", n)
			}
			if !strings.HasPrefix(res.stderr, "elevate: ") {
				t.Fatalf("stderr %q", res.stderr)
			}
		})
	}
}

func TestMissingConfigurationIsAUsageError(t *testing.T) {
	f := newFakeAPI(t)
	for name, env := range map[string]map[string]string{
		"no url":     {EnvToken: testToken},
		"bad url":    {EnvAPIURL: "localhost:8080", EnvToken: testToken},
		"no token":   {EnvAPIURL: f.URL},
		"blank both": {EnvAPIURL: " ", EnvToken: " "},
	} {
		res := run(t, env, "settings", "get")
		if res.code != ExitUsage {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", name, res.code, res.stderr)
		}
	}
	if n := len(f.got()); n != 0 {
		t.Fatalf("sent %d requests", n)
	}
	// Flags win over the environment.
	f.on("GET /v1/settings", 200, `{"enabled":false}`)
	res := run(t, map[string]string{EnvAPIURL: "http://127.0.0.1:1", EnvToken: "env-token"}, "--api-url", f.URL, "--token", "flag-token", "settings", "get")
	if res.code != 0 || f.got()[0].Auth != "Bearer flag-token" {
		t.Fatalf("exit %d, auth %q", res.code, f.got()[0].Auth)
	}
}

func TestAPIErrorsPrintTitleDetailAndMapExitCodes(t *testing.T) {
	cases := []struct {
		status     int
		problem    bool
		wantCode   int
		wantStderr string
	}{
		{400, true, ExitRefused, "Bad Request: reason is required\n"},
		{401, true, ExitRefused, "Unauthorized: reason is required\n"},
		{403, true, ExitRefused, "Forbidden: reason is required\n"},
		{404, true, ExitRefused, "Not Found: reason is required\n"},
		{409, true, ExitRefused, "Conflict: reason is required\n"},
		{422, true, ExitRefused, "Unprocessable Entity: reason is required\n"},
		{500, true, ExitServer, "Internal Server Error: reason is required\n"},
		{503, true, ExitServer, "Service Unavailable: reason is required\n"},
		{502, false, ExitServer, "Bad Gateway\n"},
		{429, false, ExitRefused, "Too Many Requests\n"},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		f.routes["POST /v1/requests/r-1/approve"] = func(w http.ResponseWriter, _ *http.Request) {
			if tc.problem {
				problem(w, tc.status, "reason is required")
				return
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, "<html>upstream exploded at 10.0.0.7</html>")
		}
		res := run(t, apiEnv(f), "approve", "r-1")
		if res.code != tc.wantCode || res.stderr != tc.wantStderr || res.stdout != "" {
			t.Errorf("status %d: exit %d stderr %q stdout %q; want %d %q", tc.status, res.code, res.stderr, res.stdout, tc.wantCode, tc.wantStderr)
		}
	}
}

func TestTransportErrorsExitFour(t *testing.T) {
	f := newFakeAPI(t)
	url := f.URL
	f.Close()
	res := run(t, map[string]string{EnvAPIURL: url, EnvToken: testToken}, "request", "get", "r-1")
	if res.code != ExitServer || !strings.Contains(res.stderr, "cannot reach the API") {
		t.Fatalf("exit %d stderr %q", res.code, res.stderr)
	}

	g := newFakeAPI(t)
	g.on("GET /v1/requests/r-1", 200, `{"id": "r-1", "status": `)
	res = run(t, apiEnv(g), "request", "get", "r-1")
	if res.code != ExitInternal {
		t.Fatalf("truncated JSON: exit %d stderr %q", res.code, res.stderr)
	}
}

func TestTokenIsNeverPrinted(t *testing.T) {
	f := newFakeAPI(t)
	f.routes["GET /v1/settings"] = func(w http.ResponseWriter, _ *http.Request) { problem(w, 401, "token expired") }
	dead := newFakeAPI(t)
	deadURL := dead.URL
	dead.Close()
	runs := []result{
		run(t, apiEnv(f), "--help"),
		run(t, apiEnv(f), "settings", "get", "--help"),
		run(t, apiEnv(f), "settings", "get"),
		run(t, apiEnv(f), "--token", testToken, "settings", "get", "--output", "json"),
		run(t, map[string]string{EnvAPIURL: deadURL, EnvToken: testToken}, "settings", "get"),
		run(t, apiEnv(f), "bogus", "--token", testToken),
	}
	for i, r := range runs {
		if strings.Contains(r.stdout+r.stderr, testToken) || strings.Contains(r.stdout+r.stderr, "c2VjcmV0") {
			t.Errorf("run %d printed the token: %q %q", i, r.stdout, r.stderr)
		}
	}
	if runs[2].code != ExitRefused || runs[2].stderr != "Unauthorized: token expired\n" {
		t.Fatalf("401: exit %d stderr %q", runs[2].code, runs[2].stderr)
	}
}

func TestAuthorizeExitCodeBranches(t *testing.T) {
	f := newFakeAPI(t)
	f.on("POST /v1/authorize", 200, `{"allowed":true,"reason":"grant","requestId":"r-1","expiresAt":"2025-03-10T12:00:00Z"}`)
	res := run(t, apiEnv(f), "authorize", "--task", `Exchange\New-MoveRequest`)
	if res.code != ExitOK || res.stdout != "allowed (grant) by request r-1 until 2025-03-10T12:00:00Z\n" {
		t.Fatalf("allowed: exit %d stdout %q", res.code, res.stdout)
	}
	f.on("POST /v1/authorize", 200, `{"allowed":false,"reason":"approval-required"}`)
	res = run(t, apiEnv(f), "authorize", "--task", `Exchange\New-MoveRequest`)
	if res.code != ExitDenied || res.stdout != "denied (approval-required)\n" || res.stderr != "" {
		t.Fatalf("denied: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	res = run(t, apiEnv(f), "authorize", "--task", `Exchange\New-MoveRequest`, "-o", "json")
	var ans map[string]any
	if res.code != ExitDenied || json.Unmarshal([]byte(res.stdout), &ans) != nil || ans["reason"] != "approval-required" {
		t.Fatalf("denied json: exit %d stdout %q", res.code, res.stdout)
	}
	f.routes["POST /v1/authorize"] = func(w http.ResponseWriter, _ *http.Request) {
		problem(w, 403, "asking about another principal needs admin")
	}
	res = run(t, apiEnv(f), "authorize", "--task", `Exchange\New-MoveRequest`, "--principal", "bob@x.io")
	if res.code != ExitRefused {
		t.Fatalf("403: exit %d", res.code)
	}
}

func TestTableOutput(t *testing.T) {
	f := newFakeAPI(t)
	second := strings.Replace(strings.Replace(requestJSON, `"r-1"`, `"r-22222"`, 1), `"Pending"`, `"Approved","ticket":"CHG-7"`, 1)
	f.on("GET /v1/requests", 200, `{"items":[`+requestJSON+`,`+second+`]}`)
	res := run(t, apiEnv(f), "request", "list")
	if res.code != 0 {
		t.Fatalf("exit %d %s", res.code, res.stderr)
	}
	want := "" +
		"ID       STATUS    TARGET                         REQUESTER          DURATION  EXPIRES               TICKET\n" +
		"r-1      Pending   Task Exchange\\New-MoveRequest  alice@example.com  1h30m     2025-03-11T08:00:00Z  -\n" +
		"r-22222  Approved  Task Exchange\\New-MoveRequest  alice@example.com  1h30m     2025-03-11T08:00:00Z  CHG-7\n"
	if res.stdout != want {
		t.Fatalf("table:\n%s\nwant:\n%s", res.stdout, want)
	}

	// A hostile value cannot add a line to the table.
	f.on("GET /v1/groups", 200, `{"items":[{"name":"g","description":"line\nforged\trow","members":["a@x.io","b@x.io"]}]}`)
	res = run(t, apiEnv(f), "group", "list")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "a@x.io,b@x.io") || !strings.Contains(lines[1], "line forged row") {
		t.Fatalf("group table: %q", res.stdout)
	}

	f.on("GET /v1/settings", 200, `{"enabled":true,"defaultApproverGroup":"approvers","systemAccounts":["svc@x.io"],"maxPolicies":30,"defaultDurationHours":4,"pendingExpiryHours":24,"lockbox":{"enabled":false,"approverGroup":"","maxDurationHours":4}}`)
	res = run(t, apiEnv(f), "settings", "get")
	for _, line := range []string{"Enabled                 yes", "Default approver group  approvers", "System accounts         svc@x.io", "Pending expiry          24h", "Lockbox approver group  -"} {
		if !strings.Contains(res.stdout, line+"\n") {
			t.Errorf("settings table lacks %q:\n%s", line, res.stdout)
		}
	}

	f.on("GET /v1/requests/r-1", 200, strings.Replace(requestJSON, `"decisions":[]`, `"decisions":[{"by":"bob@x.io","decision":"approve","comment":"ok","at":"2025-03-10T09:00:00Z"}]`, 1))
	res = run(t, apiEnv(f), "request", "get", "r-1")
	for _, want := range []string{"Status     Pending\n", "Reason     migrate\n", "DECISION  BY        AT                    COMMENT\n", "approve   bob@x.io  2025-03-10T09:00:00Z  ok\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("request table lacks %q:\n%s", want, res.stdout)
		}
	}
}

func TestJSONOutputAndPaging(t *testing.T) {
	f := newFakeAPI(t)
	f.on("GET /v1/requests/r-1", 200, requestJSON)
	res := run(t, apiEnv(f), "request", "get", "r-1", "--output", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil || got["futureField"] != "kept" || got["durationHours"] != 1.5 {
		t.Fatalf("json output %q (%v)", res.stdout, err)
	}

	pages := map[string]string{
		"":   `{"items":[{"id":"a"},{"id":"b"}],"next":"p2"}`,
		"p2": `{"items":[{"id":"c"}],"next":"p3"}`,
		"p3": `{"items":[{"id":"d"}]}`,
	}
	f.routes["GET /v1/requests"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, pages[r.URL.Query().Get("next")])
	}
	ids := func(out string) []string {
		var items []map[string]any
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("not a JSON array: %q", out)
		}
		var s []string
		for _, it := range items {
			s = append(s, it["id"].(string))
		}
		return s
	}
	res = run(t, apiEnv(f), "request", "list", "--all", "-o", "json", "--status", "Approved")
	if got := ids(res.stdout); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) || res.stderr != "" {
		t.Fatalf("--all ids %v stderr %q", got, res.stderr)
	}
	for _, s := range f.got()[1:] {
		if q, _ := url.ParseQuery(s.RawQuery); q.Get("status") != "Approved" {
			t.Fatalf("a later page dropped the filter: %q", s.RawQuery)
		}
	}
	res = run(t, apiEnv(f), "request", "list", "-o", "json")
	if got := ids(res.stdout); !reflect.DeepEqual(got, []string{"a", "b"}) || !strings.Contains(res.stderr, "--next p2") {
		t.Fatalf("one page: ids %v stderr %q", got, res.stderr)
	}
	res = run(t, apiEnv(f), "request", "list", "-o", "json", "--next", "p3")
	if got := ids(res.stdout); !reflect.DeepEqual(got, []string{"d"}) || res.stderr != "" {
		t.Fatalf("--next: ids %v stderr %q", got, res.stderr)
	}

	f.on("GET /v1/policies", 200, `{"items":[]}`)
	res = run(t, apiEnv(f), "policy", "list", "-o", "json")
	if strings.TrimSpace(res.stdout) != "[]" {
		t.Fatalf("empty list json = %q", res.stdout)
	}
}

func TestLoginLocal(t *testing.T) {
	f := newFakeAPI(t)
	f.on("POST /_local/token", 200, `{"token":"abc'def","expiresAt":"2025-03-10T20:00:00Z"}`)
	res := run(t, map[string]string{EnvAPIURL: f.URL, EnvToken: "stale"}, "login", "--local", "--as", "alice@example.com", "--group", "elevate-admins", "--group", "approvers")
	if res.code != 0 || res.stdout != "export ELEVATE_TOKEN='abc'\\''def'\n" {
		t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	s := f.got()[0]
	if s.Auth != "" {
		t.Fatalf("login sent a token: %q", s.Auth)
	}
	want := map[string]any{"principal": "alice@example.com", "groups": []any{"elevate-admins", "approvers"}}
	if !reflect.DeepEqual(s.Body, want) {
		t.Fatalf("body %v", s.Body)
	}
	f.routes["POST /_local/token"] = func(w http.ResponseWriter, _ *http.Request) { problem(w, 400, "principal must be an email address") }
	res = run(t, map[string]string{EnvAPIURL: f.URL}, "login", "--local", "--as", "nobody")
	if res.code != ExitRefused || res.stderr != "Bad Request: principal must be an email address\n" {
		t.Fatalf("exit %d stderr %q", res.code, res.stderr)
	}
}
