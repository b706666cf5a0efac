# Elevate — see README.md. Everything installs what it needs first (scripts/deps.sh).
SHELL := /bin/bash
GO ?= go
# Every directory under functions/ (pkg/manifest lists the same; a test holds them equal).
FUNCTIONS := $(notdir $(wildcard functions/*))
# TTL deletion in DynamoDB Local takes about a minute; those tests run as their own group.
TTL_TESTS := ^TestTTL
# The machine's Node 20 works for jsii; don't warn about its support window on every synth.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Everything builds as make build builds the functions: without cgo, with
# -trimpath. go vet, staticcheck, the tests, make run, the tools and the
# Lambda builds then share one compile of every package (the Lambda builds
# differ only in aws-lambda-go's lambda.norpc tag); the host's cgo default
# made it two, about 150 s of CPU on a fresh machine. The -race group turns
# cgo back on (unit-race).
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(filter-out -trimpath,$(GOFLAGS)) -trimpath)

# Where make build puts the Lambda binaries and synth the cloud assembly.
BUILD_DIR ?= build
# The functions' architecture: the stack declares arm64. make test builds for
# its own machine's (LAMBDA_GOARCH=$(go env GOARCH)), which the aws-lambda-rie
# tests build too, so the two share one compile of every function.
LAMBDA_GOARCH ?= arm64
CDK_OUT ?= cdk.out
# Extra CDK arguments for synth, bootstrap and deploy, e.g.
#   CDK_CONTEXT='-c elevate:senderDomain=mail.example.net -c elevate:alarmEmail=oncall@example.net'
CDK_CONTEXT ?=
CDK := scripts/node_modules/.bin/cdk
CDK_APP_ARGS = --no-notices -o $(CDK_OUT) -c elevate:assetDir=$(BUILD_DIR) $(CDK_CONTEXT)

.PHONY: all deps deps-browser run test check fmt vet staticcheck unit unit-plain unit-race ttl vuln bench build synth bootstrap deploy clean load

all: test

deps:
	@scripts/deps.sh

deps-browser:
	@scripts/deps.sh browser

## run: the local stack serving the API at http://127.0.0.1:8080
run: deps
	$(GO) run ./cmd/elevate-local

## test: formatting, vet, staticcheck, every test, govulncheck when reachable.
## scripts/test.sh runs the targets below (deps-browser, check, unit, ttl, vuln)
## with the ones that mostly wait in the background, and times each.
test:
	@scripts/test.sh

# Extra go test flags for unit and ttl. scripts/test.sh passes -vet=off, as
# go vet ./... has run every analyzer go test's own vet would.
GOTESTFLAGS ?=

check: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './scripts/node_modules/*')); \
	  if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# go run, not go tool: go tool ignores GOFLAGS, so under -trimpath it would
# compile the standard library a second time for the tool alone.
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...

# The race detector runs on every package but those whose tests mostly wait
# on DynamoDB Local through the whole stack (and the CDK app, whose jsii
# bindings take minutes to build instrumented): there it made those tests 2-4
# times slower. pkg/app's concurrent decisions and the audit query's workers
# run under it; the stream poller's tests (pkg/local) do not. Nor do the
# packages that run no test of concurrent code in make test (benchmarks and
# the load test only run when asked; functions/ and cmd/elevate-local hold
# no tests): instrumented, they compiled the local stack again for nothing,
# about 64 s of CPU.
NO_RACE := /(infra|infra/stack|cmd/elevate|cmd/elevate-local|functions/[a-z]+|pkg/(benchmarks|dynamo|e2e|emulator|httpapi|load|local|notify|wire))$$
# go test starts packages in the order given: the longest test binaries first,
# so that none of them runs on alone at the end while the other core idles.
SLOW_FIRST := ./pkg/local ./infra/stack ./pkg/httpapi ./cmd/elevate ./pkg/dynamo ./pkg/e2e

# unit: the two groups one after the other (scripts/test.sh runs them side by side).
unit: unit-plain unit-race

unit-plain:
	@pkgs=$$($(GO) list $(SLOW_FIRST) ./... | grep -E '$(NO_RACE)') && \
	  $(GO) test -count=1 $(GOTESTFLAGS) -timeout 20m -skip '$(TTL_TESTS)' $$pkgs

# The race detector needs cgo, whatever the environment says.
unit-race:
	@pkgs=$$($(GO) list ./... | grep -vE '$(NO_RACE)') && \
	  CGO_ENABLED=1 $(GO) test -race -count=1 $(GOTESTFLAGS) -timeout 20m -skip '$(TTL_TESTS)' $$pkgs

# Only the packages that hold a TTL test: go test ./... would link every
# test binary (the CDK app's among them) to run nothing in most.
TTL_PKGS = $(sort $(dir $(shell grep -rlE --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git '^func $(TTL_TESTS:^%=%)' .)))

ttl:
	$(GO) test -count=1 $(GOTESTFLAGS) -timeout 10m -run '$(TTL_TESTS)' $(TTL_PKGS)

vuln:
	@scripts/vulncheck.sh

## bench: benchmarks, reported side by side
bench: deps
	@scripts/bench.sh

## load: 200 requesters and 20 approvers against the local stack for 60 s, then
## checks the API and the audit trail (LOAD_REQUESTERS, LOAD_APPROVERS, LOAD_DURATION)
load: deps
	ELEVATE_LOAD=1 $(GO) test -count=1 -v -timeout 30m -run '^TestLoad$$' ./pkg/load/

## build: Lambda bootstrap binaries (linux/arm64) under build/<function>/bootstrap
build:
	@for f in $(FUNCTIONS); do \
	  mkdir -p $(BUILD_DIR)/$$f; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -trimpath -tags lambda.norpc -ldflags "-s -w" -o $(BUILD_DIR)/$$f/bootstrap ./functions/$$f || exit 1; \
	  printf '%-10s %s bytes\n' $$f $$(stat -c %s $(BUILD_DIR)/$$f/bootstrap); \
	done

## synth: the CloudFormation template, offline (cdk.out/)
synth: deps build
	$(CDK) synth --quiet $(CDK_APP_ARGS)

## bootstrap: build, synthesize offline (the app's own checks), then `cdk bootstrap`
## the account and region in the AWS environment. BOOTSTRAP_DRY_RUN=1 stops
## after the synth, before anything contacts AWS. See infra/README.md.
bootstrap: synth
	@if [[ -n "$(BOOTSTRAP_DRY_RUN)" ]]; then \
	  echo "bootstrap: dry run: the app synthesized into $(CDK_OUT); not running: $(CDK) bootstrap $(CDK_APP_ARGS)"; \
	else \
	  $(CDK) bootstrap $(CDK_APP_ARGS); \
	fi

## deploy: deploy to the AWS account in the environment (see infra/README.md)
deploy: deps build
	$(CDK) deploy --require-approval broadening $(CDK_APP_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(CDK_OUT)
