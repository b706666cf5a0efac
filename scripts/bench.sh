#!/usr/bin/env bash
# Runs Elevate's benchmarks. Latency targets are reported as ratios or p50s
# measured side by side in one run: these machines are shared and noisy.
# It ends with one name=value line per figure (the benchmarks append them to
# $BENCH_FIGURES). Sizes can be lowered for a quick run, e.g.
#   AUDIT_RECORDS=100000 TABLE_REQUESTS=10000 AUTHZ_PHASE=2s make bench
# Only some groups: BENCH_ONLY='audit table' make bench
# (groups: decision gateway latency identitycenter start size audit concurrent table stall).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_FIGURES=$(mktemp)
export BENCH_FIGURES
trap 'rm -f "$BENCH_FIGURES"' EXIT
run() { go test -run '^$' -benchmem -timeout 60m "$@"; }
want() { [[ -z "${BENCH_ONLY:-}" || " $BENCH_ONLY " == *" $1 "* ]]; }

if want decision; then
  echo "== pure decision function (target ≤ 1 µs/op, 0 allocs/op)"
  run -bench 'BenchmarkAuthorize$' ./pkg/elevate/ | tee /dev/stderr |
    awk '/^BenchmarkAuthorize/ { for (i = 1; i < NF; i++) { if ($(i+1) == "ns/op") print "decision_ns_per_op=" $i; if ($(i+1) == "allocs/op") print "decision_allocs_per_op=" $i } }' >>"$BENCH_FIGURES"
fi

if want gateway; then
  echo "== authorize through the local gateway vs its DynamoDB floor (target p50-ratio ≤ 1.25)"
  run -bench 'AuthorizeVsFloor' -benchtime "${AUTHZ_N:-300}x" ./pkg/benchmarks/
fi

if want latency; then
  echo "== approval → access (target 0 extra calls), request → approver email (target p50 < 2 s), change → audit object (target p50 < 5 s)"
  run -bench 'ApprovalToAccess|RequestToEmail|ChangeToAudit' -benchtime "${LATENCY_N:-20}x" ./pkg/benchmarks/
fi

if want identitycenter; then
  echo "== approval → Identity Center assignment, revoke → assignment removed and sessions denied (local sso-admin, provisioning delay included)"
  run -bench 'IdentityCenterLatency' -benchtime "${IC_N:-10}x" ./pkg/benchmarks/
fi

if want start; then
  echo "== Lambda process start → ready (target < 50 ms)"
  run -bench 'ColdStart' -benchtime "${START_N:-20}x" ./pkg/benchmarks/
fi

if want size; then
  echo "== Lambda bootstrap sizes, linux/arm64 (target ≤ 12 MB)"
  make -s build | tee /dev/stderr | awk '{ printf "bootstrap_%s_mb=%.2f\n", $1, $2 / 1e6 }' >>"$BENCH_FIGURES"
fi

if want audit; then
  echo "== audit query at ${AUDIT_RECORDS:-100000,1000000} records vs a parallel GET of the same objects (target floor-ratio ≤ 1.5, peak RSS ≤ 256 MB)"
  run -bench 'AuditQueryScale' -benchtime "${AUDIT_N:-3}x" ./pkg/benchmarks/
fi

if want concurrent; then
  echo "== authorize from ${AUTHZ_CLIENTS:-64} concurrent clients, gateway vs direct DynamoDB calls (targets throughput-ratio ≥ 0.8, p99-ratio ≤ 1.5)"
  run -bench 'AuthorizeConcurrent' -benchtime "${AUTHZ_ROUNDS:-2}x" ./pkg/benchmarks/
fi

if want table; then
  echo "== authorize and the first page of requests, ${TABLE_REQUESTS:-100000} requests and grants vs an empty table (target p50-ratio ≤ 1.2)"
  run -bench 'TableSize' -benchtime "${TABLE_N:-200}x" ./pkg/benchmarks/
fi

if want stall; then
  echo "== authorize answers while DynamoDB Local is paused for ${STALL_FOR:-40s} (target p99 ≤ the function timeout, no 500)"
  run -bench 'DynamoDBStall' -benchtime 1x ./pkg/benchmarks/
fi

echo "== figures"
cat "$BENCH_FIGURES"
