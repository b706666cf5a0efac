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
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Requester      string     `json:"requester"`
	Status         string     `json:"status"`
	GrantExpiresAt *time.Time `json:"grantExpiresAt"`
	Decisions      []decision `json:"decisions"`
}

type decision struct {
	By       string    `json:"by"`
	Decision string    `json:"decision"`
	At       time.Time `json:"at"`
}

// expected4xx are the refusals a correct API gives this load: a second open
// request on a target, and a decision on a request another call already
// decided (a lost race). Any other 4xx means the clients or the API broke.
var expected4xx = map[string]bool{"submit 409": true, "approve 409": true, "deny 409": true, "cancel 409": true}

// outcomeOf maps an accepted decision call to the status it leaves and the
// audit action that records it.
var outcomeOf = map[string]struct{ status, action string }{
	"approve": {"Approved", auditrecord.ActionRequestApproved},
	"deny":    {"Denied", auditrecord.ActionRequestDenied},
	"cancel":  {"Cancelled", auditrecord.ActionRequestCancelled},
}

// Check holds the API and the audit trail to what the clients saw:
//   - no call got a 5xx or went unanswered, and no 4xx but expected4xx;
//   - some approve, some deny and some cancel were accepted: a run where
//     nothing could be decided is a failure, not a quiet pass;
//   - every created request has exactly one outcome, the one the single
//     accepted decision call chose (or none and still Pending), with
//     decisions to match;
//   - every "allowed" answer came while an Approved request of that
//     requester on that target was live;
//   - every authorize answer given is in the audit trail exactly once
//     (as a multiset per principal, target, answer and reason);
//   - every request's creation and outcome are in the audit trail once, and
//     a grant.created for the Approved ones only.
//
// The audit trail lags the table by the stream, so Check re-reads it until
// it agrees or wait has passed, and returns the problems of the last look.
func Check(ctx context.Context, o Options, res *Result, s3c auditquery.S3Reader, bucket string, wait time.Duration) ([]string, error) {
	o.defaults()
	problems := slices.Clone(res.ServerErrors)
	problems = append(problems, checkStatuses(res)...)
	problems = append(problems, checkDecided(res)...)
	finals, err := fetchFinals(o, res.Created)
	if err != nil {
		return nil, err
	}
	for _, id := range res.Created {
		problems = append(problems, checkOutcome(id, res.Won[id], finals[id])...)
	}
	problems = append(problems, checkGrantAnswers(res.Answers, finals)...)
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

func checkStatuses(res *Result) []string {
	var out []string
	for key, n := range res.Statuses {
		var op string
		var code int
		if _, err := fmt.Sscanf(key, "%s %d", &op, &code); err != nil {
			out = append(out, fmt.Sprintf("status %q: %v", key, err))
			continue
		}
		if code >= 400 && code < 500 && !expected4xx[key] {
			out = append(out, fmt.Sprintf("%s: %d unexpected refusals, the first: %s", key, n, res.ClientErrors[key]))
		}
	}
	slices.Sort(out)
	return out
}

func checkDecided(res *Result) []string {
	accepted := map[string]int{}
	for _, won := range res.Won {
		for _, d := range won {
			accepted[d]++
		}
	}
	var out []string
	for _, d := range []string{"approve", "deny", "cancel"} {
		if accepted[d] == 0 {
			out = append(out, fmt.Sprintf("no %s call was accepted in the whole run", d))
		}
	}
	return out
}

// checkGrantAnswers ties every "allowed" answer to an Approved request of
// its requester on its target whose grant was live while the call ran: approved
// before the answer came, ending after the call was made.
func checkGrantAnswers(answers []Answered, finals map[string]finalRequest) []string {
	type key struct{ principal, name string }
	approved := map[key][]finalRequest{}
	for _, f := range finals {
		if f.Status == "Approved" {
			k := key{f.Requester, f.Name}
			approved[k] = append(approved[k], f)
		}
	}
	var out []string
	for _, a := range answers {
		if !a.Allowed {
			continue
		}
		live := slices.ContainsFunc(approved[key{a.Principal, a.Name}], func(f finalRequest) bool {
			var grantedAt time.Time // the last approval starts the grant
			for _, d := range f.Decisions {
				if d.Decision == "approve" && d.At.After(grantedAt) {
					grantedAt = d.At
				}
			}
			return !grantedAt.IsZero() && !grantedAt.After(a.Received) && f.GrantExpiresAt != nil && f.GrantExpiresAt.After(a.Asked)
		})
		if !live {
			out = append(out, fmt.Sprintf("authorize %s on %s\\%s allowed (%s) at %s with no Approved request of theirs live then",
				a.Principal, a.Scope, a.Name, a.Reason, a.Received.Format(time.RFC3339Nano)))
		}
	}
	return out
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
		given[a.Answer]++
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
		wantGrants := 0
		if finals[id].Status == "Approved" {
			wantGrants = 1
		}
		if acts[auditrecord.ActionGrantCreated] != wantGrants {
			out = append(out, fmt.Sprintf("request %s is %s with %d grant.created records", id, finals[id].Status, acts[auditrecord.ActionGrantCreated]))
		}
	}
	return out
}
