package httpapi

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// lateCommits applies each change and then, while late, reports the
// deadline instead of success: what a caller sees when DynamoDB stalls past
// the deadline and applies the transaction when it resumes.
type lateCommits struct {
	app.Store
	late atomic.Bool
}

func (s *lateCommits) reply(err error) error {
	if err == nil && s.late.Load() {
		return context.DeadlineExceeded
	}
	return err
}

func (s *lateCommits) CreateRequest(ctx context.Context, r elevate.Request) error {
	return s.reply(s.Store.CreateRequest(ctx, r))
}

func (s *lateCommits) SaveDecision(ctx context.Context, prev, next elevate.Request, read elevate.Group, linkID string, now time.Time) error {
	return s.reply(s.Store.SaveDecision(ctx, prev, next, read, linkID, now))
}

// TestRetryAfterA503SaysWhetherTheChangeWasMade: a submit or decision whose
// commit outlived the deadline answers 503 + Retry-After with nothing
// internal; the retry the README prescribes answers 409 when the change had
// been made, and the request reads back made exactly once.
func TestRetryAfterA503SaysWhetherTheChangeWasMade(t *testing.T) {
	store := &lateCommits{Store: newMemStore()}
	h := newHarness(t, store)
	h.setup(1)
	body := `{"scope":"Exchange","name":"New-MoveRequest","reason":"ticket 42","durationHours":2}`
	unavailable := func(what string, resp response) {
		t.Helper()
		problemOf(t, resp)
		if resp.StatusCode != 503 || resp.Headers["Retry-After"] != retryAfterSeconds {
			t.Fatalf("%s: %d Retry-After %q, want 503 with Retry-After", what, resp.StatusCode, resp.Headers["Retry-After"])
		}
		if strings.Contains(strings.ToLower(resp.Body), "deadline") || strings.Contains(strings.ToLower(resp.Body), "context") {
			t.Errorf("%s: the body names internals: %s", what, resp.Body)
		}
	}

	store.late.Store(true)
	unavailable("submit", h.do("POST", "/v1/requests", body, claims(alice)))
	store.late.Store(false)
	retry := h.do("POST", "/v1/requests", body, claims(alice))
	if p := problemOf(t, retry); retry.StatusCode != 409 || p.Code != "open-request" {
		t.Fatalf("retried submit: %d %s, want 409 open-request", retry.StatusCode, retry.Body)
	}
	var page struct{ Items []elevate.Request }
	h.must(h.do("GET", "/v1/requests", "", claims(alice)), 200, &page)
	if len(page.Items) != 1 {
		t.Fatalf("alice has %d requests, want the one the 503 made", len(page.Items))
	}
	id := page.Items[0].ID

	store.late.Store(true)
	unavailable("approve", h.do("POST", "/v1/requests/"+id+"/approve", `{"comment":"ok"}`, claims(bob)))
	store.late.Store(false)
	if retry := h.do("POST", "/v1/requests/"+id+"/approve", `{"comment":"ok"}`, claims(bob)); retry.StatusCode != 409 {
		t.Fatalf("retried approval: %d %s, want 409", retry.StatusCode, retry.Body)
	}
	var r elevate.Request
	h.must(h.do("GET", "/v1/requests/"+id, "", claims(alice)), 200, &r)
	if r.Status != elevate.StatusApproved || len(r.Decisions) != 1 || r.Decisions[0].By != bob {
		t.Fatalf("after the retry: %s with decisions %+v, want Approved once by bob", r.Status, r.Decisions)
	}
}
