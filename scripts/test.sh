#!/usr/bin/env bash
# make test: every check, in phases, overlapping the work that mostly waits
# with the work that needs the CPU. Nothing is left out of the sequential
# order (deps, check, unit, ttl, vuln); only when each runs changes:
#   deps    scripts/deps.sh's Go part (modules, and the tools staticcheck and
#           aws-lambda-rie compiled) first;
#           its Debian and npm part (network-bound) in the background beside
#           go vet, joined before any test starts
#   check   gofmt, go vet ./..., staticcheck ./... (make check's three parts)
#   build   from the end of go vet, make build for this machine's architecture
#           (the Lambda binaries the tests build again from the cache)
#   ttl     from the end of go vet, the ^TestTTL group, which waits about a minute per test on DynamoDB
#           Local's TTL sweep, in the background beside unit (each test binary
#           starts its own DynamoDB Local on a free port, so nothing is shared)
#   vuln    govulncheck when its database is reachable, in the background too
#   unit    every other test, with go test's own vet off (go vet ./... ran all
#           of its analyzers): the non-race group, and the -race group in the
#           background beside it
# A background job's output is printed whole when it is joined, and its
# failure fails make test. Each phase prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
export ELEVATE_E2E_REQUIRE_BROWSER=1
# Every test JVM (DynamoDB Local: one per test binary, more in the fault
# tests) lives for seconds to a few minutes, where C2's compiles and G1's
# concurrent threads cost more CPU than they ever win back: with C1 only and
# the serial collector, a DynamoDB Local start took 3.3 s of CPU instead of
# 6.7 s, and 1,500 conditional puts and 500 queries 3.6-5.0 s instead of 9.1 s.
# make run, bench and load keep the JVM's defaults.
export JDK_JAVA_OPTIONS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# make test exports CGO_ENABLED=0 and GOFLAGS=-trimpath (the Makefile says
# why): every phase below builds with them.
MAKE=(make --no-print-directory)

t0=$(date +%s)
logs=$(mktemp -d)
declare -A pid
# Background jobs run in their own session, so stopping one stops its test
# binaries (and their emulators) with it.
cleanup() {
  for name in "${!pid[@]}"; do
    kill -TERM -- -"${pid[$name]}" 2>/dev/null || true
  done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "test: $*"; }

# fg NAME CMD...: run a phase in the foreground and say how long it took.
fg() {
  local name=$1 s=$(date +%s)
  shift
  say "$name: start"
  if ! "$@"; then
    say "$name: FAILED after $(($(date +%s) - s)) s"
    exit 1
  fi
  say "$name: took $(($(date +%s) - s)) s"
}

# bg NAME CMD...: start a phase in the background, its output to a log.
bg() {
  local name=$1
  shift
  say "$name: start (background; its output follows when it ends)"
  # The job times itself: it may end long before it is joined.
  setsid bash -c 's=$(date +%s); "${@:2}"; rc=$?; echo $(($(date +%s) - s)) >"$1"; exit $rc' \
    bg "$logs/$name.took" "$@" >"$logs/$name" 2>&1 &
  pid[$name]=$!
}

# join NAME: wait for a background phase, print its output, fail loudly.
join() {
  local name=$1 rc=0
  wait "${pid[$name]}" || rc=$?
  unset "pid[$name]"
  local took
  took=$(cat "$logs/$name.took" 2>/dev/null || echo "?")
  echo "----- $name (background) output -----"
  cat "$logs/$name"
  echo "----- end of $name -----"
  if ((rc != 0)); then
    say "$name: FAILED (exit $rc) after $took s; its output is above"
    exit 1
  fi
  say "$name: took $took s (in the background)"
}

fg deps-go scripts/deps.sh go tools
bg deps-system scripts/deps.sh system browser
fg fmt "${MAKE[@]}" fmt
fg vet "${MAKE[@]}" vet
join deps-system
# go vet has compiled every package: the TTL group's test binaries now cost
# little, and its waits overlap staticcheck and unit.
bg ttl "${MAKE[@]}" ttl GOTESTFLAGS=-vet=off
bg vuln "${MAKE[@]}" vuln
# make build for this machine's architecture: the aws-lambda-rie tests and
# the make bootstrap test build the same binaries, and would otherwise compile
# them twice, side by side, when they run at the same time.
bg build "${MAKE[@]}" build BUILD_DIR="$logs/lambda" LAMBDA_GOARCH="$(go env GOARCH)"
fg staticcheck "${MAKE[@]}" staticcheck
join build
# The -race group compiles everything again, instrumented, while the
# non-race group's test binaries mostly wait on their emulators: side by
# side, each fills the other's idle time.
bg unit-race "${MAKE[@]}" unit-race GOTESTFLAGS=-vet=off
fg unit-plain "${MAKE[@]}" unit-plain GOTESTFLAGS=-vet=off
join unit-race
join ttl
join vuln
say "all passed in $(($(date +%s) - t0)) s"
