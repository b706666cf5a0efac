#!/usr/bin/env bash
# Runs Elevate's benchmarks. Latency targets are reported as ratios or p50s
# measured side by side in one run: these machines are shared and noisy.
# Every benchmark runs BENCH_RUNS (3) times; each run appends one name=value
# line per figure to $BENCH_FIGURES. The script prints those raw lines, then
# one line per figure: its median over the runs, with the min, the max and
# the number of runs, and fails if a figure a group promises is missing.
# BENCH_RAW=FILE also keeps the raw lines in FILE. Sizes can be lowered for a
# quick run, e.g.
#   AUDIT_RECORDS=100000 TABLE_REQUESTS=10000 AUTHZ_PHASE=2s BENCH_RUNS=1 make bench
# Only some groups: BENCH_ONLY='audit table' make bench
# (groups: decision handler gateway latency identitycenter start init size audit concurrent table cost credentials stall).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_FIGURES=$(mktemp)
export BENCH_FIGURES
trap 'rm -f "$BENCH_FIGURES"' EXIT
runs=${BENCH_RUNS:-3}
run() { go test -run '^$' -benchmem -count "$runs" -timeout 120m "$@"; }
want() { [[ -z "${BENCH_ONLY:-}" || " $BENCH_ONLY " == *" $1 "* ]]; }
expected=()
expect() { expected+=("$@"); }
# Every function, as `make build` builds them (pkg/manifest holds the same list; TestEveryFunctionDirectoryIsInTheManifest keeps them equal).
functions=($(cd functions && ls -d */ | tr -d /))

if want decision; then
  echo "== pure decision function (target ≤ 1 µs/op, 0 allocs/op)"
  run -bench 'BenchmarkAuthorize$' ./pkg/elevate/ | tee /dev/stderr |
    awk '/^BenchmarkAuthorize/ { for (i = 1; i < NF; i++) { if ($(i+1) == "ns/op") print "decision_ns_per_op=" $i; if ($(i+1) == "allocs/op") print "decision_allocs_per_op=" $i } }' >>"$BENCH_FIGURES"
  expect decision_ns_per_op decision_allocs_per_op
fi

if want handler; then
  echo "== authorize handler's own CPU and allocations per call, the store's round trip excluded (target ≤ 50 µs, ≤ 100 allocs)"
  run -bench 'AuthorizeHandlerCost' -benchtime "${HANDLER_N:-20000}x" ./pkg/benchmarks/
  expect authorize_handler_cpu_us authorize_handler_allocs
fi

if want gateway; then
  echo "== authorize through the local gateway vs its DynamoDB floor (target p50-ratio ≤ 1.25)"
  run -bench 'AuthorizeVsFloor' -benchtime "${AUTHZ_N:-300}x" ./pkg/benchmarks/
  expect authorize_gateway_p50_us authorize_floor_p50_us authorize_p50_ratio
fi

if want latency; then
  echo "== approval → access (target 0 extra calls), request → approver email (target p50 < 2 s), change → audit object (target p50 < 5 s), the stream polled every 300 ms as by the local stack"
  run -bench 'ApprovalToAccess|RequestToEmail|ChangeToAudit' -benchtime "${LATENCY_N:-20}x" ./pkg/benchmarks/
  expect approval_to_access_extra_calls request_to_email_p50_ms change_to_audit_p50_ms
fi

if want identitycenter; then
  echo "== approval → Identity Center assignment, revoke → assignment removed and sessions denied (local sso-admin, provisioning delay included)"
  run -bench 'IdentityCenterLatency' -benchtime "${IC_N:-10}x" ./pkg/benchmarks/
  expect ic_approval_to_assignment_p50_ms ic_end_to_removal_p50_ms ic_provisioning_delay_ms
fi

if want start; then
  echo "== Lambda process start → ready, host build, warm page cache, no sandbox (target < 50 ms)"
  run -bench 'ProcessStart' -benchtime "${START_N:-20}x" ./pkg/benchmarks/
  for f in "${functions[@]}"; do expect "process_start_${f}_ms"; done
fi

if want init; then
  echo "== Lambda init under the Runtime Interface Emulator, median of ${INIT_N:-10} cold starts per function (reported)"
  run -bench 'LambdaInit' -benchtime "${INIT_N:-10}x" ./pkg/benchmarks/
  for f in functions/*/; do f=${f#functions/}; expect "lambda_init_ms_${f%/}"; done
fi

if want size; then
  echo "== Lambda bootstrap sizes, linux/arm64 (target ≤ 12 MB; one build, sizes do not vary)"
  make -s build | tee /dev/stderr | awk '{ printf "bootstrap_%s_mb=%.2f\n", $1, $2 / 1e6 }' >>"$BENCH_FIGURES"
  for f in "${functions[@]}"; do expect "bootstrap_${f}_mb"; done
fi

if want audit; then
  echo "== audit query at ${AUDIT_RECORDS:-100000,1000000} records vs the least work any reader does: GET, gunzip and line split in a separate process (target ratio ≤ 1.5, peak RSS ≤ 256 MB)"
  run -bench 'AuditQueryScale' -benchtime "${AUDIT_N:-1}x" ./pkg/benchmarks/
  expect audit_query_floor_ratio audit_query_get_floor_ratio audit_query_wall_s audit_query_floor_s audit_query_get_floor_s audit_query_peak_rss_mb audit_query_records_per_s audit_query_cpu_ratio audit_query_cpu_s audit_query_floor_cpu_s
fi

if want concurrent; then
  echo "== authorize from ${AUTHZ_CLIENTS:-64} concurrent clients, gateway vs direct DynamoDB calls (targets throughput-ratio ≥ 0.8, p99-ratio ≤ 1.5)"
  run -bench 'AuthorizeConcurrent' -benchtime "${AUTHZ_ROUNDS:-2}x" ./pkg/benchmarks/
  expect authorize_concurrent_throughput_ratio authorize_concurrent_p99_ratio authorize_concurrent_gateway_calls_per_s authorize_concurrent_floor_calls_per_s
fi

if want table; then
  echo "== authorize and requests pages, ${TABLE_REQUESTS:-100000} requests and grants vs an empty table (target p50-ratio ≤ 1.2)"
  run -bench 'TableSize' -benchtime "${TABLE_N:-200}x" ./pkg/benchmarks/
  expect table_size_authorize_p50_ratio table_size_authorize_granted_p50_ratio table_size_requests_page_p50_ratio table_size_pending_page_p50_ratio
fi

if want cost; then
  echo "== DynamoDB capacity units and SDK calls per operation and stream event, next to each operation's minimum; 64 submits to one group vs 64 groups (target p99-ratio ≤ 1.5)"
  run -bench 'CallCost|HotGroupSubmit' -benchtime 1x ./pkg/benchmarks/
  expect hot_group_submit_p99_ratio cost_submit_wcu cost_authorize_rcu
fi

if want credentials; then
  echo "== POST /v1/requests/{id}/credentials through the local gateway vs the same sts:AssumeRole made directly (target p50-ratio ≤ 1.25)"
  echo "   and vs the least work any correct implementation must do (min-work: 1 read, the AssumeRole, 1 conditional write)"
  run -bench 'CredentialsVsAssumeRole' -benchtime "${CREDENTIALS_N:-200}x" ./pkg/benchmarks/
  expect credentials_gateway_p50_us credentials_floor_p50_us credentials_p50_ratio
  expect credentials_min_work_p50_us credentials_min_work_p50_ratio credentials_service_p50_us credentials_service_first_call_p50_us
  for phase in read assume_role write; do
    expect "credentials_route_${phase}_p50_us" "credentials_min_work_${phase}_p50_us"
  done
fi

if want stall; then
  echo "== authorize answers while DynamoDB Local is paused for ${STALL_FOR:-40s} (target p99 ≤ the function timeout, no 500)"
  run -bench 'DynamoDBStall' -benchtime 1x ./pkg/benchmarks/
  expect stall_answer_p99_s stall_answers_503 stall_answers_200
fi

echo "== raw figures (one line per run)"
cat "$BENCH_FIGURES"
[[ -n "${BENCH_RAW:-}" ]] && cp "$BENCH_FIGURES" "$BENCH_RAW"

echo "== figures (median over the runs; min, max, runs)"
awk -F= '
  !($1 in n) { order[++names] = $1 }
  { n[$1]++; v[$1, n[$1]] = $2 + 0 }
  END {
    for (k = 1; k <= names; k++) {
      name = order[k]; m = n[name]
      for (i = 1; i <= m; i++) s[i] = v[name, i]
      for (i = 2; i <= m; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
      median = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
      printf "%s=%.6g min=%.6g max=%.6g runs=%d\n", name, median, s[1], s[m], m
    }
  }' "$BENCH_FIGURES"

missing=()
for name in "${expected[@]}"; do
  grep -q "^${name}=" "$BENCH_FIGURES" || missing+=("$name")
done
if ((${#missing[@]})); then
  echo "bench: FAILED: no figure for ${missing[*]}" >&2
  exit 1
fi
