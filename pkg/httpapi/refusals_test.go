package httpapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
)

// Issue 10 item 8: every refused attempt of the security matrix leaves one
// refused.<code> record with its principal, route and request; an attempt
// with no valid identity leaves none.
func TestEveryRefusalIsAudited(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	id := h.submit()
	good := h.linkToken(id, bob)
	forged := mustSigner(t, []byte("another-key-another-key-another-key!!")).sign(t, id, bob, h.svc.Clock().Add(time.Hour))
	expired := mustSigner(t, testKey).sign(t, id, bob, h.svc.Clock().Add(-time.Second))

	type want struct {
		action, actor, route, requestID string
		status                          int
	}
	cases := []struct {
		name string
		do   func() events.APIGatewayV2HTTPResponse
		want want
	}{
		{"self-approval", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/requests/"+id+"/approve", `{}`, claims(alice))
		}, want{"refused.self-approval", alice, "POST /v1/requests/{id}/approve", id, 403}},
		{"extending a grant that is not active", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/requests/"+id+"/extend", `{"durationHours": 1, "reason": "more"}`, claims(alice))
		}, want{"refused.grant-ended", alice, "POST /v1/requests/{id}/extend", id, 409}},
		{"non-member deciding", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/requests/"+id+"/deny", `{}`, claims(mallory))
		}, want{"refused.not-approver", mallory, "POST /v1/requests/{id}/deny", id, 403}},
		{"non-admin on an admin route", func() events.APIGatewayV2HTTPResponse {
			return h.do("GET", "/v1/settings", "", claims(alice))
		}, want{"refused.admin-only", alice, "GET /v1/settings", "", 403}},
		{"asking about another principal", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest","principal":"bob@example.com"}`, claims(alice))
		}, want{"refused.authorize-others", alice, "POST /v1/authorize", "", 403}},
		{"forged link", func() events.APIGatewayV2HTTPResponse {
			return h.postForm(forged, decisionForm("approve", id, ""))
		}, want{"refused.link-forged", app.ActorAnonymous, "POST /v1/links/{token}", "", 403}},
		{"malformed link", func() events.APIGatewayV2HTTPResponse {
			return h.do("GET", "/v1/links/not-a-token", "", nil)
		}, want{"refused.link-malformed", app.ActorAnonymous, "GET /v1/links/{token}", "", 403}},
		{"expired link", func() events.APIGatewayV2HTTPResponse {
			return h.postForm(expired, decisionForm("approve", id, ""))
		}, want{"refused.link-expired", bob, "POST /v1/links/{token}", id, 410}},
		{"foreign link", func() events.APIGatewayV2HTTPResponse {
			return h.postForm(good, decisionForm("approve", "someone-elses-request", ""))
		}, want{"refused.link-foreign", bob, "POST /v1/links/{token}", id, 400}},
		{"replayed link", func() events.APIGatewayV2HTTPResponse {
			if resp := h.postForm(good, decisionForm("approve", id, "")); resp.StatusCode != 200 {
				t.Fatalf("first use of the link: %d %s", resp.StatusCode, resp.Body)
			}
			return h.postForm(good, decisionForm("approve", id, ""))
		}, want{"refused.not-pending", bob, "POST /v1/links/{token}", id, 409}}, // the replay finds the request decided; a replay racing the first use is refused.link-used
		// Issue 16 item 11: refusals that used to leave no record.
		{"extending someone else's grant", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/requests/"+id+"/extend", `{"durationHours": 1, "reason": "more"}`, claims(mallory))
		}, want{"refused.request-not-found", mallory, "POST /v1/requests/{id}/extend", id, 404}},
		{"decision on a request no longer pending", func() events.APIGatewayV2HTTPResponse {
			return h.do("POST", "/v1/requests/"+id+"/deny", `{}`, claims(carol))
		}, want{"refused.not-pending", carol, "POST /v1/requests/{id}/deny", id, 409}},
	}
	for _, c := range cases {
		// Anonymous refusals share 16 record IDs per minute (the flood bound):
		// two in one minute may hash to the same ID. A minute apart, each
		// case has its own.
		h.advance(time.Minute)
		before := len(store.refusals)
		resp := c.do()
		if resp.StatusCode != c.want.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.want.status, resp.Body)
		}
		if got := len(store.refusals) - before; got != 1 {
			t.Errorf("%s: %d refusal records, want 1", c.name, got)
			continue
		}
		ev := store.refusals[len(store.refusals)-1]
		if ev.Action != c.want.action || ev.Actor != c.want.actor || ev.RequestID != c.want.requestID ||
			ev.Detail["route"] != c.want.route || ev.Detail["status"] != c.want.status || ev.Detail["code"] != strings.TrimPrefix(c.want.action, app.RefusalPrefix) {
			t.Errorf("%s: recorded %+v, want %+v", c.name, ev, c.want)
		}
	}
	// A forged link names nobody verified: what it claims is kept as such.
	var forgedEv app.Event
	for _, ev := range store.refusals {
		if ev.Action == "refused.link-forged" {
			forgedEv = ev
		}
	}
	if u, _ := forgedEv.Detail["unverified"].(map[string]string); u["approver"] != bob || u["requestId"] != id {
		t.Errorf("forged link's claims: %+v", forgedEv.Detail)
	}

	// No valid identity at all: logged (the request line), not audited.
	before := len(store.refusals)
	if resp := h.do("POST", "/v1/requests/"+id+"/approve", `{}`, nil); resp.StatusCode != 401 {
		t.Errorf("no identity: %d", resp.StatusCode)
	}
	if len(store.refusals) != before {
		t.Errorf("a 401 was audited: %+v", store.refusals[before:])
	}
}

// Anonymous link refusals cannot flood the trail: however many forged links
// arrive in a minute, they share a bounded set of record IDs.
func TestAnonymousLinkRefusalsAreBounded(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	for i := 0; i < 200; i++ {
		if resp := h.do("GET", "/v1/links/forged-"+strings.Repeat("x", i%50)+string(rune('a'+i%26)), "", nil); resp.StatusCode != 403 {
			t.Fatalf("forged link %d: %d", i, resp.StatusCode)
		}
	}
	if n := len(store.refusals); n == 0 || n > 16 {
		t.Fatalf("%d records for 200 forged links in one minute, want 1..16", n)
	}
	h.advance(time.Minute)
	before := len(store.refusals)
	h.do("GET", "/v1/links/forged-next-minute", "", nil)
	if len(store.refusals) != before+1 {
		t.Fatalf("the next minute's first forged link was not recorded")
	}
}

// failingRefusals is a store whose refusal writes fail.
type failingRefusals struct{ *memStore }

func (failingRefusals) RecordRefusal(context.Context, app.Event) error {
	return errors.New("dynamodb: throttled")
}

// A refusal that cannot be recorded is still the same refusal.
func TestRefusalStatusSurvivesAFailedRecord(t *testing.T) {
	h := newHarness(t, failingRefusals{newMemStore()})
	h.setup(1)
	id := h.submit()
	resp := h.do("POST", "/v1/requests/"+id+"/approve", `{}`, claims(alice))
	if p := problemOf(t, resp); p.Status != 403 || p.Code != "self-approval" {
		t.Fatalf("got %+v", p)
	}
	if resp := h.do("GET", "/v1/links/not-a-token", "", nil); resp.StatusCode != 403 {
		t.Fatalf("link: %d", resp.StatusCode)
	}
	if !strings.Contains(h.logs.String(), "refusal not recorded") {
		t.Fatalf("the failed record was not logged: %s", h.logs.String())
	}
}

// Issue 16 item 4: an old link signed by Elevate names its approver, so its
// refusals are recorded once per link, route and code: an expired link
// opened again and again (a mail scanner), or a used one posted again,
// cannot fill the trail in the approver's name.
func TestOldLinkRefusalsAreRecordedOncePerLink(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store)
	h.setup(1)
	id := h.submit()
	good := h.linkToken(id, bob)
	expired := mustSigner(t, testKey).sign(t, id, bob, h.svc.Clock().Add(-time.Second))
	if resp := h.postForm(good, decisionForm("approve", id, "")); resp.StatusCode != 200 {
		t.Fatalf("first use of the link: %d %s", resp.StatusCode, resp.Body)
	}
	count := func(action string) int {
		n := 0
		for _, ev := range store.refusals {
			if ev.Action == action {
				n++
			}
		}
		return n
	}
	for i := 0; i < 5; i++ {
		h.advance(time.Minute)
		if resp := h.do("GET", "/v1/links/"+expired, "", nil); resp.StatusCode != 410 {
			t.Fatalf("expired link GET %d: %d", i, resp.StatusCode)
		}
		if resp := h.postForm(good, decisionForm("approve", id, "")); resp.StatusCode != 409 {
			t.Fatalf("used link POST %d: %d", i, resp.StatusCode)
		}
	}
	if n, m := count("refused.link-expired"), count("refused.not-pending"); n != 1 || m != 1 {
		t.Fatalf("%d link-expired and %d not-pending records for five attempts each, want one each", n, m)
	}
	// Another route of the same link is another attempt: once too.
	h.postForm(expired, decisionForm("approve", id, ""))
	h.postForm(expired, decisionForm("approve", id, ""))
	if n := count("refused.link-expired"); n != 2 {
		t.Fatalf("%d link-expired records after POSTs of the expired link, want 2", n)
	}
	// Another link of the same approver is recorded on its own.
	other := mustSigner(t, testKey).sign(t, id, bob, h.svc.Clock().Add(-2*time.Second))
	h.do("GET", "/v1/links/"+other, "", nil)
	if n := count("refused.link-expired"); n != 3 {
		t.Fatalf("%d link-expired records after another link, want 3", n)
	}
}
