package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

const (
	admin    = "admin@example.com"
	alice    = "alice@example.com"
	bob      = "bob@example.com"
	carol    = "carol@example.com"
	mallory  = "mallory@example.com"
	opsGroup = "ops"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// harness runs the four handlers over one Service.
type harness struct {
	t        testing.TB
	svc      *app.Service
	links    *linktoken.Signer
	now      atomic.Pointer[time.Time]
	logs     *bytes.Buffer
	handlers map[string]Handler
	seq      atomic.Int64
}

func newHarness(t testing.TB, store app.Store) *harness {
	h := &harness{t: t, logs: &bytes.Buffer{}, handlers: map[string]Handler{}}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.now.Store(&start)
	h.svc = &app.Service{Store: store, Clock: func() time.Time { return *h.now.Load() }, AdminGroup: app.DefaultAdminGroup}
	var err error
	if h.links, err = linktoken.NewSigner(testKey); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	for _, f := range manifest.APIFunctions {
		h.handlers[f] = New(f, Deps{Service: h.svc, Links: h.links, Log: log})
	}
	return h
}

func (h *harness) advance(d time.Duration) {
	n := h.now.Load().Add(d)
	h.now.Store(&n)
}

// claims is what API Gateway's JWT authorizer puts in the event.
func claims(email string, groups ...string) map[string]string {
	c := map[string]string{"email": email, "email_verified": "true", "sub": "sub-" + email}
	if len(groups) > 0 {
		c["cognito:groups"] = "[" + strings.Join(groups, " ") + "]"
	}
	return c
}

// event builds a payload 2.0 event the way API Gateway does for path.
func (h *harness) event(method, path, body string, cl map[string]string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + strconv.FormatInt(h.seq.Add(1), 10),
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
		},
		Body: body,
	}
	if p, q, ok := strings.Cut(path, "?"); ok {
		req.RawPath, req.RequestContext.HTTP.Path, req.RawQueryString = p, p, q
	}
	if r, params, ok := manifest.Match(method, req.RawPath); ok {
		// API Gateway HTTP APIs deliver path parameters percent-decoded.
		for k, v := range params {
			if u, err := url.PathUnescape(v); err == nil {
				params[k] = u
			}
		}
		req.RouteKey, req.PathParameters = r.RouteKey(), params
		req.RequestContext.RouteKey = r.RouteKey()
	} else {
		req.RouteKey = "$default"
	}
	if body != "" {
		req.Headers["content-type"] = "application/json"
	}
	if cl != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: cl},
		}
	}
	return req
}

func functionOf(method, path string) string {
	p, _, _ := strings.Cut(path, "?")
	if r, _, ok := manifest.Match(method, p); ok {
		return r.Function
	}
	return manifest.Requests
}

func (h *harness) send(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	resp, err := h.handlers[functionOf(req.RequestContext.HTTP.Method, req.RawPath)](context.Background(), req)
	if err != nil {
		h.t.Fatalf("handler returned an error: %v", err)
	}
	return resp
}

func (h *harness) do(method, path, body string, cl map[string]string) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	return h.send(h.event(method, path, body, cl))
}

// must fails the test unless resp has status, and decodes the body into out.
func (h *harness) must(resp events.APIGatewayV2HTTPResponse, status int, out any) {
	h.t.Helper()
	if resp.StatusCode != status {
		h.t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, resp.Body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp.Body), out); err != nil {
			h.t.Fatalf("decoding %s: %v", resp.Body, err)
		}
	}
}

// problem decodes and checks a problem+json response.
func problemOf(t testing.TB, resp events.APIGatewayV2HTTPResponse) Problem {
	t.Helper()
	if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, resp.Body)
	}
	var p Problem
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatalf("problem body %q: %v", resp.Body, err)
	}
	if p.Status != resp.StatusCode || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Fatalf("incomplete problem %+v for status %d", p, resp.StatusCode)
	}
	return p
}

// setup creates the ops group (bob, carol), enables access and adds a
// Manual policy for Task Exchange\New-MoveRequest needing `required` approvals.
func (h *harness) setup(required int) {
	h.t.Helper()
	ad := claims(admin, app.DefaultAdminGroup)
	h.must(h.do("POST", "/v1/groups", `{"name":"ops","description":"Operations","members":["Bob@Example.com","carol@example.com"]}`, ad), 201, nil)
	h.must(h.do("PATCH", "/v1/settings", `{"enabled":true,"defaultApproverGroup":"ops"}`, ad), 200, nil)
	h.must(h.do("POST", "/v1/policies", `{"type":"Task","scope":"Exchange","name":"New-MoveRequest","approvalType":"Manual","requiredApprovals":`+strconv.Itoa(required)+`}`, ad), 201, nil)
}

// submit has alice ask for the task and returns the request ID.
func (h *harness) submit() string {
	h.t.Helper()
	var r struct{ ID string }
	h.must(h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"ticket 42","durationHours":2}`, claims(alice)), 201, &r)
	return r.ID
}

type testSigner struct{ s *linktoken.Signer }

func mustSigner(t testing.TB, key []byte) testSigner {
	s, err := linktoken.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{s}
}

func (s testSigner) sign(t testing.TB, id, approver string, exp time.Time) string {
	tok, err := s.s.Sign(id, approver, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
