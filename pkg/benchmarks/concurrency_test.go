package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// phase runs call from clients goroutines until d has passed and returns
// every call's latency and the time the phase really took (its last calls
// end after d). The first error stops the phase and is returned.
func phase(clients int, d time.Duration, call func() error) ([]time.Duration, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	lat := make([][]time.Duration, clients)
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) && failed.Load() == nil {
				t := time.Now()
				if err := call(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := failed.Load(); err != nil {
		return nil, took, *err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all, took, nil
}

// BenchmarkAuthorizeConcurrent runs authorize from AUTHZ_CLIENTS (64)
// concurrent clients through the local gateway, and the same DynamoDB calls
// (BatchGetItem + PutItem through the store, with the stack's client
// settings) made directly from as many goroutines, in alternating phases of
// AUTHZ_PHASE (5 s) each. Targets: throughput ratio ≥ 0.8, p99 ratio ≤ 1.5.
func BenchmarkAuthorizeConcurrent(b *testing.B) {
	clients := envInt(b, "AUTHZ_CLIENTS", 64)
	d := envDuration(b, "AUTHZ_PHASE", 5*time.Second)
	st, _ := stack(b)
	alice := newCaller(b, st, "alice@example.com")
	// One keep-alive connection per client, as 64 separate callers would hold;
	// the floor's DynamoDB client, like the stack's, keeps
	// emulator.ConcurrentCallers connections.
	alice.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}}
	if clients > emulator.ConcurrentCallers {
		b.Fatalf("AUTHZ_CLIENTS=%d: the stack keeps %d DynamoDB connections", clients, emulator.ConcurrentCallers)
	}
	store := dynamo.New(emulator.DynamoClient(st.DynamoEndpoint), st.Table, []byte("0123456789abcdef0123456789abcdef"))
	target := elevate.Target{Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest"}
	ctx := context.Background()
	body := `{"scope":"Exchange","name":"New-MoveRequest"}`
	floor := func() error { return authzFloor(ctx, store, "alice@example.com", target) }
	gateway := func() error {
		code, out, err := alice.try("POST", "/v1/authorize", body)
		if err != nil {
			return err
		}
		if code != 200 || !bytes.Contains(out, []byte(`"approval-required"`)) {
			return fmt.Errorf("authorize: %d %s", code, out)
		}
		return nil
	}
	if _, _, err := phase(clients, time.Second, func() error { return errors.Join(floor(), gateway()) }); err != nil { // warm up
		b.Fatal(err)
	}
	var gw, fl []time.Duration
	var gwTime, flTime time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		order := []bool{true, false} // gateway first on even rounds
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, isGateway := range order {
			call, lat, spent := floor, &fl, &flTime
			if isGateway {
				call, lat, spent = gateway, &gw, &gwTime
			}
			got, took, err := phase(clients, d, call)
			if err != nil {
				b.Fatal(err)
			}
			*lat = append(*lat, got...)
			*spent += took
		}
	}
	b.StopTimer()
	gwRate, flRate := float64(len(gw))/gwTime.Seconds(), float64(len(fl))/flTime.Seconds()
	figure(b, "authorize_concurrent_gateway_calls_per_s", round3(gwRate), "gateway-calls/s")
	figure(b, "authorize_concurrent_floor_calls_per_s", round3(flRate), "floor-calls/s")
	figure(b, "authorize_concurrent_throughput_ratio", round3(gwRate/flRate), "throughput-ratio")
	figure(b, "authorize_concurrent_gateway_p99_ms", round3(micros(quantile(gw, 0.99))/1000), "gateway-p99-ms")
	figure(b, "authorize_concurrent_floor_p99_ms", round3(micros(quantile(fl, 0.99))/1000), "floor-p99-ms")
	figure(b, "authorize_concurrent_p99_ratio", round3(float64(quantile(gw, 0.99))/float64(quantile(fl, 0.99))), "p99-ratio")
}
