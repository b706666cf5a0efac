package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

func (h *harness) linkToken(id, approver string) string {
	h.t.Helper()
	r, err := h.svc.Store.GetRequest(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := h.links.Sign(id, approver, r.ExpiresAt)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) postForm(token, form string) events.APIGatewayV2HTTPResponse {
	h.t.Helper()
	ev := h.event("POST", "/v1/links/"+token, form, nil)
	ev.Headers = map[string]string{"content-type": "application/x-www-form-urlencoded"}
	return h.send(ev)
}

func decisionForm(decision, requestID, comment string) string {
	return url.Values{"decision": {decision}, "request": {requestID}, "comment": {comment}}.Encode()
}

func checkLinkHeaders(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if resp.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, resp.Headers[k], v)
		}
	}
	csp := resp.Headers["Content-Security-Policy"]
	for _, d := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	// The style hash in the CSP must match the page's one style element, and
	// the page must load nothing and run nothing.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(resp.Body)
	if m == nil {
		t.Fatalf("no style element in %s", resp.Body)
	}
	sum := sha256.Sum256([]byte(m[1]))
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("CSP %q does not allow the page's style", csp)
	}
	for _, bad := range []string{"<script", "src=", "href=", "onclick", "style=\""} {
		if strings.Contains(resp.Body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(resp.Body, `<html lang="en">`) || !strings.Contains(resp.Body, "<h1>") {
		t.Errorf("page lacks lang or a heading")
	}
}

func TestLinkPageShowsRequestAndNeverChangesState(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(2)
	id := h.submit()
	tok := h.linkToken(id, bob)
	before := store.requests[id]
	for range 3 {
		resp := h.do("GET", "/v1/links/"+tok, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		checkLinkHeaders(t, resp)
		for _, want := range []string{alice, "Task Exchange\\New-MoveRequest", "ticket 42", "2 hours", "0 of 2 required",
			`<label for="comment">`, `<textarea id="comment" name="comment"`, `name="decision" value="approve"`, `name="decision" value="deny"`,
			`<input type="hidden" name="request" value="` + id + `">`, `<form method="post">`, "3 March 2026, 09:00 UTC"} {
			if !strings.Contains(resp.Body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(resp.Body, tok) {
			t.Errorf("page repeats the token")
		}
	}
	if after := store.requests[id]; after.Version != before.Version || len(store.links) != 0 {
		t.Fatalf("GET changed state: %+v", after)
	}
}

func TestLinkPageEscapesUserText(t *testing.T) {
	h := newHarness(t, newMemStore())
	h.setup(1)
	var r struct{ ID string }
	h.must(h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"<script>alert(1)</script>"}`, claims(alice)), 201, &r)
	resp := h.do("GET", "/v1/links/"+h.linkToken(r.ID, bob), "", nil)
	if strings.Contains(resp.Body, "<script>") || !strings.Contains(resp.Body, "&lt;script&gt;") {
		t.Fatalf("reason not escaped: %s", resp.Body)
	}
}

func TestLinkApproveThenReplay(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(2)
	id := h.submit()
	bobTok, carolTok := h.linkToken(id, bob), h.linkToken(id, carol)

	resp := h.postForm(bobTok, decisionForm("approve", id, "ok by me"))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Your approval was recorded") || !strings.Contains(resp.Body, "1 more approval") {
		t.Fatalf("first approval: %d %s", resp.StatusCode, resp.Body)
	}
	checkLinkHeaders(t, resp)
	// The page for an approver who already approved offers no form.
	resp = h.do("GET", "/v1/links/"+bobTok, "", nil)
	if resp.StatusCode != 409 || strings.Contains(resp.Body, "<form") {
		t.Fatalf("page after approving: %d", resp.StatusCode)
	}
	// Replaying the same link is refused, and nothing changes.
	v := store.requests[id].Version
	resp = h.postForm(bobTok, decisionForm("deny", id, ""))
	if resp.StatusCode != 409 || !strings.Contains(resp.Body, "already") {
		t.Fatalf("replay: %d %s", resp.StatusCode, resp.Body)
	}
	if store.requests[id].Version != v {
		t.Fatalf("replay changed the request")
	}
	resp = h.postForm(carolTok, decisionForm("approve", id, ""))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Request approved") {
		t.Fatalf("second approval: %d %s", resp.StatusCode, resp.Body)
	}
	if got := store.requests[id]; got.Status != elevate.StatusApproved {
		t.Fatalf("status %s", got.Status)
	}
	// A fresh link for the decided request shows it can't be decided.
	resp = h.do("GET", "/v1/links/"+h.linkToken(id, bob), "", nil)
	if resp.StatusCode != 409 || strings.Contains(resp.Body, "<form") {
		t.Fatalf("page for decided request: %d", resp.StatusCode)
	}
}

func TestLinkSecurityMatrix(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	id := h.submit()
	var other struct{ ID string }
	h.must(h.do("POST", "/v1/policies", `{"scope":"Exchange","name":"Other","approvalType":"Manual"}`, claims(admin, app.DefaultAdminGroup)), 201, nil)
	h.must(h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"Other","reason":"r"}`, claims(carol)), 201, &other)

	good := h.linkToken(id, bob)
	payload, sig, _ := strings.Cut(good, ".")
	forged := mustSigner(t, []byte("another-key-another-key-another-key!!")).sign(t, id, bob, h.svc.Clock().Add(time.Hour))
	altered := payload[:len(payload)-2] + flip(payload[len(payload)-2:]) + "." + sig
	expired := mustSigner(t, testKey).sign(t, id, bob, h.svc.Clock().Add(-time.Second))

	cases := []struct {
		name, token, form string
		status            int
		get               bool
	}{
		{"forged", forged, decisionForm("approve", id, ""), 403, true},
		{"altered", altered, decisionForm("approve", id, ""), 403, true},
		{"garbage", "not-a-token", decisionForm("approve", id, ""), 403, true},
		{"expired", expired, decisionForm("approve", id, ""), 410, true},
		{"other request's form", good, decisionForm("approve", other.ID, ""), 400, false},
		{"no decision", good, url.Values{"request": {id}}.Encode(), 400, false},
		{"bad decision", good, decisionForm("revoke", id, ""), 400, false},
		{"unknown field", good, decisionForm("approve", id, "") + "&x=1", 400, false},
		{"repeated field", good, decisionForm("approve", id, "") + "&decision=deny", 400, false},
		{"long comment", good, decisionForm("approve", id, strings.Repeat("c", 1001)), 400, false},
		{"not a member", h.linkToken(id, mallory), decisionForm("approve", id, ""), 403, false},
		{"self approval", h.linkToken(other.ID, carol), decisionForm("approve", other.ID, ""), 403, false},
		{"request gone", mustSigner(t, testKey).sign(t, strings.Repeat("0", 32), bob, h.svc.Clock().Add(time.Hour)), decisionForm("approve", strings.Repeat("0", 32), ""), 410, true},
	}
	before := store.requests[id].Version
	for _, c := range cases {
		resp := h.postForm(c.token, c.form)
		if resp.StatusCode != c.status {
			t.Errorf("%s: POST status %d, want %d: %s", c.name, resp.StatusCode, c.status, resp.Body)
		}
		checkLinkHeaders(t, resp)
		if strings.Contains(resp.Body, "<form") {
			t.Errorf("%s: refusal page offers a form", c.name)
		}
		if c.get {
			if resp := h.do("GET", "/v1/links/"+c.token, "", nil); resp.StatusCode != c.status {
				t.Errorf("%s: GET status %d, want %d", c.name, resp.StatusCode, c.status)
			}
		}
	}
	ev := h.event("POST", "/v1/links/"+good, decisionForm("approve", id, ""), nil)
	ev.Headers = map[string]string{"content-type": "application/json"}
	if resp := h.send(ev); resp.StatusCode != 415 {
		t.Errorf("JSON form: %d", resp.StatusCode)
	}
	if store.requests[id].Version != before || len(store.links) != 0 {
		t.Fatalf("a refused link changed state")
	}
	// Membership is checked when deciding: removing bob kills his link.
	h.must(h.do("DELETE", "/v1/groups/ops/members/bob@example.com", "", claims(admin, app.DefaultAdminGroup)), 200, nil)
	if resp := h.postForm(good, decisionForm("deny", id, "")); resp.StatusCode != 403 {
		t.Errorf("removed member: %d", resp.StatusCode)
	}
	// The link still works for a member, and a denial is final.
	resp := h.postForm(h.linkToken(id, carol), decisionForm("deny", id, "no ticket"))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Request denied") {
		t.Fatalf("deny: %d %s", resp.StatusCode, resp.Body)
	}
	// Pending expiry passes: the link expires with the request.
	id2 := h.submit2(t)
	tok := h.linkToken(id2, bob)
	h.advance(25 * time.Hour)
	if resp := h.postForm(tok, decisionForm("approve", id2, "")); resp.StatusCode != 410 {
		t.Errorf("after pending expiry: %d", resp.StatusCode)
	}
}

func (h *harness) submit2(t *testing.T) string {
	var r struct{ ID string }
	h.must(h.do("POST", "/v1/requests", `{"scope":"Exchange","name":"Other","reason":"r"}`, claims(alice)), 201, &r)
	return r.ID
}

func TestLinkWithoutSignerIs500(t *testing.T) {
	h := newHarness(t, newMemStore())
	hd := New("approvals", Deps{Service: h.svc})
	resp, _ := hd(t.Context(), h.event("GET", "/v1/links/a.b", "", nil))
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "signing key") {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// Issue 10 item 12: the documented link form is decision and comment; a
// request field, when sent, must name the link's request.
func TestLinkFormWithoutRequestField(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	id := h.submit()
	h.must(h.do("POST", "/v1/policies", `{"scope":"Exchange","name":"Other","approvalType":"Manual"}`, claims(admin, app.DefaultAdminGroup)), 201, nil)
	other := h.submit2(t)
	tok := h.linkToken(id, bob)
	for name, form := range map[string]string{
		"other request": decisionForm("approve", other, ""),
		"empty request": url.Values{"decision": {"approve"}, "request": {""}}.Encode(),
	} {
		if resp := h.postForm(tok, form); resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, resp.StatusCode, resp.Body)
		}
	}
	if store.requests[id].Status != elevate.StatusPending {
		t.Fatalf("a refused form decided the request")
	}
	resp := h.postForm(tok, url.Values{"decision": {"approve"}, "comment": {"ok for CHG-1"}}.Encode())
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Request approved") {
		t.Fatalf("documented form: %d %s", resp.StatusCode, resp.Body)
	}
	r := store.requests[id]
	if r.Status != elevate.StatusApproved || r.Decisions[len(r.Decisions)-1].Comment != "ok for CHG-1" {
		t.Fatalf("request after the documented form: %+v", r)
	}
}
