package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/local"
)

// tableGateway serves the API handlers over one table of a shared DynamoDB
// Local, without a stream poller: loading a hundred thousand fixture items
// must not turn into a hundred thousand emails and audit objects while the
// reads are measured.
func tableGateway(b *testing.B, db *dynamodb.Client, table string, authority *local.Authority) string {
	b.Helper()
	if err := dynamo.CreateTable(context.Background(), db, table); err != nil {
		b.Fatal(err)
	}
	signer, err := linktoken.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	svc := &app.Service{Store: dynamo.New(db, table, []byte("0123456789abcdef0123456789abcdef")), Clock: elevate.SystemClock, AdminGroup: app.DefaultAdminGroup}
	srv := httptest.NewServer(&local.Gateway{Functions: local.APIHandlers(svc, signer, slog.New(slog.DiscardHandler)), Verifier: authority})
	b.Cleanup(srv.Close)
	return srv.URL
}

func mint(b *testing.B, a *local.Authority, url, principal string, groups ...string) *caller {
	tok, _, err := a.Mint(principal, groups)
	if err != nil {
		b.Fatal(err)
	}
	return &caller{b: b, url: url, token: tok, http: &http.Client{Timeout: 10 * time.Second}}
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const loadWorkers = 16

// loadRequests writes n approved requests, each with its live grant, as the
// service leaves them, created every 100 ms before `before` (newest first
// from there), with BatchWriteItem from loadWorkers workers. Pending ones
// instead hold their pending slot and expire a day after `before`.
func loadRequests(b *testing.B, db *dynamodb.Client, table string, n int, before time.Time, status elevate.Status, requester func(i int) string) {
	b.Helper()
	ctx := context.Background()
	items := make(chan types.WriteRequest, 1024)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Go(func() {
			batch := make([]types.WriteRequest, 0, 25)
			flush := func() {
				pending := map[string][]types.WriteRequest{table: batch}
				for attempt := 0; len(pending[table]) > 0; attempt++ {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
					if err == nil && attempt > 20 {
						err = fmt.Errorf("%d items unprocessed after %d attempts", len(out.UnprocessedItems[table]), attempt)
					}
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
					pending = out.UnprocessedItems
				}
				batch = batch[:0]
			}
			for it := range items {
				if batch = append(batch, it); len(batch) == 25 {
					flush()
				}
			}
			if len(batch) > 0 {
				flush()
			}
		})
	}
	now := time.Now().UTC()
	for i := range n {
		created := before.Add(-time.Duration(i+1) * 100 * time.Millisecond)
		end := now.Add(4 * time.Hour)
		r := elevate.Request{ID: randomID(), Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
			Requester: requester(i), Reason: "fixture", DurationHours: 4, Status: elevate.StatusApproved,
			ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
			Decisions: []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok", At: created}},
			CreatedAt: created, ExpiresAt: end, GrantExpiresAt: &end, Version: 2}
		if status == elevate.StatusPending {
			r.Status, r.Decisions, r.GrantExpiresAt, r.ExpiresAt, r.Version = elevate.StatusPending, nil, nil, before.Add(24*time.Hour), 1
		}
		req, slot, err := dynamo.FixtureItems(r)
		if err != nil {
			b.Fatal(err)
		}
		items <- types.WriteRequest{PutRequest: &types.PutRequest{Item: req}}
		items <- types.WriteRequest{PutRequest: &types.PutRequest{Item: slot}}
	}
	close(items)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// BenchmarkTableSize compares, on a table holding TABLE_REQUESTS (100,000)
// approved requests with their 100,000 grant items against an empty one:
//   - authorize by a principal with no grant (the lookup misses);
//   - authorize by a principal holding one of the grants (on the empty
//     table, one of the 100 recent ones);
//   - the first page of GET /v1/requests (an admin's, newest first: the one
//     partition every request is in);
//   - the first page of GET /v1/requests?status=Pending, where the 50
//     pending requests are older than every approved one, so the filtered
//     Query reads past all of them (up to its cap of Query calls).
//
// Both tables also hold the same 100 recent approved requests and the same
// 50 old pending ones, so only the table's size differs. Calls alternate
// between the tables; TABLE_N (200) rounds. Target: every p50 ratio ≤ 1.2.
func BenchmarkTableSize(b *testing.B) {
	n := envInt(b, "TABLE_REQUESTS", 100_000)
	dyn, err := emulator.StartDynamoDB(context.Background(), emulator.DynamoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = dyn.Stop() })
	db := emulator.DynamoClient(dyn.Endpoint)
	// The loader's own client keeps a connection per worker.
	loader := emulator.DynamoClient(dyn.Endpoint, func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = loadWorkers })
	})
	authority, err := local.NewAuthority("http://127.0.0.1/_local", local.DefaultAudience)
	if err != nil {
		b.Fatal(err)
	}
	type side struct {
		name                 string
		admin, alice, holder *caller
	}
	now := time.Now().UTC()
	var sides []side
	for _, name := range []string{"empty", "full"} {
		table := "elevate_" + name
		url := tableGateway(b, db, table, authority)
		s := side{name: name, admin: mint(b, authority, url, "admin@example.com", app.DefaultAdminGroup), alice: mint(b, authority, url, "alice@example.com")}
		seed(s.admin)
		loadRequests(b, loader, table, 100, now, elevate.StatusApproved, func(i int) string { return fmt.Sprintf("recent%d@example.com", i) })
		// Older than any approved request below, even at 100,000 of them.
		loadRequests(b, loader, table, 50, now.Add(-time.Hour-time.Duration(n/10+1)*time.Second), elevate.StatusPending,
			func(i int) string { return fmt.Sprintf("waiting%d@example.com", i) })
		s.holder = mint(b, authority, url, "recent7@example.com")
		if name == "full" {
			start := time.Now()
			loadRequests(b, loader, table, n, now.Add(-time.Hour), elevate.StatusApproved, func(i int) string { return fmt.Sprintf("user%d@example.com", i) })
			b.Logf("loaded %d requests and %d grants in %v", n, n, time.Since(start).Round(time.Millisecond))
			s.holder = mint(b, authority, url, fmt.Sprintf("user%d@example.com", n/2))
		}
		sides = append(sides, s)
	}
	authorize := func(s side) {
		if code, out := s.alice.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`); code != 200 || !strings.Contains(string(out), "approval-required") {
			b.Fatalf("%s authorize: %d %s", s.name, code, out)
		}
	}
	authorizeGranted := func(s side) {
		if code, out := s.holder.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`); code != 200 || !strings.Contains(string(out), `"grant"`) {
			b.Fatalf("%s authorize by a grant holder: %d %s", s.name, code, out)
		}
	}
	list := func(s side) {
		if code, out := s.admin.do("GET", "/v1/requests", ""); code != 200 || strings.Count(string(out), `"id"`) != 50 {
			b.Fatalf("%s list: %d, %d items", s.name, code, strings.Count(string(out), `"id"`))
		}
	}
	// The filtered page may end early with a cursor when the Query cap is
	// reached; what it returns is what a caller waits for.
	pending := func(s side) {
		if code, out := s.admin.do("GET", "/v1/requests?status=Pending", ""); code != 200 || strings.Contains(string(out), `"Approved"`) {
			b.Fatalf("%s pending list: %d %s", s.name, code, out)
		}
	}
	ops := []struct {
		name string
		call func(side)
	}{{"authorize", authorize}, {"authorize_granted", authorizeGranted}, {"list", list}, {"pending", pending}}
	for range 10 { // warm up
		for _, s := range sides {
			for _, op := range ops {
				op.call(s)
			}
		}
	}
	lat := map[string][]time.Duration{}
	timed := func(key string, f func()) {
		t := time.Now()
		f()
		lat[key] = append(lat[key], time.Since(t))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		order := []side{sides[i%2], sides[(i+1)%2]}
		for _, s := range order {
			for _, op := range ops {
				timed(op.name+"/"+s.name, func() { op.call(s) })
			}
		}
	}
	b.StopTimer()
	for _, op := range ops {
		empty, full := p50(lat[op.name+"/empty"]), p50(lat[op.name+"/full"])
		name := "table_size_" + op.name
		switch op.name {
		case "list":
			name = "table_size_requests_page"
		case "pending":
			name = "table_size_pending_page"
		}
		figure(b, name+"_empty_p50_ms", round3(micros(empty)/1000), op.name+"-empty-p50-ms")
		figure(b, name+"_full_p50_ms", round3(micros(full)/1000), op.name+"-full-p50-ms")
		figure(b, name+"_p50_ratio", round3(float64(full)/float64(empty)), op.name+"-p50-ratio")
	}
}
