# batchwatch — run `make help` for the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/batchwatch
STATICCHECK := $(GO) tool -modfile=tools/go.mod staticcheck

.PHONY: help
help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/batchwatch.
	$(GO) build -o $(BIN) ./cmd/batchwatch

.PHONY: build-run
build-run: ## Build bin/batchwatch-run, the static job wrapper to copy into job images (docs/usage.md).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/batchwatch-run ./cmd/batchwatch-run

.PHONY: deps
deps: ## Install Go, ClickHouse, Prometheus, Alertmanager, docker-compose (apt-get).
	scripts/install.sh all

.PHONY: demo
demo: ## Run the local demo stack end to end (the README's first command).
	scripts/demo.sh

.PHONY: test
test: ## Run every test, unit and integration, against real servers (the README's second command).
	scripts/test.sh

.PHONY: unit
unit: ## Unit tests only (no servers needed).
	$(GO) test -count=1 ./...

.PHONY: race
race: ## Unit tests with the race detector (needs gcc; scripts/test.sh runs it too).
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

.PHONY: lint
lint: ## gofmt, go vet and staticcheck (built from tools/go.mod).
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(STATICCHECK) -tags integration ./...

.PHONY: fuzz
fuzz: ## Fuzz the event parser (alone, and against encoding/json) and the reader, 60 s each.
	$(GO) test ./batch -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./batch -run '^$$' -fuzz '^FuzzParseMatchesReference$$' -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./batch -run '^$$' -fuzz '^FuzzReader$$' -fuzztime 60s -fuzzminimizetime 5s

.PHONY: generate
generate: build ## Regenerate committed artifacts (dashboards, alert rules, Alertmanager config, flag reference).
	$(BIN) dashboards generate
	$(GO) test ./cmd/batchwatch -run TestFlagReference -update

.PHONY: check-generated
check-generated: build ## Fail if generated files differ from the committed ones.
	$(BIN) dashboards generate --check
	$(GO) test ./cmd/batchwatch -run TestFlagReference

.PHONY: services-up services-down
services-up: ## Start ClickHouse, moto, Prometheus, Alertmanager on 127.0.0.1.
	scripts/services.sh start all
services-down: ## Stop them (by PID).
	scripts/services.sh stop all

.PHONY: loadtest
loadtest: ## Full load test: zendesk-day with faults, crashes and 10,000 bad messages (< 20 min); writes docs/loadtest.md and docs/loadtest/*.png.
	scripts/install.sh go clickhouse
	PATH="/usr/local/go/bin:$$PATH" $(GO) test -tags integration,loadtest -run TestLoadFull -count=1 -timeout 40m -v ./loadtest/

.PHONY: bench bench-ingest bench-sqs bench-exporter bench-history
bench: bench-ingest bench-sqs bench-exporter ## All benchmarks (figures go to docs/BENCHMARKS.md by hand).

bench-ingest: build ## Replay N events into ClickHouse vs clickhouse-client bulk insert (N=250000).
	scripts/bench-ingest.sh $(N)

bench-sqs: build ## Drain the 250,000-event day from the simulator's SQS: bare loop vs batchwatch ingest.
	scripts/bench-sqs.sh $(N)

bench-exporter: build ## Exporter vs ListJobs-per-scrape poller at 100,000 jobs.
	scripts/bench-exporter.sh

bench-history: build ## Two years of job history (36.5 M jobs): docs/sql.md queries and history panels before/after, table sizes, replay cost.
	scripts/bench-history.sh

.PHONY: clean
clean: ## Remove build output and service scratch folders.
	rm -rf bin .run .bench
