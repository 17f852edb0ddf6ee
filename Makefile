# Wattson — common tasks. `make help` lists them.
GO ?= go
FUZZTIME ?= 10s

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

fuzz: ## run every fuzz target for FUZZTIME each
	$(GO) test -run '^$$' -fuzz '^FuzzParseFrame$$' -fuzztime $(FUZZTIME) ./ocpp
	$(GO) test -run '^$$' -fuzz '^FuzzConnInput$$' -fuzztime $(FUZZTIME) ./ocpp
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime 40s ./ocpp/v16
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime $(FUZZTIME) ./internal/jsonlex
	$(GO) test -run '^$$' -fuzz '^FuzzRequests$$' -fuzztime $(FUZZTIME) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzReservationRequests$$' -fuzztime $(FUZZTIME) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzParsePrices$$' -fuzztime $(FUZZTIME) ./smartcharging/feeds
	$(GO) test -run '^$$' -fuzz '^FuzzParseReading$$' -fuzztime $(FUZZTIME) ./smartcharging/feeds
	$(GO) test -run '^$$' -fuzz '^FuzzServeHTTP$$' -fuzztime $(FUZZTIME) ./files
	$(GO) test -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime $(FUZZTIME) ./csms/locallist
	$(GO) test -run '^$$' -fuzz '^FuzzLimits$$' -fuzztime $(FUZZTIME) ./csms/locallist

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
