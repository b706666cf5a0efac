package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/local"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// minimumCost is the least an operation's guarantees need, in DynamoDB's
// pricing (a strongly consistent read of an item up to 4 KB is 1 RCU, a
// write of an item up to 1 KB is 1 WCU, and either costs twice inside a
// transaction), for the small items Elevate writes:
//   - authorize: one BatchGetItem of settings, policy and the caller's slot
//     (3 RCU) and the audit event's PutItem (1 WCU);
//   - submit (Manual): the same read (settings, policy, slot: 3 RCU) and one
//     transaction putting the request and claiming the requester's slot
//     for the target, which is what "one open request per target" needs
//     (2 items: 4 WCU); plus, in the same transaction, what "no group
//     deleted while a request names it" needs when no request may touch an
//     item every request for the group touches (pkg/dynamo/groupuse.go): a
//     hold of the request's own and a ConditionCheck of one of the group's
//     32 gates (2 more items: 4 WCU);
//   - submit refused because the requester's slot is held (409
//     open-request): the read alone, nothing written;
//   - approve, deny: read the request and the group (2 RCU), one
//     transaction conditioned on the request's version writing it and the
//     grant slot (2 items: 4 WCU), and holding the decider's membership
//     until the commit, a ConditionCheck of their member item (1 item: 2
//     WCU, as DynamoDB charges a check in a transaction like a write);
//     cancel and revoke (here by the requester, whose right is no
//     membership) the request and the slot alone;
//   - extend: read the original and the policy (2 RCU) and one transaction
//     putting the extension and claiming its slot (4 WCU), plus the group
//     hold and gate as for submit (4 WCU);
//   - break-glass: as submit, approved in the same transaction;
//   - list: one eventually consistent Query of one page; the page here
//     holds a handful of small items (0.5 RCU, DynamoDB's least charge);
//   - each stream event: notify reads what it must mail about and claims
//     each delivery once (a conditional PutItem per recipient).
var minimumCost = map[string]struct {
	calls    int
	rcu, wcu float64
}{
	"authorize":   {2, 3, 1},
	"submit":      {2, 3, 8},
	"submit-409":  {1, 3, 0},
	"approve":     {2, 2, 6},
	"deny":        {2, 2, 6},
	"cancel":      {2, 1, 4},
	"revoke":      {2, 1, 4},
	"extend":      {2, 2, 8},
	"break-glass": {2, 3, 8},
	"list":        {1, 0.5, 0},
}

// costRow is what one API operation cost, and what its stream events cost
// the notify consumer afterwards.
type costRow struct {
	op          string
	api, stream emulator.Cost
}

// BenchmarkCallCost runs each API operation on a local stack whose functions
// each have their own recorded DynamoDB client, and reports the read and
// write capacity units (ReturnConsumedCapacity TOTAL, as DynamoDB Local
// computes them) and SDK calls it made, then what the stream events it
// caused cost the notify consumer (the audit consumer writes only to S3),
// next to the operation's minimum (minimumCost). Every operation is
// repeated COST_N (5) times on fresh requests and averaged.
func BenchmarkCallCost(b *testing.B) {
	n := envInt(b, "COST_N", 5)
	st, err := local.Start(context.Background(), local.Options{RecordCalls: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Stop() })
	admin := newCaller(b, st, "admin@example.com", "elevate-admins")
	seed(admin)
	admin.must(201, "POST", "/v1/policies", `{"type":"Task","scope":"Exchange","name":"Set-Mailbox","approvalType":"Manual","breakGlass":{"enabled":true,"maxDurationHours":1,"ratifyWithinHours":24}}`)
	admin.must(201, "POST", "/v1/policies", `{"type":"Task","scope":"Exchange","name":"Get-Mailbox","approvalType":"Auto"}`)
	bob := newCaller(b, st, "bob@example.com")

	apiCost := func() emulator.Cost {
		var c emulator.Cost
		for _, fn := range manifest.APIFunctions {
			if r := st.Calls[fn]; r != nil {
				c = c.Add(r.Cost())
			}
		}
		return c
	}
	notifyCost := func() emulator.Cost { return st.Calls[manifest.Notify].Cost() }
	// settle waits until the notify consumer has been idle for three poll
	// intervals: every stream record so far has been handled.
	settle := func() {
		deadline := time.Now().Add(30 * time.Second)
		last := notifyCost().Calls
		for time.Now().Before(deadline) {
			time.Sleep(time.Second)
			if now := notifyCost().Calls; now == last {
				return
			} else {
				last = now
			}
		}
		b.Fatal("the notify consumer did not settle within 30 s")
	}
	rows := map[string]*costRow{}
	var order []string
	measure := func(op string, do func()) {
		settle()
		api0, notify0 := apiCost(), notifyCost()
		do()
		api := apiCost().Sub(api0)
		settle()
		r := rows[op]
		if r == nil {
			r = &costRow{op: op}
			rows[op] = r
			order = append(order, op)
		}
		r.api = r.api.Add(api)
		r.stream = r.stream.Add(notifyCost().Sub(notify0))
	}
	id := func(out []byte) string {
		var r struct{ ID string }
		if err := json.Unmarshal(out, &r); err != nil || r.ID == "" {
			b.Fatalf("no request id in %s", out)
		}
		return r.ID
	}
	submitBody := func(name string) string {
		return fmt.Sprintf(`{"scope":"Exchange","name":%q,"reason":"cost"}`, name)
	}
	for i := range n {
		alice := newCaller(b, st, fmt.Sprintf("cost%d@example.com", i))
		var approved, denied, cancelled, auto, glass string
		measure("submit", func() { approved = id(alice.must(201, "POST", "/v1/requests", submitBody("New-MoveRequest"))) })
		measure("submit-409", func() { alice.must(409, "POST", "/v1/requests", submitBody("New-MoveRequest")) })
		measure("approve", func() { bob.must(200, "POST", "/v1/requests/"+approved+"/approve", `{"comment":"ok"}`) })
		measure("authorize", func() { alice.must(200, "POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`) })
		measure("list", func() { admin.must(200, "GET", "/v1/requests", "") })
		measure("revoke", func() { alice.must(200, "POST", "/v1/requests/"+approved+"/revoke", `{}`) })
		denied = id(alice.must(201, "POST", "/v1/requests", submitBody("New-MoveRequest")))
		measure("deny", func() { bob.must(200, "POST", "/v1/requests/"+denied+"/deny", `{"comment":"no"}`) })
		cancelled = id(alice.must(201, "POST", "/v1/requests", submitBody("New-MoveRequest")))
		measure("cancel", func() { alice.must(200, "POST", "/v1/requests/"+cancelled+"/cancel", `{}`) })
		auto = id(alice.must(201, "POST", "/v1/requests", submitBody("Get-Mailbox")))
		measure("extend", func() {
			alice.must(201, "POST", "/v1/requests/"+auto+"/extend", `{"durationHours":1,"reason":"more"}`)
		})
		measure("break-glass", func() {
			glass = id(alice.must(201, "POST", "/v1/requests", `{"scope":"Exchange","name":"Set-Mailbox","reason":"outage: the mail cluster is down","breakGlass":true}`))
		})
		_ = glass
	}
	b.StopTimer()
	perCall := func(c emulator.Cost) emulator.Cost {
		c.RCU, c.WCU = c.RCU/float64(n), c.WCU/float64(n)
		c.Calls, c.Failed, c.ItemsWritten = c.Calls/n, c.Failed/n, c.ItemsWritten/n
		for a := range c.Actions {
			c.Actions[a] /= n
		}
		return c
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-12s %6s %6s %6s | %6s %6s %6s | %-44s | %s\n", "operation", "RCU", "WCU", "calls", "minRCU", "minWCU", "min", "SDK calls", "stream: events, notify RCU/WCU/calls per event")
	for _, op := range order {
		r := rows[op]
		api, stream := perCall(r.api), perCall(r.stream)
		m := minimumCost[op]
		events := api.ItemsWritten
		perEvent := func(v float64) float64 {
			if events == 0 {
				return 0
			}
			return v / float64(events)
		}
		actions := make([]string, 0, len(api.Actions))
		for _, a := range slices.Sorted(maps.Keys(api.Actions)) {
			actions = append(actions, fmt.Sprintf("%s×%d", a, api.Actions[a]))
		}
		fmt.Fprintf(&table, "%-12s %6.1f %6.1f %6d | %6.1f %6.1f %6d | %-44s | %d, %.2f/%.2f/%.2f\n", op, api.RCU, api.WCU, api.Calls, m.rcu, m.wcu, m.calls,
			strings.Join(actions, " "), events, perEvent(stream.RCU), perEvent(stream.WCU), perEvent(float64(stream.Calls)))
		name := "cost_" + strings.ReplaceAll(op, "-", "_")
		figure(b, name+"_rcu", round3(api.RCU), op+"-RCU")
		figure(b, name+"_wcu", round3(api.WCU), op+"-WCU")
		figure(b, name+"_sdk_calls", float64(api.Calls), op+"-calls")
		figure(b, name+"_stream_events", float64(events), op+"-events")
		figure(b, name+"_stream_wcu_per_event", round3(perEvent(stream.WCU)), op+"-stream-WCU/event")
		figure(b, name+"_stream_rcu_per_event", round3(perEvent(stream.RCU)), op+"-stream-RCU/event")
	}
	b.Logf("per operation (mean of %d), DynamoDB Local's capacity accounting:\n%s", n, table.String())
	if path := os.Getenv("BENCH_COST_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotGroupSubmit submits from 64 requesters at once, each on its
// own target: in one phase all 64 targets' policies name the same approver
// group, in the other each names its own. A request that touches an item
// every other request for its group touches makes the first phase queue
// (or conflict) on that item. HOT_ROUNDS (5) rounds of each phase,
// alternating; target: p99 of the one-group phase ≤ 1.5 × the 64-groups'.
func BenchmarkHotGroupSubmit(b *testing.B) {
	const clients = 64
	rounds := envInt(b, "HOT_ROUNDS", 5)
	st, admin := stack(b)
	admin.must(200, "PATCH", "/v1/settings", fmt.Sprintf(`{"maxPolicies":%d}`, 2*clients+1))
	for i := range clients {
		admin.must(201, "POST", "/v1/groups", fmt.Sprintf(`{"name":"g%d","members":["bob@example.com"]}`, i))
		admin.must(201, "POST", "/v1/policies", fmt.Sprintf(`{"type":"Task","scope":"Hot","name":"T%d","approvalType":"Manual","approverGroup":"ops"}`, i))
		admin.must(201, "POST", "/v1/policies", fmt.Sprintf(`{"type":"Task","scope":"Spread","name":"T%d","approvalType":"Manual","approverGroup":"g%d"}`, i, i))
	}
	// One keep-alive connection per requester, and time for 64 submits
	// queueing on two shared cores.
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients}}
	lat := map[string][]time.Duration{}
	round := func(scope string, r int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, clients)
		for i := range clients {
			c := newCaller(b, st, fmt.Sprintf("hot%d-%d-%s@example.com", r, i, strings.ToLower(scope)))
			c.http = client
			wg.Go(func() {
				<-start
				t := time.Now()
				code, out, err := c.try("POST", "/v1/requests", fmt.Sprintf(`{"scope":%q,"name":"T%d","reason":"hot group"}`, scope, i))
				took := time.Since(t)
				if err == nil && code != 201 {
					err = fmt.Errorf("submit: %d %s", code, out)
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				lat[scope] = append(lat[scope], took)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	round("Hot", -1) // warm up both
	round("Spread", -1)
	clear(lat)
	b.ResetTimer()
	for r := range rounds {
		if r%2 == 0 {
			round("Hot", r)
			round("Spread", r)
		} else {
			round("Spread", r)
			round("Hot", r)
		}
	}
	b.StopTimer()
	hot, spread := quantile(lat["Hot"], 0.99), quantile(lat["Spread"], 0.99)
	figure(b, "hot_group_submit_one_group_p99_ms", round3(micros(hot)/1000), "one-group-p99-ms")
	figure(b, "hot_group_submit_64_groups_p99_ms", round3(micros(spread)/1000), "64-groups-p99-ms")
	figure(b, "hot_group_submit_p99_ratio", round3(float64(hot)/float64(spread)), "p99-ratio")
}
