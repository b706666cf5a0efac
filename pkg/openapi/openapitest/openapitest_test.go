package openapitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/openapi"
)

// The document loads, passes kin-openapi's own Validate (Parse runs it) and
// is OpenAPI 3.1, so openapi3filter validates with JSON Schema 2020-12.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if s.Doc.OpenAPI != "3.1.0" || !s.Doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1.0", s.Doc.OpenAPI)
	}
	if _, err := Parse([]byte(`{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"$ref":"#/components/responses/Missing"}}}}}}`)); err == nil {
		t.Error("a document with a dangling $ref was accepted")
	}
}

// answer is what the fake API answers.
type answer struct {
	status int
	ct     string
	header map[string]string
	body   string
}

func problem(status int, code string) answer {
	return answer{status, "application/problem+json", nil,
		fmt.Sprintf(`{"type":"https://elevate.dev/problems/%s","title":"t","status":%d,"detail":"d","code":%q}`, code, status, code)}
}

var linkHeaders = map[string]string{"Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
	"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}

const group = `{"name":"ops","description":"","members":["bob@example.com"],"createdAt":"2026-12-02T08:00:00Z","updatedAt":"2026-12-02T08:00:00Z"}`

// TestCheckerBites: each call is made through the Middleware in front of a
// fake API that answers as told; a deliberately wrong answer, an
// undocumented route or status, and a forbidden request the API accepted
// are violations, and the right answers are not.
func TestCheckerBites(t *testing.T) {
	bearer := map[string]string{"Authorization": "Bearer t"}
	cases := []struct {
		name, method, path, body string
		header                   map[string]string
		answer                   answer
		probe                    bool
		want                     string // "" for no violation, else a part of it
	}{
		{"health as documented", "GET", "/healthz", "", nil, answer{200, "application/json", nil, `{"status":"ok"}`}, false, ""},
		{"health without its required field", "GET", "/healthz", "", nil, answer{200, "application/json", nil, `{}`}, false, `missing property 'status'`},
		{"health with a field the document lacks", "GET", "/healthz", "", nil, answer{200, "application/json", nil, `{"status":"ok","uptime":3}`}, false, "uptime"},
		{"an undocumented status", "GET", "/healthz", "", nil, answer{418, "application/json", nil, `{}`}, false, "status is not supported"},
		{"another content type", "GET", "/healthz", "", nil, answer{200, "text/plain", nil, `ok`}, false, "text/plain"},
		{"an undocumented route", "GET", "/v1/nope", "", bearer, answer{404, "application/json", nil, `{"message":"Not Found"}`}, false, "undocumented route"},
		{"an undocumented method", "PATCH", "/v1/groups", "", bearer, answer{404, "application/json", nil, `{"message":"Not Found"}`}, false, "undocumented route"},
		{"an expected probe of an undocumented route", "GET", "/v1/nope", "", bearer, answer{404, "application/json", nil, `{"message":"Not Found"}`}, true, ""},
		{"a probe the API answered 200", "GET", "/v1/nope", "", bearer, answer{200, "application/json", nil, `{}`}, true, "undocumented route"},
		{"a group created", "POST", "/v1/groups", `{"name":"ops","members":["bob@example.com"]}`, bearer, answer{201, "application/json", map[string]string{"Location": "/v1/groups/ops"}, group}, false, ""},
		{"a 201 without Location", "POST", "/v1/groups", `{"name":"ops","members":[]}`, bearer, answer{201, "application/json", nil, group}, false, "Location"},
		{"an unknown field accepted", "POST", "/v1/groups", `{"name":"ops","members":[],"admin":true}`, bearer, answer{201, "application/json", map[string]string{"Location": "/v1/groups/ops"}, group}, false, "forbids"},
		{"an unknown field refused", "POST", "/v1/groups", `{"name":"ops","members":[],"admin":true}`, bearer, problem(400, "invalid"), false, ""},
		{"no token accepted", "GET", "/v1/groups", "", nil, answer{200, "application/json", nil, `{"items":[]}`}, false, "forbids"},
		{"no token refused by the gateway", "GET", "/v1/groups", "", nil, answer{401, "application/json", nil, `{"message":"Unauthorized"}`}, false, ""},
		{"a problem code of another status", "GET", "/v1/groups/ops", "", bearer, problem(404, "link-used"), false, "code"},
		{"a problem code of its status", "GET", "/v1/groups/ops", "", bearer, problem(404, "group-not-found"), false, ""},
		{"a 503 without Retry-After", "GET", "/v1/groups", "", bearer, problem(503, "unavailable"), false, "Retry-After"},
		{"a 503 with Retry-After", "GET", "/v1/groups", "", bearer, answer{503, "application/problem+json", map[string]string{"Retry-After": "5"}, problem(503, "unavailable").body}, false, ""},
		{"a 500 echoing nothing", "GET", "/v1/groups", "", bearer, answer{500, "application/problem+json", nil, `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"an internal error occurred; it has been logged"}`}, false, ""},
		{"a date that is not RFC 3339", "GET", "/v1/groups/ops", "", bearer, answer{200, "application/json", nil, strings.Replace(group, "2026-12-02T08:00:00Z", "yesterday", 1)}, false, "createdAt"},
		{"a link page", "GET", "/v1/links/t0ken", "", nil, answer{200, "text/html; charset=utf-8", linkHeaders, "<!DOCTYPE html>"}, false, ""},
		{"a link page without its security headers", "GET", "/v1/links/t0ken", "", nil, answer{200, "text/html; charset=utf-8", nil, "<!DOCTYPE html>"}, false, "missing"},
		{"a link page's own 500", "POST", "/v1/links/t0ken", "decision=approve", nil, answer{500, "text/html; charset=utf-8", linkHeaders, "<!DOCTYPE html>"}, false, ""},
		{"a link page as JSON", "GET", "/v1/links/t0ken", "", nil, answer{200, "application/json", linkHeaders, "{}"}, false, "application/json"},
		{"a wrong type in an item", "GET", "/v1/groups", "", bearer, answer{200, "application/json", nil, `{"items":[{"name":"ops","description":"","members":"bob","createdAt":"2026-12-02T08:00:00Z","updatedAt":"2026-12-02T08:00:00Z"}]}`}, false, "members"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker()
			if err != nil {
				t.Fatal(err)
			}
			if tc.probe {
				c.ExpectUndocumented(tc.method, tc.path)
			}
			srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				for k, v := range tc.answer.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", tc.answer.ct)
				w.WriteHeader(tc.answer.status)
				_, _ = io.WriteString(w, tc.answer.body)
			})))
			defer srv.Close()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
				if strings.HasPrefix(tc.path, "/v1/links/") {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.answer.status || string(got) != tc.answer.body {
				t.Errorf("the middleware changed the answer: %d %q", resp.StatusCode, got)
			}
			vs := c.Violations()
			switch {
			case tc.want == "" && len(vs) > 0:
				t.Errorf("violations: %q", vs)
			case tc.want != "" && (len(vs) == 0 || !strings.Contains(strings.Join(vs, "\n"), tc.want)):
				t.Errorf("violations %q, want one naming %q", vs, tc.want)
			}
			if c.Calls() != 1 {
				t.Errorf("%d calls checked, want 1", c.Calls())
			}
		})
	}
}

// A Lambda answer the document gives no content (204) must have no body.
func TestNoContentMeansNoBody(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	call := Call{Method: "DELETE", URL: &url.URL{Path: "/v1/groups/ops"}, Header: http.Header{"Authorization": {"Bearer t"}},
		Status: 204, RespHeader: http.Header{}}
	if err := s.Check(t.Context(), call); err != nil {
		t.Errorf("an empty 204: %v", err)
	}
	call.RespBody = []byte(`{}`)
	if err := s.Check(t.Context(), call); err == nil || !strings.Contains(err.Error(), "body") {
		t.Errorf("a 204 with a body: %v", err)
	}
}

// recordingTB records what a test would report.
type recordingTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Logf(string, ...any)       {}
func (r *recordingTB) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recordingTB) Fatal(a ...any)            { r.errors = append(r.errors, fmt.Sprint(a...)) }

// A wrong answer fails the test that made the call, at its cleanup, and an
// expected undocumented call that never came fails it too.
func TestViolationFailsTheTest(t *testing.T) {
	rt := &recordingTB{TB: t}
	c := New(rt)
	c.ExpectUndocumented("GET", "/v1/never")
	srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"degraded","extra":1}`)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rt.errors) != 0 {
		t.Fatalf("reported before the cleanup: %q", rt.errors)
	}
	for _, f := range rt.cleanups {
		f()
	}
	all := strings.Join(rt.errors, "\n")
	if len(rt.errors) != 2 || !strings.Contains(all, "GET /healthz answered 200, not as documented") || !strings.Contains(all, "GET /v1/never") {
		t.Errorf("reported %q", rt.errors)
	}
}

// BenchmarkCheck is the cost of validating one call: a submitted request
// and its 201 answer, the largest body the tests commonly see.
func BenchmarkCheck(b *testing.B) {
	s, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	call := Call{Method: "POST", URL: &url.URL{Path: "/v1/requests"},
		Header: http.Header{"Authorization": {"Bearer t"}, "Content-Type": {"application/json"}},
		Body:   []byte(`{"scope":"Exchange","name":"New-MoveRequest","reason":"CHG-4711","durationHours":1.5}`),
		Status: 201, RespHeader: http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/requests/abc"}},
		RespBody: []byte(`{"id":"abc","type":"Task","scope":"Exchange","name":"New-MoveRequest","requester":"alice@example.com","reason":"CHG-4711","durationHours":1.5,"status":"Approved","approvalType":"Manual","approverGroup":"ops","requiredApprovals":1,"decisions":[{"by":"bob@example.com","decision":"approve","comment":"ok","at":"2026-12-02T08:00:00Z","via":"ops"}],"createdAt":"2026-12-02T08:00:00Z","expiresAt":"2026-12-02T09:30:00Z","grantExpiresAt":"2026-12-02T09:30:00Z","countedBy":["bob@example.com"],"active":true}`)}
	if err := s.Check(b.Context(), call); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Check(b.Context(), call)
	}
}

// BenchmarkLoad is the once-per-binary cost: parse, Validate, router.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(openapi.Document); err != nil {
			b.Fatal(err)
		}
	}
}
