#!/usr/bin/env bash
# make bench-history: job history at two years' scale (see bench/history).
# Builds the new binary and the old one (commit $BENCH_OLD, default d50a63b:
# before the lookup tables and rollups), then runs bench/history. The
# database (bench_history) is kept for the next run; KEEP=0 drops it.
# ClickHouse: CH_ADDR (default 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
old=${BENCH_OLD:-d50a63b}
addr=${CH_ADDR:-127.0.0.1:9000}
mkdir -p .bench
go build -o bin/batchwatch ./cmd/batchwatch
go build -o .bench/ingest-bench ./bench/ingest
if [ ! -x ".bench/batchwatch-$old" ]; then
	rm -rf ".bench/src-$old" && mkdir -p ".bench/src-$old"
	git archive "$old" | tar -x -C ".bench/src-$old"
	(cd ".bench/src-$old" && go build -o "../batchwatch-$old" ./cmd/batchwatch)
fi
git show "$old:docs/sql.md" > ".bench/sql-$old.md"
git show "$old:deploy/grafana/dashboards/batchwatch-job-history.json" > ".bench/job-history-$old.json"
# The replay throughput needs the 250,000-event day of bench-ingest.
[ -s .bench/events-250000.jsonl ] || ./bin/batchwatch sim --scenario zendesk-day --scale 1 --speed 0 --seed 1 \
	--out .bench/events-250000.jsonl --exit-when-done --no-delivery --listen 127.0.0.1:0 --log.level warn
keep=true
[ "${KEEP:-1}" = 0 ] && keep=false
go run ./bench/history --addr "$addr" --old-batchwatch ".bench/batchwatch-$old" --old-docs ".bench/sql-$old.md" \
	--old-dashboard ".bench/job-history-$old.json" --keep="$keep" ${BENCH_FLAGS:-}
