# Wattson — common tasks. `make help` lists them.
GO ?= go

.PHONY: help run build test test-browser vet fmt-check interop-deps fuzz bench memconn scale generate

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## run the demo: the central system on :8180 with a simulated home and office
	$(GO) run ./cmd/wattson serve -demo

build: ## build bin/wattson
	$(GO) build -o bin/wattson ./cmd/wattson

test: vet fmt-check interop-deps ## vet, gofmt check, all tests with the race detector, the dashboard in a browser, short fuzz runs
	$(GO) test -race -count=1 ./...
	$(MAKE) test-browser
	$(MAKE) fuzz

# The dashboard in headless Chromium (/usr/bin/chromium; no browser is
# downloaded) against a real server and simulated chargers; screenshots in
# web/e2e/artifacts/.
test-browser: ## browser tests of the dashboard (needs npm and /usr/bin/chromium)
	npm ci --prefix web/e2e --no-audit --no-fund
	npm test --prefix web/e2e

# The interop test drives a charger built on the ocpp-rpc npm package.
interop-deps:
	@if [ ! -d interop/ocpprpc/node_modules ] && command -v npm >/dev/null; then \
		npm ci --prefix interop/ocpprpc --no-audit --no-fund; fi

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every fuzz target with an execution budget (about ten seconds each here).
# A budget in executions, not -fuzztime 10s: with a duration Go's fuzzing
# coordinator can fail a run with a bare "context deadline exceeded" when
# the deadline races a worker (go.dev/issue/75804), which is not a finding.
# FUZZTIME=30s (or 1000000x) runs every target for that instead.
FUZZ_TARGETS = \
	./ocpp:FuzzParseFrame:100000 \
	./ocpp:FuzzConnInput:6000 \
	./ocpp/v16:FuzzUnmarshal:300000 \
	./internal/jsonlex:FuzzDecoder:300000 \
	./api:FuzzRequests:30000 \
	./api:FuzzReservationRequests:30000 \
	./smartcharging/feeds:FuzzParsePrices:150000 \
	./smartcharging/feeds:FuzzParseReading:100000 \
	./files:FuzzServeHTTP:20000 \
	./csms/locallist:FuzzPlan:10000 \
	./csms/locallist:FuzzLimits:40000

fuzz: ## run every fuzz target (FUZZTIME=30s for longer)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$(if $(FUZZTIME),$(FUZZTIME),$${rest#*:}x); \
		echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $$budget $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime "$$budget" "$$pkg"; \
	done

bench: ## hot-path benchmarks (see docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem ./ocpp/... ./internal/... ./smartcharging
	$(GO) test -run '^$$' -bench . -benchtime 3x ./files

memconn: ## memory per idle connection at 10,000 connections (see docs/performance.md)
	$(GO) run ./internal/cmd/memconn -n 10000

# Every figure of "Scale on one node" in docs/performance.md, in one run of
# about 25 minutes: keep the machine otherwise idle.
PG_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
scale: ## one node at the file limit: connections, memory, throughput (SQLite, PostgreSQL), commands, reconnect storms, echo baseline; writes scale-results.md
	$(GO) run ./internal/cmd/scalebench -pg "$(PG_URL)" -out scale-results.md

generate: ## regenerate ocpp/v16 from ../shared/ocpp/schemas
	$(GO) generate ./ocpp/v16
