package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/local"
)

// stack starts one local stack for a benchmark, polling the stream at the
// stack's default interval, and seeds it: group ops (bob), access on, a
// Manual policy on Exchange\New-MoveRequest.
func stack(b *testing.B) (*local.Stack, *caller) {
	b.Helper()
	st, err := local.Start(context.Background(), local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Stop() })
	admin := newCaller(b, st, "admin@example.com", "elevate-admins")
	seed(admin)
	return st, admin
}

// seed makes the benchmarks' configuration through the admin API.
func seed(admin *caller) {
	admin.must(201, "POST", "/v1/groups", `{"name":"ops","members":["bob@example.com"]}`)
	admin.must(200, "PATCH", "/v1/settings", `{"enabled":true,"defaultApproverGroup":"ops"}`)
	admin.must(201, "POST", "/v1/policies", `{"type":"Task","scope":"Exchange","name":"New-MoveRequest","approvalType":"Manual"}`)
}

type caller struct {
	b     *testing.B
	url   string
	token string
	http  *http.Client
}

func newCaller(b *testing.B, st *local.Stack, principal string, groups ...string) *caller {
	tok, err := st.Token(principal, groups...)
	if err != nil {
		b.Fatal(err)
	}
	return &caller{b: b, url: st.URL, token: tok, http: &http.Client{Timeout: 10 * time.Second}}
}

func (c *caller) do(method, path, body string) (int, []byte) {
	code, out, err := c.try(method, path, body)
	if err != nil {
		c.b.Fatal(err)
	}
	return code, out
}

// try is do for goroutines other than the benchmark's, which must not call
// Fatal.
func (c *caller) try(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

func (c *caller) must(status int, method, path, body string) []byte {
	got, out := c.do(method, path, body)
	if got != status {
		c.b.Fatalf("%s %s: %d %s", method, path, got, out)
	}
	return out
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkAuthorizeVsFloor interleaves, in one run, an authorize call
// through the local gateway (HTTP, JWT check, event conversion, handler,
// one BatchGetItem, one PutItem) with its floor: the same two DynamoDB calls
// made directly through the store. The target is gateway p50 ≤ 1.25 × floor.
func BenchmarkAuthorizeVsFloor(b *testing.B) {
	st, _ := stack(b)
	alice := newCaller(b, st, "alice@example.com")
	store := dynamo.New(emulator.DynamoClient(st.DynamoEndpoint), st.Table, []byte("0123456789abcdef0123456789abcdef"))
	target := elevate.Target{Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest"}
	ctx := context.Background()
	body := `{"scope":"Exchange","name":"New-MoveRequest"}`
	floor := func() {
		if err := authzFloor(ctx, store, "alice@example.com", target); err != nil {
			b.Fatal(err)
		}
	}
	gateway := func() {
		if code, out := alice.do("POST", "/v1/authorize", body); code != 200 || !bytes.Contains(out, []byte(`"approval-required"`)) {
			b.Fatalf("authorize: %d %s", code, out)
		}
	}
	for range 20 { // warm connections and the JVM
		floor()
		gateway()
	}
	gw, fl := interleave(b, gateway, floor)
	figure(b, "authorize_gateway_p50_us", round3(micros(p50(gw))), "gateway-p50-µs")
	figure(b, "authorize_floor_p50_us", round3(micros(p50(fl))), "floor-p50-µs")
	figure(b, "authorize_p50_ratio", round3(float64(p50(gw))/float64(p50(fl))), "p50-ratio")
}

// interleave times a and its floor one after the other for every
// iteration of b, alternating which goes first so neither side always runs
// warm.
func interleave(b *testing.B, a, floor func()) (as, floors []time.Duration) {
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		first, second, fs, ss := a, floor, &as, &floors
		if i%2 == 1 {
			first, second, fs, ss = floor, a, &floors, &as
		}
		t := time.Now()
		first()
		*fs = append(*fs, time.Since(t))
		t = time.Now()
		second()
		*ss = append(*ss, time.Since(t))
	}
	b.StopTimer()
	return as, floors
}

var floorSeq atomic.Int64

// authzFloor makes the DynamoDB calls of one authorize answer directly
// through the store: the BatchGetItem read, the decision, the PutItem of its
// audit event.
func authzFloor(ctx context.Context, store *dynamo.Store, principal string, target elevate.Target) error {
	read, err := store.ReadAuthz(ctx, principal, target)
	if err != nil {
		return err
	}
	now := time.Now()
	ans := elevate.Authorize(&elevate.AuthzQuestion{Principal: principal, Target: target, Settings: &read.Settings, Policy: read.Policy, Grant: read.Grant, Now: now})
	return store.RecordAuthz(ctx, app.Event{ID: fmt.Sprintf("bench-%d-%d", now.UnixNano(), floorSeq.Add(1)), Time: now, Action: "authorize.denied", Actor: principal, Target: &target,
		Detail: map[string]any{"reason": string(ans.Reason), "askedBy": principal}})
}

// BenchmarkApprovalToAccess measures the gap between the approve response
// and the first authorize call that sees the grant: it must be the very next
// call (reported as extra-calls, target 0).
func BenchmarkApprovalToAccess(b *testing.B) {
	st, _ := stack(b)
	bob := newCaller(b, st, "bob@example.com")
	extra := 0
	for i := 0; b.Loop(); i++ {
		alice := newCaller(b, st, fmt.Sprintf("alice%d@example.com", i))
		var r struct{ ID string }
		_ = json.Unmarshal(alice.must(201, "POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"bench"}`), &r)
		bob.must(200, "POST", "/v1/requests/"+r.ID+"/approve", `{}`)
		for {
			_, out := alice.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`)
			if bytes.Contains(out, []byte(`"grant"`)) {
				break
			}
			extra++
		}
	}
	figure(b, "approval_to_access_extra_calls", float64(extra)/float64(b.N), "extra-calls/op")
}

// BenchmarkRequestToEmail measures submit → the approver's email accepted by
// the SES emulator, through the stream poller and the notify handler.
func BenchmarkRequestToEmail(b *testing.B) {
	st, _ := stack(b)
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		alice := newCaller(b, st, fmt.Sprintf("mailer%d@example.com", i))
		reason := fmt.Sprintf("bench-email-%d", i)
		start := time.Now()
		alice.must(201, "POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"`+reason+`"}`)
		for {
			emails, err := st.SES.Emails(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if slices.ContainsFunc(emails, func(e emulator.StoredEmail) bool { return strings.Contains(e.Body.Text, reason) }) {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("no email within 30 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	figure(b, "request_to_email_p50_ms", round3(micros(p50(lat))/1000), "p50-ms")
}

// BenchmarkChangeToAudit measures a state change → its audit record in S3.
func BenchmarkChangeToAudit(b *testing.B) {
	st, admin := stack(b)
	ctx := context.Background()
	s3c := emulator.S3Client(st.S3Endpoint)
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("audit-bench-%d", i)
		start := time.Now()
		admin.must(201, "POST", "/v1/groups", `{"name":"`+name+`","members":[]}`)
		for found := false; !found; {
			f := auditFilter(start)
			err := queryAudit(ctx, s3c, st.Bucket, f, func(detail map[string]any) {
				if detail["group"] == name {
					found = true
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("no audit record within 30 s")
			}
			if !found {
				time.Sleep(20 * time.Millisecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	figure(b, "change_to_audit_p50_ms", round3(micros(p50(lat))/1000), "p50-ms")
}
