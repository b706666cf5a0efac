package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// finalRequest is what the API says became of a request.
type finalRequest struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Decisions []struct {
		By       string `json:"by"`
		Decision string `json:"decision"`
	} `json:"decisions"`
}

// outcomeOf maps an accepted decision call to the status it leaves and the
// audit action that records it.
var outcomeOf = map[string]struct{ status, action string }{
	"approve": {"Approved", auditrecord.ActionRequestApproved},
	"deny":    {"Denied", auditrecord.ActionRequestDenied},
	"cancel":  {"Cancelled", auditrecord.ActionRequestCancelled},
}

// Check holds the API and the audit trail to what the clients saw:
//   - no call got a 5xx or went unanswered;
//   - every created request has exactly one outcome, the one the single
//     accepted decision call chose (or none and still Pending), with
//     decisions to match;
//   - every authorize answer given is in the audit trail exactly once
//     (as a multiset per principal, target, answer and reason);
//   - every request's creation and outcome are in the audit trail once.
//
// The audit trail lags the table by the stream, so Check re-reads it until
// it agrees or wait has passed, and returns the problems of the last look.
func Check(ctx context.Context, o Options, res *Result, s3c auditquery.S3Reader, bucket string, wait time.Duration) ([]string, error) {
	o.defaults()
	problems := slices.Clone(res.ServerErrors)
	finals, err := fetchFinals(o, res.Created)
	if err != nil {
		return nil, err
	}
	for _, id := range res.Created {
		problems = append(problems, checkOutcome(id, res.Won[id], finals[id])...)
	}
	deadline := time.Now().Add(wait)
	for {
		trail, err := readTrail(ctx, s3c, bucket, res.Started)
		if err != nil {
			return nil, err
		}
		auditProblems := checkTrail(res, finals, trail)
		if len(auditProblems) == 0 || time.Now().After(deadline) {
			return append(problems, auditProblems...), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func checkOutcome(id string, won []string, f finalRequest) []string {
	var out []string
	if f.ID == "" {
		return []string{fmt.Sprintf("request %s: created but not found", id)}
	}
	decided := 0
	for _, d := range f.Decisions {
		if d.Decision == "approve" || d.Decision == "deny" {
			decided++
		}
	}
	switch {
	case len(won) > 1:
		out = append(out, fmt.Sprintf("request %s: %d decision calls were all accepted: %v", id, len(won), won))
	case len(won) == 1:
		if want := outcomeOf[won[0]].status; f.Status != want {
			out = append(out, fmt.Sprintf("request %s: %s was accepted but the request is %s", id, won[0], f.Status))
		}
	case f.Status != "Pending":
		out = append(out, fmt.Sprintf("request %s: no decision was accepted but the request is %s", id, f.Status))
	}
	wantDecided := 0
	if f.Status == "Approved" || f.Status == "Denied" {
		wantDecided = 1
	}
	if decided != wantDecided {
		out = append(out, fmt.Sprintf("request %s: %s with %d approve/deny decisions", id, f.Status, decided))
	}
	return out
}

// fetchFinals reads every created request as an admin, 16 at a time.
func fetchFinals(o Options, ids []string) (map[string]finalRequest, error) {
	r := newRunner(o)
	defer r.tr.CloseIdleConnections()
	admin, err := r.client("load-admin@load.example.com", o.AdminGroup)
	if err != nil {
		return nil, err
	}
	out := make(map[string]finalRequest, len(ids))
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range jobs {
				code, body := admin.call("check", "GET", "/v1/requests/"+id, "")
				var f finalRequest
				if code == http.StatusOK {
					_ = json.Unmarshal(body, &f)
				}
				mu.Lock()
				out[id] = f
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	if len(r.res.ServerErrors) > 0 {
		return nil, fmt.Errorf("reading the requests back: %v", r.res.ServerErrors[0])
	}
	return out, nil
}

// trail is the audit records of a run, counted the ways Check needs.
type trail struct {
	// perRequest counts actions per request id.
	perRequest map[string]map[string]int
	// answers counts authorize records per principal, target and answer.
	answers map[Answer]int
}

// readTrail reads the audit bucket from the start of the run with the
// streaming query, which drops copies of a record (same id) as every reader
// of the trail does. Copies with distinct ids would be counted twice, which
// is what "exactly once" checks.
func readTrail(ctx context.Context, c auditquery.S3Reader, bucket string, since time.Time) (*trail, error) {
	t := &trail{perRequest: map[string]map[string]int{}, answers: map[Answer]int{}}
	f := auditquery.Filter{Since: since.Add(-time.Minute), Until: time.Now().Add(time.Minute)}
	err := auditquery.QueryWith(ctx, c, bucket, f, func(r auditrecord.Record) error {
		switch r.Action {
		case auditrecord.ActionAuthorizeAllowed, auditrecord.ActionAuthorizeDenied:
			a := Answer{Principal: r.Actor, Allowed: r.Action == auditrecord.ActionAuthorizeAllowed}
			if r.Target != nil {
				a.Scope, a.Name = r.Target.Scope, r.Target.Name
			}
			a.Reason, _ = r.Detail["reason"].(string)
			t.answers[a]++
		}
		if r.RequestID != "" {
			m := t.perRequest[r.RequestID]
			if m == nil {
				m = map[string]int{}
				t.perRequest[r.RequestID] = m
			}
			m[r.Action]++
		}
		return nil
	}, auditquery.QueryOptions{})
	return t, err
}

func checkTrail(res *Result, finals map[string]finalRequest, t *trail) []string {
	var out []string
	given := map[Answer]int{}
	for _, a := range res.Answers {
		given[a]++
	}
	for a, n := range given {
		if got := t.answers[a]; got != n {
			out = append(out, fmt.Sprintf("authorize %s on %s\\%s answered allowed=%v (%s) %d times, audited %d times", a.Principal, a.Scope, a.Name, a.Allowed, a.Reason, n, got))
		}
	}
	for a, n := range t.answers {
		if given[a] == 0 && a.Scope == "Load" {
			out = append(out, fmt.Sprintf("authorize %s on %s\\%s audited %d times but never answered", a.Principal, a.Scope, a.Name, n))
		}
	}
	for _, id := range res.Created {
		acts := t.perRequest[id]
		if acts[auditrecord.ActionRequestCreated] != 1 {
			out = append(out, fmt.Sprintf("request %s: %d request.created records", id, acts[auditrecord.ActionRequestCreated]))
		}
		outcomes := 0
		for _, o := range outcomeOf {
			outcomes += acts[o.action]
		}
		want, wantAction := 0, ""
		for _, o := range outcomeOf {
			if o.status == finals[id].Status {
				want, wantAction = 1, o.action
			}
		}
		if outcomes != want || (want == 1 && acts[wantAction] != 1) {
			out = append(out, fmt.Sprintf("request %s is %s; its outcome records: %v", id, finals[id].Status, acts))
		}
		if finals[id].Status == "Approved" && acts[auditrecord.ActionGrantCreated] != 1 {
			out = append(out, fmt.Sprintf("request %s is Approved with %d grant.created records", id, acts[auditrecord.ActionGrantCreated]))
		}
	}
	return out
}
