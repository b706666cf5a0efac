package benchmarks

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/httpapi"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// answeredStore is the store port answering authorize's read and write in
// memory: what is left of a call is the handler's own work.
type answeredStore struct {
	app.Store // any other method panics: authorize must not call it
	read      app.AuthzRead
}

func (s *answeredStore) ReadAuthz(context.Context, string, elevate.Target) (app.AuthzRead, error) {
	return s.read, nil
}

func (s *answeredStore) RecordAuthz(context.Context, app.Event) error { return nil }

// BenchmarkAuthorizeHandlerCost measures the authorize Lambda handler's own
// CPU time and heap allocations per call: the committed sample event
// (events/http/authorize/authorize.valid.json) through the handler (route,
// claims, body decoding, the service, the decision, the audit event, the
// response, the JSON log line), with the store port answering in memory, so
// the DynamoDB round trip (and the SDK's marshalling) is excluded. CPU is
// the process's user+system time over the loop, garbage collection
// included. Targets: ≤ 50 µs and ≤ 100 allocations per call.
func BenchmarkAuthorizeHandlerCost(b *testing.B) {
	root, err := emulator.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", "http", "authorize", "authorize.valid.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	store := &answeredStore{read: app.AuthzRead{
		Settings: elevate.Settings{Enabled: true, DefaultApproverGroup: "ops", Version: 1},
		Policy: &elevate.Policy{ID: "task:exchange:new-moverequest", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
			ApprovalType: elevate.ApprovalManual, RequiredApprovals: 1, CreatedAt: now, UpdatedAt: now},
	}}
	svc := &app.Service{Store: store, Clock: elevate.SystemClock, AdminGroup: app.DefaultAdminGroup}
	h := httpapi.New(manifest.Authorize, httpapi.Deps{Service: svc, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	ctx := context.Background()
	call := func() {
		resp, err := h(ctx, ev)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"approval-required"`) {
			b.Fatalf("authorize: %d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
	for range 1000 { // warm caches and pools
		call()
	}
	runtime.GC()
	var before, after runtime.MemStats
	var ruBefore, ruAfter syscall.Rusage
	runtime.ReadMemStats(&before)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ruBefore); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		call()
	}
	b.StopTimer()
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ruAfter); err != nil {
		b.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	cpu := cpuTime(ruAfter) - cpuTime(ruBefore)
	figure(b, "authorize_handler_cpu_us", round3(micros(cpu)/float64(b.N)), "cpu-µs/call")
	figure(b, "authorize_handler_allocs", round3(float64(after.Mallocs-before.Mallocs)/float64(b.N)), "allocs/call")
}

func cpuTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
