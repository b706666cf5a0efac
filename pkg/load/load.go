// Package load drives a running Elevate API the way a busy organisation
// does: requesters submit, authorize and sometimes cancel while approvers
// list what is pending and race each other to approve or deny. Afterwards
// Check holds the API and the audit trail to what the clients saw. `make
// load` runs it against the local stack (see load_test.go); it only ever
// talks to the URL it is given, and stops at its deadline.
package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options shape a run.
type Options struct {
	URL string
	// Token mints a bearer token for a principal.
	Token func(principal string, groups ...string) (string, error)
	// Requesters and Approvers are the client counts (200 and 20).
	Requesters, Approvers int
	// Duration is how long clients keep calling (60 s).
	Duration time.Duration
	// Targets is how many Manual policies requests are spread over (10).
	Targets int
	// CancelRate is the share of created requests their requester cancels.
	CancelRate float64
	// AdminGroup is the identity-provider group of admins.
	AdminGroup string
}

func (o *Options) defaults() {
	if o.Requesters <= 0 {
		o.Requesters = 200
	}
	if o.Approvers <= 0 {
		o.Approvers = 20
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Targets <= 0 {
		o.Targets = 10
	}
	if o.CancelRate <= 0 {
		o.CancelRate = 0.2
	}
	if o.AdminGroup == "" {
		o.AdminGroup = "elevate-admins"
	}
}

// Operations measured.
const (
	OpSubmit    = "submit"
	OpAuthorize = "authorize"
	OpCancel    = "cancel"
	OpList      = "list-pending"
	OpApprove   = "approve"
	OpDeny      = "deny"
)

// Answer is one authorize answer a client was given.
type Answer struct {
	Principal, Scope, Name string
	Allowed                bool
	Reason                 string
}

// Answered is an answer and when: between Asked and Received the API decided.
type Answered struct {
	Answer
	Asked, Received time.Time
}

// Result is what the clients did and saw.
type Result struct {
	Started, Ended time.Time
	// Latencies of the calls answered, per operation.
	Latencies map[string][]time.Duration
	// Status counts per operation and HTTP status ("submit 409").
	Statuses map[string]int
	// ServerErrors lists every 5xx and every call left without an answer.
	ServerErrors []string
	// ClientErrors holds the first body answered per operation and 4xx
	// status ("cancel 409"), for the report of an unexpected one.
	ClientErrors map[string]string
	// Created are the ids of the requests the API created.
	Created []string
	// Won is every decision call (approve, deny, cancel) the API accepted,
	// per request id.
	Won     map[string][]string
	Answers []Answered
}

// client is one principal's HTTP session; every client records into the
// shared result.
type client struct {
	url, token string
	http       *http.Client
	res        *Result
	mu         *sync.Mutex
}

func (c *client) call(op, method, path, body string) (int, []byte) {
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		panic(err) // the paths are built here; a bad one is a bug
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	var out []byte
	if err == nil {
		out, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.res.ServerErrors = append(c.res.ServerErrors, fmt.Sprintf("%s %s: no answer: %v", method, path, err))
		return 0, nil
	}
	c.res.Latencies[op] = append(c.res.Latencies[op], took)
	key := fmt.Sprintf("%s %d", op, resp.StatusCode)
	c.res.Statuses[key]++
	if _, seen := c.res.ClientErrors[key]; !seen && resp.StatusCode >= 400 && resp.StatusCode < 500 {
		c.res.ClientErrors[key] = string(out)
	}
	if resp.StatusCode >= 500 {
		c.res.ServerErrors = append(c.res.ServerErrors, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, out))
	}
	return resp.StatusCode, out
}

func (c *client) must(want int, method, path, body string) []byte {
	code, out := c.call("setup", method, path, body)
	if code != want {
		panic(fmt.Sprintf("setup %s %s: %d %s", method, path, code, out))
	}
	return out
}

// Principals of a run.
func requester(i int) string { return fmt.Sprintf("requester%d@load.example.com", i) }
func approver(i int) string  { return fmt.Sprintf("approver%d@load.example.com", i) }
func targetName(i int) string {
	return fmt.Sprintf("Load-%d", i)
}

// Setup configures the API for a run: an approver group of every approver,
// access on, and one Manual policy per target.
func Setup(o Options) (err error) {
	o.defaults()
	r := newRunner(o)
	defer r.tr.CloseIdleConnections()
	admin, err := r.client("load-admin@load.example.com", o.AdminGroup)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	members := make([]string, o.Approvers)
	for i := range members {
		members[i] = approver(i)
	}
	b, _ := json.Marshal(map[string]any{"name": "load-approvers", "members": members})
	admin.must(201, "POST", "/v1/groups", string(b))
	admin.must(200, "PATCH", "/v1/settings", `{"enabled":true,"defaultApproverGroup":"load-approvers"}`)
	for i := range o.Targets {
		admin.must(201, "POST", "/v1/policies", fmt.Sprintf(`{"type":"Task","scope":"Load","name":%q,"approvalType":"Manual"}`, targetName(i)))
	}
	return nil
}

func newResult() *Result {
	return &Result{Latencies: map[string][]time.Duration{}, Statuses: map[string]int{}, ClientErrors: map[string]string{}, Won: map[string][]string{}}
}

// runner holds what a run's clients share: one result, its lock, and a
// transport keeping a connection per client alive, as that many separate
// machines would.
type runner struct {
	o   Options
	res *Result
	mu  sync.Mutex
	tr  *http.Transport
}

func newRunner(o Options) *runner {
	n := o.Requesters + o.Approvers + 1
	return &runner{o: o, res: newResult(), tr: &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, IdleConnTimeout: time.Minute}}
}

func (r *runner) client(principal string, groups ...string) (*client, error) {
	tok, err := r.o.Token(principal, groups...)
	if err != nil {
		return nil, err
	}
	return &client{url: r.o.URL, token: tok, res: r.res, mu: &r.mu, http: &http.Client{Timeout: 60 * time.Second, Transport: r.tr}}, nil
}

type requestView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Run drives the clients until o.Duration has passed (or ctx ends).
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	r := newRunner(o)
	defer r.tr.CloseIdleConnections()
	res := r.res
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var clients []*client
	for i := range o.Requesters {
		c, err := r.client(requester(i))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	var approvers []*client
	for i := range o.Approvers {
		c, err := r.client(approver(i))
		if err != nil {
			return nil, err
		}
		approvers = append(approvers, c)
	}
	res.Started = time.Now().UTC()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { runRequester(ctx, c, requester(i), o, rand.New(rand.NewPCG(uint64(i), 1))) })
	}
	for i, c := range approvers {
		wg.Go(func() { runApprover(ctx, c, rand.New(rand.NewPCG(uint64(i), 2))) })
	}
	wg.Wait()
	res.Ended = time.Now().UTC()
	return res, nil
}

func (c *client) won(id, decision string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Won[id] = append(c.res.Won[id], decision)
}

func runRequester(ctx context.Context, c *client, principal string, o Options, rng *rand.Rand) {
	for ctx.Err() == nil {
		name := targetName(rng.IntN(o.Targets))
		body := fmt.Sprintf(`{"scope":"Load","name":%q,"reason":"load test","durationHours":1}`, name)
		code, out := c.call(OpSubmit, "POST", "/v1/requests", body)
		var created requestView
		if code == http.StatusCreated && json.Unmarshal(out, &created) == nil && created.ID != "" {
			c.mu.Lock()
			c.res.Created = append(c.res.Created, created.ID)
			c.mu.Unlock()
		}
		asked := time.Now()
		code, out = c.call(OpAuthorize, "POST", "/v1/authorize", fmt.Sprintf(`{"scope":"Load","name":%q}`, name))
		received := time.Now()
		var ans struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		}
		if code == http.StatusOK && json.Unmarshal(out, &ans) == nil {
			c.mu.Lock()
			c.res.Answers = append(c.res.Answers, Answered{Answer{Principal: principal, Scope: "Load", Name: name, Allowed: ans.Allowed, Reason: ans.Reason}, asked, received})
			c.mu.Unlock()
		}
		if created.ID != "" && rng.Float64() < o.CancelRate {
			if code, _ := c.call(OpCancel, "POST", "/v1/requests/"+created.ID+"/cancel", ""); code == http.StatusOK {
				c.won(created.ID, "cancel")
			}
		}
	}
}

func runApprover(ctx context.Context, c *client, rng *rand.Rand) {
	for ctx.Err() == nil {
		code, out := c.call(OpList, "GET", "/v1/requests?status=Pending&limit=20", "")
		var page struct{ Items []requestView }
		if code != http.StatusOK || json.Unmarshal(out, &page) != nil || len(page.Items) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		// Approvers take from the oldest few, so several go for the same one.
		pick := page.Items[len(page.Items)-1-rng.IntN(min(len(page.Items), 3))]
		op, decision := OpApprove, "approve"
		if rng.IntN(3) == 0 {
			op, decision = OpDeny, "deny"
		}
		if code, _ := c.call(op, "POST", "/v1/requests/"+pick.ID+"/"+decision, `{"comment":"load"}`); code == http.StatusOK {
			c.won(pick.ID, decision)
		}
	}
}

// Report prints calls per second and the p50 and p99 of each operation.
func (r *Result) Report(w io.Writer) {
	secs := r.Ended.Sub(r.Started).Seconds()
	total := 0
	ops := make([]string, 0, len(r.Latencies))
	for op, l := range r.Latencies {
		if op == "setup" {
			continue
		}
		ops = append(ops, op)
		total += len(l)
	}
	slices.Sort(ops)
	fmt.Fprintf(w, "%d calls in %.1f s: %.1f calls/s\n", total, secs, float64(total)/secs)
	fmt.Fprintf(w, "%-13s %8s %9s %10s %10s\n", "operation", "calls", "calls/s", "p50 ms", "p99 ms")
	for _, op := range ops {
		l := r.Latencies[op]
		fmt.Fprintf(w, "%-13s %8d %9.1f %10.1f %10.1f\n", op, len(l), float64(len(l))/secs, ms(quantile(l, 0.5)), ms(quantile(l, 0.99)))
	}
	codes := make([]string, 0, len(r.Statuses))
	for k, n := range r.Statuses {
		codes = append(codes, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(codes)
	fmt.Fprintf(w, "statuses: %s\n", strings.Join(codes, ", "))
	fmt.Fprintf(w, "requests created: %d; authorize answers: %d\n", len(r.Created), len(r.Answers))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile is the q-th quantile (0..1), nearest rank.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
