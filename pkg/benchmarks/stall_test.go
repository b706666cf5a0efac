package benchmarks

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// BenchmarkDynamoDBStall pauses DynamoDB Local (SIGSTOP) for STALL_FOR (40 s)
// under STALL_CLIENTS (20) concurrent callers of authorize, with the
// functions' production timeouts, and reports the p99 of the answers to the
// calls made during the stall (target ≤ the API functions' timeout) and how
// they were answered. Any 500 or unanswered call fails the benchmark.
func BenchmarkDynamoDBStall(b *testing.B) {
	clients := envInt(b, "STALL_CLIENTS", 20)
	stall := envDuration(b, "STALL_FOR", 40*time.Second)
	st, _ := stack(b)
	alice := newCaller(b, st, "alice@example.com")
	alice.http = &http.Client{Timeout: 2 * stall, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	body := `{"scope":"Exchange","name":"New-MoveRequest"}`
	alice.must(200, "POST", "/v1/authorize", body)
	var lat []time.Duration
	statuses := map[int]int{}
	b.ResetTimer()
	for b.Loop() {
		if err := st.Dynamo.Pause(); err != nil {
			b.Fatal(err)
		}
		end := time.Now().Add(stall)
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed error
		for range clients {
			wg.Go(func() {
				for time.Now().Before(end) {
					t := time.Now()
					code, out, err := alice.try("POST", "/v1/authorize", body)
					took := time.Since(t)
					mu.Lock()
					if err != nil || code == 500 || code == 0 {
						failed = fmt.Errorf("authorize during the stall: %d %s %v", code, out, err)
					}
					lat = append(lat, took)
					statuses[code]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if err := st.Dynamo.Resume(); err != nil {
			b.Fatal(err)
		}
		if failed != nil {
			b.Fatal(failed)
		}
	}
	b.StopTimer()
	figure(b, "stall_answer_p99_s", round3(quantile(lat, 0.99).Seconds()), "p99-s")
	figure(b, "stall_function_timeout_s", budget.Timeout(manifest.Authorize).Seconds(), "timeout-s")
	figure(b, "stall_answers_503", float64(statuses[503]), "503s")
	figure(b, "stall_answers_200", float64(statuses[200]), "200s")
}
