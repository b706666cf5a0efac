package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/ticketcheck"
)

// The new fields are validated strictly: wrong types and unknown fields 400,
// out-of-range values 422, and nothing is written.
func TestScheduleTicketExtendInputs(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	ad := claims(admin, app.DefaultAdminGroup)
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","startAt":true}`, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","startAt":"next tuesday"}`, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","startAt":"2026-03-01T00:00:00Z"}`, 422},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","startAt":"2026-04-01T00:00:00Z"}`, 422},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","ticket":7}`, 400},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","ticket":"` + strings.Repeat("x", 65) + `"}`, 422},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","tickets":"CHG-1"}`, 400},
		{"PUT", "/v1/policies/task:exchange:new-moverequest", `{"approvalType":"Manual","ticketPattern":"CHG-("}`, 422},
		{"PUT", "/v1/policies/task:exchange:new-moverequest", `{"approvalType":"Manual","ticketRequired":"yes"}`, 400},
		{"PATCH", "/v1/settings", `{"maxScheduleAheadHours":"48"}`, 400},
		{"PATCH", "/v1/settings", `{"maxScheduleAheadHours":0.001}`, 422},
		{"GET", "/v1/requests?ticket=" + strings.Repeat("x", 65), "", 400},
	} {
		cl := claims(alice)
		if c.method != "POST" {
			cl = ad
		}
		resp := h.do(c.method, c.path, c.body, cl)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, resp.StatusCode, resp.Body, c.status)
		}
	}
	if len(store.requests) != 0 {
		t.Fatalf("refused submissions wrote %d requests", len(store.requests))
	}
	// The pattern is named in the refusal.
	h.must(h.do("PUT", "/v1/policies/task:exchange:new-moverequest", `{"approvalType":"Manual","ticketRequired":true,"ticketPattern":"CHG-[0-9]+"}`, ad), 200, nil)
	resp := h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","ticket":"INC-1"}`, claims(alice))
	if p := problemOf(t, resp); resp.StatusCode != 422 || !strings.Contains(p.Detail, "CHG-[0-9]+") {
		t.Fatalf("non-matching ticket: %d %+v", resp.StatusCode, p)
	}
}

// A ticket system that is down: 503 with Retry-After, nothing written.
func TestTicketVerifierDownIs503(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	v, err := ticketcheck.New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	h.svc.Tickets = v
	resp := h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r","ticket":"CHG-1"}`, claims(alice))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Headers)
	}
	if strings.Contains(resp.Body, "127.0.0.1") || strings.Contains(resp.Body, "refused") {
		t.Fatalf("the 503 leaks internals: %s", resp.Body)
	}
	if len(store.requests) != 0 {
		t.Fatal("a request was written while the ticket system was down")
	}
	// Without a ticket the verifier is not asked.
	var r struct{ ID string }
	h.must(h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r"}`, claims(alice)), 201, &r)
	var got map[string]any
	h.must(h.do("GET", "/v1/requests/"+r.ID, "", claims(alice)), 200, &got)
	if _, has := got["ticket"]; has {
		b, _ := json.Marshal(got)
		t.Fatalf("empty ticket is shown: %s", b)
	}
}
