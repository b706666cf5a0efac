#!/usr/bin/env bash
# Installs what Elevate's local stack and tests need on a fresh Debian machine.
# Nothing already on the machine is trusted for its version:
#   - Debian packages: installed when the command is missing or older than the
#     version the project needs (Java 17, Node 18);
#   - npm packages: pinned by scripts/package-lock.json; reinstalled whenever the
#     lockfile differs from the one the installed tree was made from;
#   - Go modules and Go tools (staticcheck, govulncheck, aws-lambda-rie): pinned in go.mod/go.sum
#     (`tool` directives) and built from there (go run, go build), so no binary
#     in $GOPATH/bin counts.
#   scripts/deps.sh            Debian packages + npm tooling + Go modules and tools
#   scripts/deps.sh browser    also Debian's Chromium (for the browser e2e test)
#   scripts/deps.sh tools      also compile the Go tools make test runs
#   scripts/deps.sh system     only the Debian and npm part (with browser: Chromium too)
#   scripts/deps.sh go         only the Go part
# The two parts share nothing and mostly wait on the network, so by default
# they run side by side (scripts/test.sh runs the system part beside go vet).
set -euo pipefail
cd "$(dirname "$0")/.."

browser="" tools="" part=all
for a in "$@"; do
  case $a in
    browser) browser=1 ;;
    tools) tools=1 ;;
    system | go) part=$a ;;
    *) echo "deps: unknown argument $a (browser, tools, system, go)" >&2; exit 2 ;;
  esac
done

# major VERSION_COMMAND... prints the first number in the command's version output.
major() { "$@" 2>&1 | grep -oE '[0-9]+' | head -1; }

system_deps() {
  need_apt=()
  if ! command -v java >/dev/null || (($(major java -version) < 17)); then
    need_apt+=(openjdk-17-jre-headless)
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null || (($(major node --version) < 18)); then
    need_apt+=(nodejs npm)
  fi
  command -v curl >/dev/null || need_apt+=(curl)
  # go test -race needs cgo, so a C compiler.
  command -v gcc >/dev/null || need_apt+=(gcc)
  if [[ -n $browser ]] && ! command -v chromium >/dev/null; then
    need_apt+=(chromium)
  fi
  if ((${#need_apt[@]})); then
    echo "deps: apt-get install ${need_apt[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq -o DPkg::Lock::Timeout=600
    # Another apt (an unattended upgrade) may hold the lock: wait for it.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -o DPkg::Lock::Timeout=600 -y -qq "${need_apt[@]}" >/dev/null
  fi

  # npm packages pinned by scripts/package-lock.json. The stamp is the lockfile the
  # installed tree came from: a changed pin reinstalls, whatever is on the machine.
  stamp=scripts/node_modules/.elevate-lock
  if [[ ! -f $stamp ]] || ! cmp -s scripts/package-lock.json "$stamp"; then
    echo "deps: npm ci (scripts/)"
    (cd scripts && npm ci --no-audit --no-fund --loglevel=error)
    cp scripts/package-lock.json "$stamp"
  fi
}

go_deps() {
  go mod download
  # With tools (make test), the tools go.mod pins that the tests run are
  # compiled into the build cache now, so that no test pays for them and two
  # test binaries never build the Lambda runtime interface emulator side by
  # side. govulncheck is built only when its database is reachable
  # (scripts/vulncheck.sh); make run needs none of them.
  if [[ -n $tools ]]; then
    go run honnef.co/go/tools/cmd/staticcheck -version >/dev/null
    go build -o /dev/null github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
  fi
}

case $part in
  system) system_deps ;;
  go) go_deps ;;
  all)
    # The system part's output is held until it ends, so the two never interleave.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    system_deps >"$log" 2>&1 &
    sys=$!
    go_deps
    if ! wait "$sys"; then
      cat "$log"
      echo "deps: installing the Debian or npm packages failed (above)" >&2
      exit 1
    fi
    cat "$log"
    ;;
esac
