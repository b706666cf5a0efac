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
// service leaves them, created before `before` (newest first from there),
// with BatchWriteItem from loadWorkers workers.
func loadRequests(b *testing.B, db *dynamodb.Client, table string, n int, before time.Time, requester func(i int) string) {
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
		created := before.Add(-time.Duration(i+1) * time.Second)
		end := now.Add(4 * time.Hour)
		r := elevate.Request{ID: randomID(), Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
			Requester: requester(i), Reason: "fixture", DurationHours: 4, Status: elevate.StatusApproved,
			ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
			Decisions: []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok", At: created}},
			CreatedAt: created, ExpiresAt: end, GrantExpiresAt: &end, Version: 2}
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

// BenchmarkTableSize compares authorize and the first page of
// GET /v1/requests (an admin's, newest first: the one partition every
// request is in) on a table holding TABLE_REQUESTS (100,000) approved
// requests with their 100,000 grant items against an empty one. Both tables
// also hold the same page of 100 recent requests, so the two pages carry the
// same items and only the table's size differs. Calls alternate between the
// tables; TABLE_N (200) rounds. Target: both p50 ratios ≤ 1.2.
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
		name         string
		admin, alice *caller
	}
	now := time.Now().UTC()
	var sides []side
	for _, name := range []string{"empty", "full"} {
		table := "elevate_" + name
		url := tableGateway(b, db, table, authority)
		s := side{name: name, admin: mint(b, authority, url, "admin@example.com", app.DefaultAdminGroup), alice: mint(b, authority, url, "alice@example.com")}
		seed(s.admin)
		loadRequests(b, loader, table, 100, now, func(i int) string { return fmt.Sprintf("recent%d@example.com", i) })
		if name == "full" {
			start := time.Now()
			loadRequests(b, loader, table, n, now.Add(-time.Hour), func(i int) string { return fmt.Sprintf("user%d@example.com", i) })
			b.Logf("loaded %d requests and %d grants in %v", n, n, time.Since(start).Round(time.Millisecond))
		}
		sides = append(sides, s)
	}
	authorize := func(s side) {
		if code, out := s.alice.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`); code != 200 || !strings.Contains(string(out), "approval-required") {
			b.Fatalf("%s authorize: %d %s", s.name, code, out)
		}
	}
	list := func(s side) {
		if code, out := s.admin.do("GET", "/v1/requests", ""); code != 200 || strings.Count(string(out), `"id"`) != 50 {
			b.Fatalf("%s list: %d, %d items", s.name, code, strings.Count(string(out), `"id"`))
		}
	}
	for range 10 { // warm up
		for _, s := range sides {
			authorize(s)
			list(s)
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
			timed("authorize/"+s.name, func() { authorize(s) })
			timed("list/"+s.name, func() { list(s) })
		}
	}
	b.StopTimer()
	for _, op := range []string{"authorize", "list"} {
		empty, full := p50(lat[op+"/empty"]), p50(lat[op+"/full"])
		name := "table_size_" + op
		if op == "list" {
			name = "table_size_requests_page"
		}
		figure(b, name+"_empty_p50_ms", round3(micros(empty)/1000), op+"-empty-p50-ms")
		figure(b, name+"_full_p50_ms", round3(micros(full)/1000), op+"-full-p50-ms")
		figure(b, name+"_p50_ratio", round3(float64(full)/float64(empty)), op+"-p50-ratio")
	}
}
