#!/usr/bin/env bash
# The local demo (README's first command): on a fresh Debian machine it
# installs what is missing, starts ClickHouse, the AWS simulator (Batch, SQS,
# EventBridge and Cost Explorer on 127.0.0.1:4566), batchwatch ingest and the
# exporter, submits 1,000 model builds in three size tiers with the
# submitter, waits for the simulated day to finish and prints what landed in
# ClickHouse and what the exporter says, against the simulator's truth.
#
# Environment: DEMO_SPEED (simulated seconds per second, default 120),
# DEMO_KEEP=1 to leave everything running afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install.sh go clickhouse prometheus
export PATH="/usr/local/go/bin:$PATH"
run=$root/.run/demo
mkdir -p "$run"
speed=${DEMO_SPEED:-120}
db=batchwatch_demo
sim=http://127.0.0.1:4566
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building batchwatch"
go build -o bin/batchwatch ./cmd/batchwatch
bw=$root/bin/batchwatch

started=()
pids=()
cleanup() {
  if [ -n "${DEMO_KEEP:-}" ]; then
    echo "DEMO_KEEP set: leaving pids ${pids[*]:-} and ${started[*]:-} running"
    return
  fi
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ ${#started[@]} -gt 0 ]; then scripts/services.sh stop "${started[@]}"; fi
}
trap cleanup EXIT
if ! scripts/services.sh status clickhouse | grep -q running; then
  scripts/services.sh start clickhouse
  started+=(clickhouse)
fi

# The simulator plays AWS; every batchwatch component finds it the AWS way.
export AWS_ENDPOINT_URL=$sim AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
unset AWS_PROFILE AWS_SESSION_TOKEN || true

# start_alerting generates the rules and the Alertmanager configuration from
# deploy/alerts/demo.yml (deploy/alerts/config.yml's defaults, windows
# shortened) and starts the pager stand-in, Alertmanager and Prometheus.
start_alerting() {
  local am
  am=$(command -v prometheus-alertmanager || command -v alertmanager)
  rm -rf "$run/alerting" && mkdir -p "$run/alerting/am"
  "$bw" dashboards generate --alerts.config deploy/alerts/demo.yml --out "$run/alerting/dashboards" \
    --rules "$run/alerting/rules.yml" --alertmanager "$run/alerting/am/alertmanager.yml" --log.level warn
  cat >"$run/alerting/prometheus.yml" <<EOF3
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: [$run/alerting/rules.yml]
alerting: {alertmanagers: [{static_configs: [{targets: ["127.0.0.1:19093"]}]}]}
scrape_configs:
  - {job_name: batchwatch-exporter, static_configs: [{targets: ["127.0.0.1:9847"]}]}
  - {job_name: batchwatch-ingest, static_configs: [{targets: ["127.0.0.1:9848"]}]}
EOF3
  "$bw" pager --listen 127.0.0.1:5001 --log.level warn >"$run/pager.log" 2>&1 &
  pids+=($!)
  "$am" --config.file="$run/alerting/am/alertmanager.yml" --storage.path="$run/alerting/am/data" \
    --web.listen-address=127.0.0.1:19093 --cluster.listen-address= >"$run/alertmanager.log" 2>&1 &
  pids+=($!)
  prometheus --config.file="$run/alerting/prometheus.yml" --storage.tsdb.path="$run/alerting/prometheus-data" \
    --web.listen-address=127.0.0.1:19090 --rules.alert.resend-delay=2s >"$run/prometheus.log" 2>&1 &
  pids+=($!)
  wait_http http://127.0.0.1:19093/-/ready 30
  wait_http http://127.0.0.1:19090/-/ready 30
}

wait_http() { # url seconds
  for ((i = 0; i < $2 * 10; i++)); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

say "AWS simulator: scenario demo (three tiers, three priority queues), speed ${speed}x"
"$bw" sim --scenario demo --speed "$speed" --seed 7 --listen 127.0.0.1:4566 --log.level warn >"$run/sim.log" 2>&1 &
pids+=($!)
wait_http "$sim/-/healthy" 30

say "batchwatch ingest (SQS → ClickHouse database $db)"
clickhouse-client -q "DROP DATABASE IF EXISTS $db"
"$bw" ingest --sqs.queue-url "$sim/123456789012/batchwatch-ingest" --clickhouse.database "$db" \
  --web.listen-address 127.0.0.1:9848 --reconcile.interval 2m --log.level warn >"$run/ingest.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:9848/-/ready 60

say "batchwatch exporter (list-then-watch, :9847)"
"$bw" exporter --exporter.sqs-queue-url "$sim/123456789012/batchwatch-exporter" --exporter.resync-interval 1m \
  --exporter.sqs-attributes-queue "$sim/123456789012/batchwatch-ingest" --exporter.sqs-attributes-interval 10s \
  --exporter.tier-tag tier --exporter.cost-tags product,tier --exporter.cost-refresh-interval 2m \
  --web.listen-address 127.0.0.1:9847 --log.level warn >"$run/exporter.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:9847/-/ready 60

say "alerting: Prometheus (:19090) with the rules and Alertmanager (:19093) with the routing of deploy/alerts/demo.yml, batchwatch pager (:5001)"
start_alerting

say "batchwatch submit: 1,000 model builds, sized into tiers, as array jobs"
runid=demo-$(date -u +%Y%m%dT%H%M%S)
"$bw" submit --plan submitter/testdata/zendesk-day/plan.yaml --items submitter/testdata/zendesk-day/items.jsonl \
  --run-id "$runid" --manifest-url "file://$run/manifests" --clickhouse.database "$db" --no-progress \
  --summary.json --web.listen-address 127.0.0.1:0 --log.level warn >"$run/submit-summary.json"

say "waiting for the simulated builds to finish (about 1-3 minutes)"
deadline=$((SECONDS + 600))
while :; do
  left=$(curl -fsS "$sim/sim/truth" | grep -vc '"status":"\(SUCCEEDED\|FAILED\)"' || true)
  total=$(curl -fsS "$sim/sim/truth" | grep -c . || true)
  printf '\r  %s of %s jobs still waiting or running   ' "$left" "$total"
  [ "$left" = 0 ] && [ "$total" != 0 ] && break
  [ $SECONDS -gt $deadline ] && { echo; echo "timed out" >&2; exit 1; }
  sleep 2
done
echo
say "waiting for ingest to catch up"
for ((i = 0; i < 120; i++)); do
  stored=$(clickhouse-client -q "SELECT count() FROM $db.jobs FINAL WHERE status IN ('SUCCEEDED','FAILED')")
  [ "$stored" = "$total" ] && break
  sleep 1
done
sleep 3 # one more exporter event pass

q() { clickhouse-client --format PrettyCompactMonoBlock -q "$1"; }
say "submitter summary"
cat "$run/submit-summary.json"; echo
say "ClickHouse: jobs by queue and status (jobs FINAL: $stored, simulator truth: $total)"
q "SELECT job_queue, status, count() AS jobs FROM $db.jobs FINAL GROUP BY job_queue, status ORDER BY job_queue, status"
say "ClickHouse: items per tier, traced from the submitter's journal to the jobs"
q "SELECT s.tier, count() AS items, countIf(j.status = 'SUCCEEDED') AS succeeded, countIf(j.status = 'FAILED') AS failed
   FROM (SELECT * FROM $db.submissions FINAL WHERE run_id = '$runid') AS s
   ANY LEFT JOIN (SELECT job_id, status FROM $db.jobs FINAL) AS j USING job_id
   GROUP BY s.tier ORDER BY s.tier" || true
say "ClickHouse: failures by class, retries, p95 queue wait and vCPU-hours per tier"
q "SELECT failure_class, count() AS jobs FROM $db.jobs FINAL WHERE status = 'FAILED' GROUP BY failure_class ORDER BY jobs DESC"
q "SELECT job_queue, round(quantile(0.95)(queue_wait_ms) / 1000) AS p95_wait_s, sum(attempts - 1) AS retries FROM $db.jobs FINAL WHERE queue_wait_ms >= 0 AND is_array_parent = 0 GROUP BY job_queue ORDER BY job_queue"
q "SELECT tag_values[indexOf(tag_keys, 'tier')] AS tier, round(sum(vcpus * duration_ms) / 3600000, 1) AS vcpu_hours, count() AS attempts FROM $db.attempts FINAL WHERE finished = 1 GROUP BY tier ORDER BY tier"
say "batchwatch rightsize: what the model builds used against what they asked for, top savings first"
"$bw" rightsize --clickhouse.database "$db" --min-attempts 5 --log.level warn | head -8 || true
say "exporter: queue depth, finished jobs and estimated cost (Prometheus metrics)"
curl -fsS http://127.0.0.1:9847/metrics | grep -E '^batchwatch_(queue_jobs\{.*status="(RUNNABLE|RUNNING|SUCCEEDED|FAILED)"|jobs_finished_total|job_estimated_cost_usd_total)' | grep -v ' 0$' | sort | head -40
say "ingest: its own metrics"
curl -fsS http://127.0.0.1:9848/metrics | grep -E '^batchwatch_ingest_(messages_received_total|events_inserted_total|duplicates_total|quarantined_total)'
say "the page: a bad release of model-export fails every job of queue zd-low"
curl -fsS -X POST "$sim/v1/submitjob" -H 'Content-Type: application/json' \
  -d '{"jobName":"model-export-2026-12-rc1","jobQueue":"zd-low","jobDefinition":"model-export","arrayProperties":{"size":60},"tags":{"team":"ml"}}' >/dev/null
echo "  60 jobs submitted; waiting for Prometheus to fire BatchwatchJobFailureSpike and Alertmanager to page"
for ((i = 0; i < 180; i++)); do
  grep -q '=== PAGE' "$run/pager.log" && break
  sleep 1
done
if grep -q '=== PAGE' "$run/pager.log"; then
  sleep 2 # the webhook copy of the same page
  echo
  cat "$run/pager.log"
else
  echo "no page within 3 minutes; see $run/prometheus.log, $run/alertmanager.log and http://127.0.0.1:19090/alerts" >&2
  exit 1
fi

cat <<EOF2

Done. Explore the job history with SQL (docs/sql.md):  clickhouse-client -d $db
Logs are in $run. Set DEMO_KEEP=1 to keep the stack running after the demo:
Prometheus http://127.0.0.1:19090/alerts, Alertmanager http://127.0.0.1:19093.
EOF2
