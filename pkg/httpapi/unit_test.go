package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

func TestProblemFor(t *testing.T) {
	cases := []struct {
		err      error
		status   int
		code     string
		detail   string
		internal bool
	}{
		{elevate.Invalid("scope is bad"), 400, "invalid", "scope is bad", false},
		{unauthenticated("no token"), 401, "unauthenticated", "no token", false},
		{elevate.ErrSelfApproval, 403, "self-approval", elevate.ErrSelfApproval.Message, false},
		{elevate.ErrRequestNotFound, 404, "request-not-found", "request not found", false},
		{elevate.ErrLinkUsed, 409, "link-used", elevate.ErrLinkUsed.Message, false},
		{elevate.ErrPolicyCap, 422, "policy-cap", elevate.ErrPolicyCap.Message, false},
		{fmt.Errorf("%w: dial tcp 10.0.0.1:443: secret-host", elevate.ErrUnavailable), 503, "unavailable", "the service is temporarily unavailable; retry later", true},
		{fmt.Errorf("%w: table arn:aws:dynamodb:xyz", elevate.ErrNotFound), 404, "not-found", "not found", true},
		{errTooLarge, 413, "too-large", errTooLarge.Error(), false},
		{unsupported("send JSON"), 415, "unsupported-media-type", "send JSON", false},
		{errors.New("nil pointer in secret-place"), 500, "", "an internal error occurred; it has been logged", true},
	}
	for _, c := range cases {
		p, internal := ProblemFor(c.err)
		if p.Status != c.status || p.Code != c.code || p.Detail != c.detail || internal != c.internal {
			t.Errorf("%v: got %+v internal=%v", c.err, p, internal)
		}
		if strings.Contains(p.Detail, "secret") || strings.Contains(p.Detail, "arn:") {
			t.Errorf("%v: detail leaks internals: %q", c.err, p.Detail)
		}
		if c.code != "" && p.Type != "https://elevate.dev/problems/"+c.code {
			t.Errorf("%v: type %q", c.err, p.Type)
		}
	}
}

func TestParseGroups(t *testing.T) {
	cases := map[string][]string{
		"":                               nil,
		"[elevate-admins ops]":           {"elevate-admins", "ops"},
		`["elevate-admins","ops","ops"]`: {"elevate-admins", "ops"},
		"elevate-admins, ops":            {"elevate-admins", "ops"},
		"ops":                            {"ops"},
		"[ops]":                          {"ops"},
		"[]":                             nil,
	}
	for in, want := range cases {
		if got := ParseGroups(in); !slices.Equal(got, want) {
			t.Errorf("ParseGroups(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallerFromClaims(t *testing.T) {
	h := newHarness(t, newMemStore())
	ev := h.event("GET", "/v1/requests", "", map[string]string{"email": " Alice@Example.COM ", "email_verified": "true", "cognito:groups": "[a b]", "groups": `["b","c"]`})
	c, err := CallerFromClaims(&ev)
	if err != nil || c.Principal != alice || !slices.Equal(c.Groups, []string{"a", "b", "c"}) {
		t.Fatalf("got %+v, %v", c, err)
	}
	for _, cl := range []map[string]string{nil, {}, {"email": ""}, {"email": "not-an-email"}, {"email": "a@b@c"}} {
		ev := h.event("GET", "/v1/requests", "", cl)
		if _, err := CallerFromClaims(&ev); !errors.Is(err, elevate.ErrUnauthorized) {
			t.Errorf("claims %v: err %v, want unauthorized", cl, err)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	type in struct {
		Scope  string            `json:"scope"`
		Hours  *float64          `json:"hours"`
		Tags   []string          `json:"tags"`
		Nested struct{ On bool } `json:"nested"`
	}
	cases := []struct {
		body, want string // want "" means success
	}{
		{`{"scope":"x"}`, ""},
		{` {"scope":"x","hours":1.5,"tags":["a"]} `, ""},
		{``, "a JSON body is required"},
		{`null`, "the body must be a JSON object"},
		{`[1]`, "the body must be a JSON object"},
		{`{"scope":"x","extra":1}`, `unknown field "extra"`},
		{`{"scope":1}`, `field "scope" must be a string, not number`},
		{`{"scope":"x","hours":"2"}`, `field "hours" must be a number, not string`},
		{`{"scope":"x","tags":"a"}`, `field "tags" must be an array, not string`},
		{`{"scope":"x"} {}`, "the body has data after the JSON object"},
		{`{"scope":"x"}garbage`, "the body has data after the JSON object"},
		{`{"scope":"x"`, "the JSON body ends unexpectedly"},
		{`{"scope":x}`, "malformed JSON at byte 10"},
		{`{"hours":1}`, `missing required field "scope"`},
		{`{"scope":null}`, `missing required field "scope"`},
	}
	for _, c := range cases {
		var v in
		err := DecodeBody([]byte(c.body), &v, "scope")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: unexpected error %v", c.body, err)
		case c.want != "" && (err == nil || err.Error() != c.want || !errors.Is(err, elevate.ErrInvalid)):
			t.Errorf("%q: got %v, want %q", c.body, err, c.want)
		}
	}
}

func TestParseListFilter(t *testing.T) {
	f, err := ParseListFilter(map[string]string{"status": "pending", "type": "lockbox", "limit": "10", "next": "abc", "requester": "Alice@Example.com"})
	if err != nil || f.Status != elevate.StatusPending || f.Type != elevate.TypeLockbox || f.Limit != 10 || f.Next != "abc" || f.Requester != alice {
		t.Fatalf("got %+v, %v", f, err)
	}
	for _, q := range []map[string]string{
		{"status": "Sleeping"}, {"type": "Pizza"}, {"type": ""}, {"limit": "0"}, {"limit": "101"}, {"limit": "ten"},
		{"next": ""}, {"next": strings.Repeat("x", 5000)}, {"requester": "nobody"}, {"sort": "asc"},
	} {
		if _, err := ParseListFilter(q); !errors.Is(err, elevate.ErrInvalid) {
			t.Errorf("%v: err %v, want invalid", q, err)
		}
	}
}

// adminRoutes are every route the policies function serves: all admin-only.
func adminRoutes() []manifest.Route {
	var out []manifest.Route
	for _, r := range manifest.All {
		if r.Function == manifest.Policies {
			out = append(out, r)
		}
	}
	return out
}

func concrete(path string) string {
	r := strings.NewReplacer("{name}", "ops", "{principal}", "bob@example.com", "{id}", "task:exchange:new-moverequest", "{token}", "x.y")
	return r.Replace(path)
}

func TestNonAdminGets403OnEveryAdminRoute(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	before := fmt.Sprintf("%v %v %v", store.settings, store.groups, store.policies)
	rs := adminRoutes()
	if len(rs) < 12 {
		t.Fatalf("only %d admin routes", len(rs))
	}
	for _, r := range rs {
		for _, body := range []string{"", `{"enabled":false}`, `{not json`} {
			// Members of other groups, and an approver, are still not admins.
			resp := h.do(r.Method, concrete(r.Path), body, claims(bob, "ops", "elevate-authorizers", "Elevate-Admins"))
			if resp.StatusCode != http.StatusForbidden || problemOf(t, resp).Code != "admin-only" {
				t.Errorf("%s body %q: status %d %s, want 403 admin-only", r.RouteKey(), body, resp.StatusCode, resp.Body)
			}
		}
	}
	if after := fmt.Sprintf("%v %v %v", store.settings, store.groups, store.policies); after != before {
		t.Errorf("a refused call changed state:\n%s\n%s", before, after)
	}
	// The configured admin group, not the default name, is what counts.
	h.svc.AdminGroup = "platform-admins"
	h.must(h.do("GET", "/v1/settings", "", claims(admin, app.DefaultAdminGroup)), 403, nil)
	h.must(h.do("GET", "/v1/settings", "", claims(admin, "platform-admins")), 200, nil)
}

func TestEveryPrivateRouteNeedsClaims(t *testing.T) {
	h := newHarness(t, newMemStore())
	for _, r := range manifest.All {
		if r.Public {
			continue
		}
		for _, cl := range []map[string]string{nil, {"email": "nobody"}, {"cognito:groups": "[elevate-admins]"}} {
			resp := h.do(r.Method, concrete(r.Path), `{}`, cl)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s claims %v: status %d, want 401", r.RouteKey(), cl, resp.StatusCode)
			}
			problemOf(t, resp)
		}
	}
}

func TestRouteOfAnotherFunctionIs404(t *testing.T) {
	h := newHarness(t, newMemStore())
	for _, r := range manifest.All {
		for _, f := range manifest.APIFunctions {
			if f == r.Function {
				continue
			}
			resp, _ := h.handlers[f](t.Context(), h.event(r.Method, concrete(r.Path), "", claims(admin, app.DefaultAdminGroup)))
			if resp.StatusCode != 404 {
				t.Errorf("%s sent to %s: status %d, want 404", r.RouteKey(), f, resp.StatusCode)
			}
		}
	}
	// Without a route key the path decides; unknown paths are 404 too.
	ev := h.event("GET", "/v1/nothing", "", claims(admin))
	ev.RouteKey = ""
	if resp := h.send(ev); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func TestPathOnlyEventsAreRouted(t *testing.T) {
	h := newHarness(t, newMemStore())
	h.setup(1)
	ev := h.event("PUT", "/v1/groups/ops/members/dave%40example.com", "", claims(admin, app.DefaultAdminGroup))
	ev.RouteKey, ev.RequestContext.RouteKey, ev.PathParameters = "", "", nil
	var g elevate.Group
	h.must(h.send(ev), 200, &g)
	if !g.HasMember("dave@example.com") {
		t.Fatalf("member not added: %+v", g)
	}
}

func TestBodyLimitsAndMediaTypes(t *testing.T) {
	h := newHarness(t, newMemStore())
	h.setup(1)
	body := `{"scope":"Exchange","name":"New-MoveRequest","reason":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	if resp := h.do("POST", "/v1/requests", body, claims(alice)); resp.StatusCode != 413 {
		t.Errorf("oversized: %d", resp.StatusCode)
	}
	ev := h.event("POST", "/v1/requests", base64.StdEncoding.EncodeToString([]byte(body)), claims(alice))
	ev.IsBase64Encoded = true
	if resp := h.send(ev); resp.StatusCode != 413 {
		t.Errorf("oversized base64: %d", resp.StatusCode)
	}
	ev = h.event("POST", "/v1/authorize", base64.StdEncoding.EncodeToString([]byte(`{"scope":"Exchange","name":"New-MoveRequest"}`)), claims(alice))
	ev.IsBase64Encoded = true
	var res app.AuthzResult
	h.must(h.send(ev), 200, &res)
	if res.Allowed || res.Reason != elevate.ReasonApprovalRequired {
		t.Errorf("base64 authorize: %+v", res)
	}
	ev = h.event("POST", "/v1/authorize", "not base64!", claims(alice))
	ev.IsBase64Encoded = true
	h.must(h.send(ev), 400, nil)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=utf-8", "application/merge-patch+json", "a/b; ==="} {
		ev := h.event("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`, claims(alice))
		ev.Headers = map[string]string{"Content-Type": ct}
		want := 415
		if strings.Contains(ct, "json") {
			want = 200
		}
		if resp := h.send(ev); resp.StatusCode != want {
			t.Errorf("content type %q: %d, want %d", ct, resp.StatusCode, want)
		}
	}
}

// TestMalformedCallsKeepTheServiceHealthy sends a table of bad calls; each
// gets its own 4xx with a problem document, nothing changes, and the health
// check answers 200 throughout.
func TestMalformedCallsKeepTheServiceHealthy(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	ad, al := claims(admin, app.DefaultAdminGroup), claims(alice)
	id := h.submit()
	cases := []struct {
		method, path, body string
		cl                 map[string]string
		status             int
	}{
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"x","extra":true}`, al, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"x","durationHours":"4"}`, al, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest"}`, al, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"x"}{"a":1}`, al, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"x","durationHours":99}`, claims(bob), 422},
		{"POST", "/v1/requests", `{"scope":"Nope","name":"Nothing","reason":"x"}`, al, 422},
		{"POST", "/v1/requests", `{"scope":"../etc","name":"x","reason":"x"}`, al, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"again"}`, al, 409},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"x"}`, nil, 401},
		{"GET", "/v1/requests?limit=1000", "", al, 400},
		{"GET", "/v1/requests?status=Sleeping", "", al, 400},
		{"GET", "/v1/requests?bogus=1", "", al, 400},
		{"GET", "/v1/requests/" + strings.Repeat("f", 32), "", al, 404},
		{"GET", "/v1/requests/bad%20id", "", al, 400},
		{"POST", "/v1/requests/" + id + "/approve", `{"comment":7}`, claims(bob), 400},
		{"POST", "/v1/requests/" + id + "/approve", `{"comment":"` + strings.Repeat("c", 1001) + `"}`, claims(bob), 400},
		{"POST", "/v1/requests/" + id + "/approve", `{}`, al, 403},
		{"POST", "/v1/requests/" + id + "/approve", `{}`, claims(mallory), 403},
		{"POST", "/v1/requests/" + id + "/revoke", `{}`, claims(bob), 409},
		{"POST", "/v1/requests/" + id + "/cancel", `{}`, claims(bob), 403},
		{"POST", "/v1/authorize", `{"scope":"Exchange"}`, al, 400},
		{"POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest","principal":"bob@example.com"}`, al, 403},
		{"POST", "/v1/authorize", `[]`, al, 400},
		{"POST", "/v1/groups", `{"name":"ops","members":[]}`, ad, 409},
		{"POST", "/v1/groups", `{"name":"new group","members":[]}`, ad, 400},
		{"POST", "/v1/groups", `{"name":"x","members":["not-an-email"]}`, ad, 400},
		{"POST", "/v1/groups", `{"name":"x"}`, ad, 400},
		{"GET", "/v1/groups/missing", "", ad, 404},
		{"GET", "/v1/groups/bad%20name", "", ad, 400},
		{"DELETE", "/v1/groups/ops", "", ad, 409},
		{"DELETE", "/v1/groups/ops/members/nobody%40example.com", "", ad, 404},
		{"PUT", "/v1/groups/ops/members/not-an-email", "", ad, 400},
		{"POST", "/v1/policies", `{"scope":"Exchange","name":"New-MoveRequest","approvalType":"Manual"}`, ad, 409},
		{"POST", "/v1/policies", `{"scope":"Exchange","name":"Other","approvalType":"Manual","approverGroup":"ghosts"}`, ad, 422},
		{"POST", "/v1/policies", `{"scope":"Exchange","name":"Other","approvalType":"Sometimes"}`, ad, 400},
		{"POST", "/v1/policies", `{"type":"Lockbox","scope":"Exchange","name":"Other","approvalType":"Manual"}`, ad, 400},
		{"GET", "/v1/policies/task:nope:nope", "", ad, 404},
		{"PUT", "/v1/policies/task:exchange:new-moverequest", `{"approvalType":"Manual","scope":"Other"}`, ad, 400},
		{"PATCH", "/v1/settings", `{"enabled":"yes"}`, ad, 400},
		{"PATCH", "/v1/settings", `{"maxPolicies":0}`, ad, 400},
		{"PATCH", "/v1/settings", `{"defaultApproverGroup":"ghosts"}`, ad, 422},
		{"PATCH", "/v1/settings", `{"lockbox":{"enabled":true}}`, ad, 422},
		{"PATCH", "/v1/settings", `{"lockbox":{"colour":"red"}}`, ad, 400},
	}
	snapshot := func() string {
		b, _ := json.Marshal([]any{store.settings, store.groups, store.policies, store.requests})
		return string(b)
	}
	before := snapshot()
	for _, c := range cases {
		resp := h.do(c.method, c.path, c.body, c.cl)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s %.60q: status %d, want %d: %s", c.method, c.path, c.body, resp.StatusCode, c.status, resp.Body)
		} else {
			problemOf(t, resp)
		}
		var hz map[string]string
		h.must(h.do("GET", "/healthz", "", nil), 200, &hz)
		if hz["status"] != "ok" {
			t.Fatalf("healthz: %v", hz)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("refused calls changed state")
	}
}

func TestInternalErrorsAreLoggedNotEchoed(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	store.fail = fmt.Errorf("%w: operation error DynamoDB: GetItem, dial tcp 127.0.0.1:1: connection refused", elevate.ErrUnavailable)
	resp := h.do("GET", "/v1/requests/abc", "", claims(alice))
	p := problemOf(t, resp)
	if resp.StatusCode != 503 || strings.Contains(resp.Body, "dial") {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(h.logs.String(), "connection refused") {
		t.Errorf("the cause was not logged: %s", h.logs.String())
	}
	store.fail = errors.New("boom: secret detail")
	resp = h.do("POST", "/v1/authorize", `{"scope":"a","name":"b"}`, claims(alice))
	if p = problemOf(t, resp); resp.StatusCode != 500 || strings.Contains(resp.Body, "secret") || p.Type != "about:blank" {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
}

func TestAccessLogLine(t *testing.T) {
	h := newHarness(t, newMemStore())
	h.setup(1)
	id := h.submit()
	token, err := h.links.Sign(id, bob, h.svc.Clock().Add(3600e9))
	if err != nil {
		t.Fatal(err)
	}
	h.logs.Reset()
	h.do("GET", "/v1/links/"+token, "", nil)
	h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"my secret reason"}`, claims(carol))
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", lines)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["route"] != "GET /v1/links/{token}" || first["status"] != 200.0 || first["requestId"] == "" || first["latencyMs"] == nil || first["function"] != "approvals" {
		t.Errorf("access log line: %v", first)
	}
	for _, secret := range []string{token, strings.Split(token, ".")[1], "my secret reason"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	h := newHarness(t, nil) // a nil store panics on first use
	resp := h.do("GET", "/v1/requests/abc", "", claims(alice))
	if p := problemOf(t, resp); resp.StatusCode != 500 || strings.Contains(resp.Body, "nil pointer") || p.Type != "about:blank" {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(h.logs.String(), "panic in handler") {
		t.Errorf("the panic was not logged")
	}
}

func TestRouteKeyWithoutPathParameters(t *testing.T) {
	h := newHarness(t, newMemStore())
	h.setup(1)
	id := h.submit()
	ev := h.event("GET", "/v1/requests/"+id, "", claims(alice))
	ev.PathParameters = nil
	h.must(h.send(ev), 200, nil)
	// The path must agree with the route key.
	ev = h.event("GET", "/v1/requests/"+id, "", claims(alice))
	ev.PathParameters, ev.RouteKey = nil, "GET /v1/groups/{name}"
	if resp, _ := h.handlers[manifest.Policies](t.Context(), ev); resp.StatusCode != 404 {
		t.Fatalf("mismatched route key: %d", resp.StatusCode)
	}
}

// bearer builds an unsigned token with the given payload: API Gateway has
// already verified the real one by the time a handler runs.
func bearer(t *testing.T, payload map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(raw) + ".c2ln"
}

func TestCallerIdentityHardening(t *testing.T) {
	h := newHarness(t, newMemStore())
	event := func(claims map[string]string, authorization string) events.APIGatewayV2HTTPRequest {
		ev := h.event("GET", "/v1/requests", "", claims)
		if authorization != "" {
			ev.Headers = map[string]string{"authorization": authorization}
		}
		return ev
	}
	// An address the IdP has not verified is refused.
	ev := event(map[string]string{"email": alice, "email_verified": "false"}, "")
	if _, err := CallerFromClaims(&ev); !errors.Is(err, elevate.ErrUnauthorized) {
		t.Errorf("unverified email accepted: %v", err)
	}
	ev = event(map[string]string{"email": alice, "email_verified": "true"}, "")
	if _, err := CallerFromClaims(&ev); err != nil {
		t.Errorf("verified email refused: %v", err)
	}
	// API Gateway flattens ["Team elevate-admins"] to "[Team elevate-admins]";
	// the token keeps the one group it really is, which is not the admin group.
	flattened := map[string]string{"email": alice, "email_verified": "true", "cognito:groups": "[Team elevate-admins]"}
	ev = event(flattened, bearer(t, map[string]any{"email": alice, "cognito:groups": []string{"Team elevate-admins"}}))
	c, err := CallerFromClaims(&ev)
	if err != nil || !slices.Equal(c.Groups, []string{"Team elevate-admins"}) || h.svc.IsAdmin(c) {
		t.Errorf("groups from the token: %+v %v", c, err)
	}
	// A readable token that is not the one the claims came from grants nothing.
	ev = event(flattened, bearer(t, map[string]any{"email": "mallory@example.com", "cognito:groups": []string{"elevate-admins"}}))
	if c, err := CallerFromClaims(&ev); err != nil || len(c.Groups) != 0 {
		t.Errorf("mismatched token: %+v %v", c, err)
	}
	// Exact groups from both claims, a plain string included.
	ev = event(map[string]string{"email": alice, "email_verified": "true"}, bearer(t, map[string]any{"email": alice, "cognito:groups": []string{"a", "b"}, "groups": "c d"}))
	if c, err := CallerFromClaims(&ev); err != nil || !slices.Equal(c.Groups, []string{"a", "b", "c d"}) {
		t.Errorf("both claims: %+v %v", c, err)
	}
}
