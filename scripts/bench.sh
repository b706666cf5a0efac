#!/usr/bin/env bash
# Runs Elevate's benchmarks. Latency targets are reported as ratios or p50s
# measured side by side in one run: these machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
run() { go test -run '^$' -benchmem -timeout 20m "$@"; }

echo "== pure decision function (target ≤ 1 µs/op, 0 allocs/op)"
run -bench 'BenchmarkAuthorize$' ./pkg/elevate/

echo "== authorize through the local gateway vs its DynamoDB floor (target p50-ratio ≤ 1.25)"
run -bench 'AuthorizeVsFloor' -benchtime "${AUTHZ_N:-300}x" ./pkg/benchmarks/

echo "== approval → access (target 0 extra calls), request → approver email (target p50 < 2 s), change → audit object (target p50 < 5 s)"
run -bench 'ApprovalToAccess|RequestToEmail|ChangeToAudit' -benchtime "${LATENCY_N:-20}x" ./pkg/benchmarks/

echo "== Lambda process start → ready (target < 50 ms)"
run -bench 'ColdStart' -benchtime "${START_N:-20}x" ./pkg/benchmarks/

echo "== Lambda bootstrap sizes, linux/arm64 (target ≤ 12 MB)"
make -s build
