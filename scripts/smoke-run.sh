#!/usr/bin/env bash
# Proves the README's first command: starts `make run` from this checkout,
# waits for /healthz, makes one authorized API call with the token it prints
# (and one without, which the local JWT authorizer must refuse), then stops it
# with Ctrl-C and checks that nothing it started is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${SMOKE_PORT:-18080}
url="http://127.0.0.1:$port"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "smoke: make run (ELEVATE_ADDR=127.0.0.1:$port)"
ELEVATE_ADDR="127.0.0.1:$port" setsid make run >"$log" 2>&1 &
pgid=$!

stop() {
  kill -INT -- -"$pgid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    pgrep -g "$pgid" >/dev/null || return 0
    sleep 0.5
  done
  echo "smoke: processes of make run still alive after Ctrl-C:"; pgrep -a -g "$pgid" || true
  kill -KILL -- -"$pgid" 2>/dev/null || true
  return 1
}
fail() { echo "smoke: FAIL: $*"; echo "--- make run output:"; tail -n 40 "$log"; stop || true; exit 1; }

# A fresh machine installs npm packages and compiles first: allow it time.
for i in $(seq 1 600); do
  curl -fsS -m 2 "$url/healthz" >/dev/null 2>&1 && break
  kill -0 "$pgid" 2>/dev/null || fail "make run exited before serving /healthz"
  ((i == 600)) && fail "no /healthz after 600 s"
  sleep 1
done
echo "smoke: /healthz answered"

token=$(sed -n 's/^export ELEVATE_TOKEN=//p' "$log" | tr -d "'\"")
[[ -n $token ]] || fail "make run printed no ELEVATE_TOKEN export"

code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$url/v1/settings")
[[ $code == 401 ]] || fail "GET /v1/settings without a token answered $code, want 401"

body=$(curl -fsS -m 10 -H "Authorization: Bearer $token" "$url/v1/settings") ||
  fail "GET /v1/settings with the printed token failed"
grep -q '"enabled"' <<<"$body" || fail "GET /v1/settings answered without settings: $body"
echo "smoke: authorized GET /v1/settings answered the settings"

stop || fail "make run did not stop cleanly"
echo "smoke: make run stopped cleanly"
