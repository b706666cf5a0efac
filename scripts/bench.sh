#!/usr/bin/env bash
# Runs Elevate's benchmarks side by side in one run; figures are ratios, not
# absolute times (these machines are shared and noisy).
#   scripts/bench.sh            everything
#   BENCH=Authorize scripts/bench.sh   a subset (go test -bench regexp)
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${BENCH:-.}
count=${COUNT:-1}
out=$(mktemp)
echo "== pure decision function"
go test -run '^$' -bench "$pattern" -benchmem -count "$count" ./pkg/elevate/ | tee -a "$out"
echo "== local stack: authorize via gateway vs DynamoDB floor, email and audit latency, Lambda start-up"
go test -run '^$' -bench "$pattern" -benchmem -count "$count" -timeout 20m ./pkg/benchmarks/ | tee -a "$out"
echo "== Lambda bootstrap sizes (linux/arm64, -tags lambda.norpc -ldflags '-s -w')"
make -s build
