#!/usr/bin/env bash
# make bench-ingest [N=250000]: generate N realistic events with the simulator
# (zendesk-day), then in the same run replay them with batchwatch and
# bulk-insert them with clickhouse-client; print events/s and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-250000}
scripts/install.sh go clickhouse
export PATH="/usr/local/go/bin:$PATH"
started=
if ! scripts/services.sh status clickhouse | grep -q running; then scripts/services.sh start clickhouse; started=1; fi
trap '[ -n "$started" ] && scripts/services.sh stop clickhouse' EXIT
go build -o bin/batchwatch ./cmd/batchwatch
go run ./bench/ingest --n "$n" --events ".bench/events-$n.jsonl" ${BENCH_FLAGS:-}
