#!/usr/bin/env bash
# make bench-sqs: the simulator's queues filled with the 250,000-event day;
# in the same run a bare receive+delete loop (the ceiling) and batchwatch
# ingest draining into ClickHouse; messages/s of both and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh go clickhouse
export PATH="/usr/local/go/bin:$PATH"
started=
if ! scripts/services.sh status clickhouse | grep -q running; then scripts/services.sh start clickhouse; started=1; fi
trap '[ -n "$started" ] && scripts/services.sh stop clickhouse' EXIT
go build -o bin/batchwatch ./cmd/batchwatch
go run ./bench/sqs --scale "${SCALE:-1}" ${BENCH_FLAGS:-}
