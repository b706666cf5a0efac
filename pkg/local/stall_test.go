package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// The stall tests run the functions with timeouts of a few seconds (the CDK
// stack's are pkg/budget's) so that a dependency paused past them costs
// seconds. Every dependency is paused for stallFor, longer than any of them.
var stallTimeouts = map[string]time.Duration{
	manifest.Policies: 4 * time.Second, manifest.Requests: 4 * time.Second,
	manifest.Approvals: 4 * time.Second, manifest.Authorize: 4 * time.Second,
	manifest.Notify: 5 * time.Second, manifest.Audit: 5 * time.Second,
}

const stallFor = 7 * time.Second

// leaks are fragments of internal error text no answer may carry.
var leaks = []string{"dial", "connection", "127.0.0.1", "dynamodb", "operation error", "deadline", "context", "timeout", "ses", "s3", "exceeded"}

// answer is one API call as its caller saw it.
type answer struct {
	call        string
	status      int
	took        time.Duration
	retryAfter  string
	contentType string
	body        string
	out         map[string]any
}

// timed makes one call and records how long its answer took. The client
// waits far longer than any function may run, so a slow answer is measured
// rather than cut off.
func (c *client) timed(method, path string, body any) answer {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Error(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Error(err)
		return answer{call: method + " " + path}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	hc := &http.Client{Timeout: 60 * time.Second}
	start := time.Now()
	resp, err := hc.Do(req)
	a := answer{call: method + " " + path, took: time.Since(start)}
	if err != nil {
		c.t.Errorf("%s: no answer after %v: %v", a.call, a.took, err)
		return a
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.took = time.Since(start)
	a.status, a.body = resp.StatusCode, string(raw)
	a.retryAfter, a.contentType = resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type")
	_ = json.Unmarshal(raw, &a.out)
	return a
}

// answers collects what concurrent callers saw.
type answers struct {
	mu  sync.Mutex
	all []answer
}

func (as *answers) add(a answer) answer {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.all = append(as.all, a)
	return a
}

// check holds every answer to the bar: within the function's timeout
// plus a second, its normal answer (one of normal) or a 503 problem with
// Retry-After, never a 500, and no internal text.
func (as *answers) check(t *testing.T, normal ...int) (unavailable int) {
	t.Helper()
	as.mu.Lock()
	defer as.mu.Unlock()
	limit := stallTimeouts[manifest.Authorize] + time.Second
	seen := map[string]int{}
	defer func() { t.Logf("answers: %v", seen) }()
	for _, a := range as.all {
		seen[fmt.Sprintf("%s %s %d", a.call[:strings.Index(a.call, " ")], routeOf(a.call), a.status)]++
		if a.status == 0 {
			continue // already reported: no answer at all
		}
		if a.took > limit {
			t.Errorf("%s answered %d after %v, over the function timeout plus 1 s (%v)", a.call, a.status, a.took, limit)
		}
		switch {
		case a.status == http.StatusServiceUnavailable:
			unavailable++
			secs, err := strconv.Atoi(a.retryAfter)
			if err != nil || secs <= 0 {
				t.Errorf("%s: 503 with Retry-After %q", a.call, a.retryAfter)
			}
			if a.contentType != "application/problem+json" || a.out["status"] != float64(503) {
				t.Errorf("%s: 503 that is not a problem document: %s %s", a.call, a.contentType, a.body)
			}
		case !contains(normal, a.status):
			t.Errorf("%s answered %d: %s", a.call, a.status, a.body)
		}
		for _, leak := range leaks {
			if a.status >= 400 && strings.Contains(strings.ToLower(a.body), leak) {
				t.Errorf("%s: %d body leaks %q: %s", a.call, a.status, leak, a.body)
			}
		}
	}
	return unavailable
}

// routeOf reduces a path to its route, for the summary.
func routeOf(call string) string {
	_, path, _ := strings.Cut(call, " ")
	path, _, _ = strings.Cut(path, "?")
	switch {
	case strings.HasSuffix(path, "/approve"):
		return "/v1/requests/{id}/approve"
	case strings.HasPrefix(path, "/v1/requests/"):
		return "/v1/requests/{id}"
	}
	return path
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// logBuffer keeps the stack's JSON logs for a test to search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// startStallStack runs a stack with the short timeouts, logging to logs.
// own: its own DynamoDB Local (to be paused) rather than the binary's.
func startStallStack(t *testing.T, own bool, logs *logBuffer) *Stack {
	t.Helper()
	o := Options{FunctionTimeouts: stallTimeouts, Log: slog.New(slog.NewJSONHandler(logs, nil)), Table: emulatortest.UniqueTableName("stall")}
	if !own {
		_, o.DynamoEndpoint = emulatortest.DynamoForTest(t)
	}
	o, _ = withOpenAPI(t, o)
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			t.Logf("stack logs:\n%s", logs.buf.String())
			logs.mu.Unlock()
		}
		if st.Dynamo != nil {
			_ = st.Dynamo.Resume()
		}
		if st.SES != nil {
			_ = st.SES.Resume()
		}
		st.S3.SetStalled(false)
		if err := st.Stop(); err != nil {
			t.Error(err)
		}
	})
	return st
}

// stallSetup is an approver group (bob, carol), a Manual policy and n Auto
// ones (auto-0 …).
func stallSetup(t *testing.T, st *Stack, autos int) (admin *client) {
	admin = st.client(t, "admin@example.com", "elevate-admins")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com", "carol@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Manual", "approvalType": "Manual"})
	for i := range autos {
		admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": fmt.Sprint("auto-", i), "approvalType": "Auto"})
	}
	return admin
}

// settled is must for a call that changes nothing (a read, authorize): a
// 503 is retried, as a caller should, since on two shared cores a call can
// outlast the tests' short timeouts without any stall.
func (c *client) settled(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	for range 4 {
		if code, out := c.do(method, path, body); code != http.StatusServiceUnavailable {
			if code != want {
				c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, out["_raw"])
			}
			return out
		}
		time.Sleep(time.Second)
	}
	return c.must(want, method, path, body)
}

// submitSettled makes a request outside any stall and returns its ID,
// retrying a 503 the way the README tells callers to: a retry answering 409
// open-request means the earlier attempt made it.
func (c *client) submitSettled(name string) string {
	c.t.Helper()
	for range 4 {
		code, out := c.do("POST", "/v1/requests", submitBody(name))
		switch {
		case code == http.StatusCreated:
			return out["id"].(string)
		case code == http.StatusConflict && out["code"] == "open-request":
			if rs := requestsOf(c.t, c)[name]; len(rs) == 1 {
				return rs[0]["id"].(string)
			}
		case code != http.StatusServiceUnavailable:
			c.t.Fatalf("submit %s: %d %s", name, code, out["_raw"])
		}
		time.Sleep(time.Second)
	}
	c.t.Fatalf("submit %s: no answer but 503", name)
	return ""
}

func submitBody(name string) map[string]any {
	return map[string]any{"scope": "Exchange", "name": name, "reason": "stall test"}
}

// emailsByRequest counts the stack's emails per recipient and request ID
// (named in the body), with the subject's first word after [Elevate].
func emailsByRequest(t *testing.T, st *Stack) map[string]int {
	t.Helper()
	emails, err := emulator.SESEmails(context.Background(), st.SESEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range emails {
		for _, to := range e.Destination.To {
			out[to+" "+requestIDIn(e.Body.Text)+" "+subjectKind(e.Subject)]++
		}
	}
	return out
}

func requestIDIn(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Request:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "?"
}

// subjectKind is what an email is about: "Approval needed", "Request
// approved" and the like, or "Request decided" for the other approvers'
// notice.
func subjectKind(subject string) string {
	s := strings.TrimPrefix(subject, "[Elevate] ")
	if strings.Contains(s, "'s request for ") {
		return "Request decided"
	}
	s, _, _ = strings.Cut(s, ":")
	return s
}

// waitEmails waits until the stack's emails are want, then a little longer,
// and reports any difference: a missing email or a duplicate.
func waitEmails(t *testing.T, st *Stack, want map[string]int) {
	t.Helper()
	var got map[string]int
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		got = emailsByRequest(t, st)
		if equalCounts(got, want) {
			// A late duplicate would come within a poll or two.
			time.Sleep(2 * time.Second)
			got = emailsByRequest(t, st)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("email %s: %d, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected email %s (%d)", k, n)
		}
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// waitAudit waits until the audit trail holds every want (action + " " +
// request ID) exactly once, as its readers see it, and reports what differs.
func waitAudit(t *testing.T, st *Stack, want []string) {
	t.Helper()
	var got map[string]int
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		got = map[string]int{}
		for _, r := range auditRecords(t, st) {
			got[r.Action+" "+r.RequestID]++
		}
		done := true
		for _, w := range want {
			done = done && got[w] > 0
		}
		if done {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("audit %s: %d records, want 1", w, got[w])
		}
	}
}

// requestsOf lists a principal's requests by target name.
func requestsOf(t *testing.T, c *client) map[string][]map[string]any {
	t.Helper()
	out := c.settled(200, "GET", "/v1/requests?limit=100", nil)
	byName := map[string][]map[string]any{}
	items, _ := out["items"].([]any)
	for _, it := range items {
		r := it.(map[string]any)
		name, _ := r["name"].(string)
		byName[name] = append(byName[name], r)
	}
	return byName
}

func noTaskTimedOut(t *testing.T, logs *logBuffer) {
	t.Helper()
	if n := logs.count("Task timed out"); n > 0 {
		t.Errorf("%d invocations ran past their function timeout", n)
	}
}

// TestDynamoDBStall pauses DynamoDB Local (SIGSTOP) for longer than every
// function's timeout while requesters submit and ask authorize, an approver
// approves, and others list. Every call is answered in time with its normal
// answer or a 503 + Retry-After; afterwards each submit and approval that got
// a 503 is read back: it either happened whole (request, grant, emails and
// audit exactly once) or not at all.
func TestDynamoDBStall(t *testing.T) {
	logs := &logBuffer{}
	st := startStallStack(t, true, logs)
	const autos, requesters, manual = 8, 6, 6
	stallSetup(t, st, autos)
	bob := st.client(t, "bob@example.com")

	// Manual requests made before the stall, to be approved across it.
	var manualIDs []string
	manualRequester := map[string]*client{}
	for i := range manual {
		c := st.client(t, fmt.Sprintf("m%d@example.com", i))
		id := c.submitSettled("Manual")
		manualIDs = append(manualIDs, id)
		manualRequester[id] = c
	}

	var as answers
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Requesters submit Auto requests one target after another, and ask
	// authorize about each.
	submitted := make([]map[string]int, requesters) // target → submit status
	for i := range requesters {
		c := st.client(t, fmt.Sprintf("a%d@example.com", i))
		submitted[i] = map[string]int{}
		wg.Go(func() {
			for k := 0; k < autos; k++ {
				name := fmt.Sprint("auto-", k)
				submitted[i][name] = as.add(c.timed("POST", "/v1/requests", submitBody(name))).status
				as.add(c.timed("POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": name}))
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
			}
		})
	}
	// Bob approves the manual requests, one every second.
	approved := map[string]int{}
	var approvedMu sync.Mutex
	wg.Go(func() {
		for _, id := range manualIDs {
			a := as.add(bob.timed("POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"}))
			approvedMu.Lock()
			approved[id] = a.status
			approvedMu.Unlock()
			time.Sleep(time.Second)
		}
	})
	// Someone lists all along.
	wg.Go(func() {
		for {
			as.add(bob.timed("GET", "/v1/requests?limit=5", nil))
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	})

	time.Sleep(1500 * time.Millisecond)
	if err := st.Dynamo.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stallFor)
	if err := st.Dynamo.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	if n := as.check(t, 200, 201); n == 0 {
		t.Error("no call met the stall: the test proved nothing")
	}
	noTaskTimedOut(t, logs)

	// Read back: each submit that got a 503 either made its request whole
	// (an approved request whose grant authorize sees) or nothing at all.
	// Retrying it tells the caller which: 409 open-request when it was made,
	// else it is made now.
	wantEmails := map[string]int{}
	var wantAudit []string
	var notMade, madeAnyway int
	defer func() { t.Logf("submits answered 503: %d made whole, %d not made at all", madeAnyway, notMade) }()
	for i := range requesters {
		c := st.client(t, fmt.Sprintf("a%d@example.com", i))
		mine := requestsOf(t, c)
		for name, status := range submitted[i] {
			rs := mine[name]
			authz := c.settled(200, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": name})
			switch {
			case len(rs) > 1:
				t.Errorf("a%d %s: %d requests", i, name, len(rs))
			case len(rs) == 0 && status == 201:
				t.Errorf("a%d %s: answered 201 but no request stored", i, name)
			case len(rs) == 0:
				if authz["allowed"] != false {
					t.Errorf("a%d %s: no request, yet authorize says %v", i, name, authz)
				}
				notMade++
				id := c.submitSettled(name)
				wantEmails[fmt.Sprintf("a%d@example.com %s Request approved", i, id)] = 1
				wantAudit = append(wantAudit, "request.created "+id)
			default:
				if status != 201 {
					madeAnyway++
					if code, out := c.do("POST", "/v1/requests", submitBody(name)); code != 409 || out["code"] != "open-request" {
						t.Errorf("a%d %s: a retried submit that had been made answered %d %v", i, name, code, out["_raw"])
					}
				}
				r := rs[0]
				if r["status"] != "Approved" || authz["allowed"] != true || authz["reason"] != "grant" || authz["requestId"] != r["id"] {
					t.Errorf("a%d %s: request %v %v, authorize %v: half written", i, name, r["id"], r["status"], authz)
				}
				id := r["id"].(string)
				wantEmails[fmt.Sprintf("a%d@example.com %s Request approved", i, id)] = 1
				wantAudit = append(wantAudit, "request.created "+id)
			}
		}
	}
	// Each approval that got a 503 is retried: the retry applies it (200) if
	// it had not been, and says it already stood (409) if it had; either way
	// the request then shows exactly one approval.
	for _, id := range manualIDs {
		if approved[id] != 200 {
			before := bob.settled(200, "GET", "/v1/requests/"+id, nil)["status"]
			want := map[any]int{"Pending": 200, "Approved": 409}[before]
			if code, out := bob.do("POST", "/v1/requests/"+id+"/approve", map[string]any{"comment": "ok"}); code != want {
				t.Errorf("approval of %s (%v) retried: %d %v, want %d", id, before, code, out["_raw"], want)
			}
		}
		r := bob.settled(200, "GET", "/v1/requests/"+id, nil)
		decisions, _ := r["decisions"].([]any)
		if r["status"] != "Approved" || len(decisions) != 1 {
			t.Errorf("request %s after the stall: %v with %d decisions", id, r["status"], len(decisions))
		}
		req := manualRequester[id]
		authz := req.settled(200, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": "Manual"})
		if authz["allowed"] != true || authz["requestId"] != id {
			t.Errorf("request %s approved, but authorize says %v", id, authz)
		}
		requester := r["requester"].(string)
		wantEmails["bob@example.com "+id+" Approval needed"] = 1
		wantEmails["carol@example.com "+id+" Approval needed"] = 1
		wantEmails[requester+" "+id+" Request approved"] = 1
		wantEmails["carol@example.com "+id+" Request decided"] = 1
		wantAudit = append(wantAudit, "request.created "+id, "request.approved "+id)
	}
	waitEmails(t, st, wantEmails)
	waitAudit(t, st, wantAudit)
}

// submitDuringStall has eight requesters submit a Manual request and ask
// authorize about it at once, checks every answer, then waits out the rest of
// the stall. It returns the IDs of the requests made, read back: on shared
// cores a submit can answer 503 with no stall at all, and may have been made
// all the same.
func submitDuringStall(t *testing.T, st *Stack) []string {
	t.Helper()
	var as answers
	var wg sync.WaitGroup
	clients := make([]*client, 8)
	for i := range clients {
		c := st.client(t, fmt.Sprintf("s%d@example.com", i))
		clients[i] = c
		wg.Go(func() {
			as.add(c.timed("POST", "/v1/requests", submitBody("Manual")))
			as.add(c.timed("POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": "Manual"}))
		})
	}
	wg.Wait()
	as.check(t, 200, 201)
	time.Sleep(stallFor)
	var ids []string
	for _, c := range clients {
		for _, r := range requestsOf(t, c)["Manual"] {
			ids = append(ids, r["id"].(string))
		}
	}
	return ids
}

// TestSESStall pauses the SES emulator (SIGSTOP) for longer than notify's
// timeout while requests are made: the API answers as usual, notify cuts its
// invocations off at its deadline and reports what it did not finish, and
// once SES is back every approver gets each email exactly once.
func TestSESStall(t *testing.T) {
	logs := &logBuffer{}
	st := startStallStack(t, false, logs)
	stallSetup(t, st, 0)
	if err := st.SES.Pause(); err != nil {
		t.Fatal(err)
	}
	ids := submitDuringStall(t, st)
	if err := st.SES.Resume(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, id := range ids {
		want["bob@example.com "+id+" Approval needed"] = 1
		want["carol@example.com "+id+" Approval needed"] = 1
	}
	if len(want) == 0 {
		t.Fatal("no request made during the SES stall")
	}
	waitEmails(t, st, want)
	noTaskTimedOut(t, logs)
	if logs.count("notify: record not delivered") == 0 && logs.count("almost out of time") == 0 {
		t.Error("notify never met the stall: the test proved nothing")
	}
}

// TestS3Stall makes the audit bucket hang for longer than the audit
// consumer's timeout: the API answers as usual, the consumer reports the
// batch it could not write before its deadline, and once S3 answers again
// every change is in the trail exactly once.
func TestS3Stall(t *testing.T) {
	logs := &logBuffer{}
	st := startStallStack(t, false, logs)
	stallSetup(t, st, 0)
	st.S3.SetStalled(true)
	ids := submitDuringStall(t, st)
	st.S3.SetStalled(false)
	var want []string
	for _, id := range ids {
		want = append(want, "request.created "+id)
	}
	if len(want) == 0 {
		t.Fatal("no request made during the S3 stall")
	}
	waitAudit(t, st, want)
	noTaskTimedOut(t, logs)
	if logs.count("audit: cannot write audit object") == 0 {
		t.Error("the audit consumer never met the stall: the test proved nothing")
	}
}
