#!/usr/bin/env bash
# Installs what Elevate's local stack and tests need on a fresh Debian machine.
# Idempotent: each step is skipped when its result is already present.
#   scripts/deps.sh            Node tooling + Go modules + Go tools
#   scripts/deps.sh browser    also Debian's Chromium (for the browser e2e test)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v node >/dev/null || need_apt+=(nodejs npm)
if [[ "${1:-}" == "browser" ]] && ! command -v chromium >/dev/null; then
  need_apt+=(chromium)
fi
if ((${#need_apt[@]})); then
  echo "deps: apt-get install ${need_apt[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm packages pinned by scripts/package-lock.json.
stamp=scripts/node_modules/.elevate-lock
if [[ ! -f $stamp ]] || ! cmp -s scripts/package-lock.json "$stamp"; then
  echo "deps: npm ci (scripts/)"
  (cd scripts && npm ci --no-audit --no-fund --loglevel=error)
  cp scripts/package-lock.json "$stamp"
fi

go mod download

GOBIN=$(go env GOPATH)/bin
if [[ ! -x $GOBIN/staticcheck ]]; then
  echo "deps: go install staticcheck"
  go install honnef.co/go/tools/cmd/staticcheck@2025.1.1
fi
if [[ ! -x $GOBIN/govulncheck ]]; then
  echo "deps: go install govulncheck"
  go install golang.org/x/vuln/cmd/govulncheck@v1.1.4 || echo "deps: govulncheck unavailable; it will be skipped"
fi
