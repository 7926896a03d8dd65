#!/usr/bin/env bash
# make bench-exporter: the simulator with exporter-100k (100,000 jobs in flight
# on 50 queues), batchwatch exporter (its own process) and a ListJobs-per-scrape
# poller side by side: Batch API calls of each and the ratio, scrape time,
# exporter RSS, gauges against the simulator's truth. DURATION=20m by default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh go
export PATH="/usr/local/go/bin:$PATH"
mkdir -p .bench
go build -o bin/batchwatch ./cmd/batchwatch
go run ./bench/exporter --batchwatch bin/batchwatch --duration "${DURATION:-20m}" --json .bench/exporter.json ${BENCH_FLAGS:-}
