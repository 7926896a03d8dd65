-- Daily rollups of finished and unfinished jobs (jobs_daily) and of attempts
-- (usage_daily), one partition per day of creation of the jobs they count.
-- They are not fed by materialized views: ingest writes a job's row again in
-- every batch that touches it, so a view would count rewrites. Instead
-- store.Store.RefreshRollups recomputes a day's partition from jobs_by_day /
-- attempts_by_day FINAL (exact: one row per job, its latest state) whenever
-- that day's source partition changed, into the *_stage table, and swaps it
-- in with REPLACE PARTITION. Readers sum the rows; quantiles merge states.
-- Tags are kept as the jobs' tag arrays, so any tag key can be grouped by.
CREATE TABLE IF NOT EXISTS ${database}.jobs_daily
(
    created_day     Date,
    stopped_day     Date,
    account         String,
    region          LowCardinality(String),
    job_queue       LowCardinality(String),
    job_definition  LowCardinality(String),
    tag_keys        Array(String),
    tag_values      Array(String),
    status          LowCardinality(String),
    failure_class   LowCardinality(String),
    is_array_parent UInt8,
    jobs            UInt64,
    jobs_started    UInt64,
    attempts        UInt64,
    retries         UInt64,
    jobs_retried    UInt64,
    queue_wait      AggregateFunction(quantilesTDigestIf(0.5, 0.95, 0.99), Int64, UInt8),
    run_time        AggregateFunction(quantilesTDigestIf(0.5, 0.95, 0.99), Int64, UInt8)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(created_day)
ORDER BY (stopped_day, job_queue, job_definition, status, failure_class);
CREATE TABLE IF NOT EXISTS ${database}.jobs_daily_stage AS ${database}.jobs_daily;
CREATE TABLE IF NOT EXISTS ${database}.usage_daily
(
    created_day     Date,
    started_day     Date,
    account         String,
    region          LowCardinality(String),
    job_queue       LowCardinality(String),
    job_definition  LowCardinality(String),
    tag_keys        Array(String),
    tag_values      Array(String),
    failure_class   LowCardinality(String),
    finished        UInt8,
    attempts        UInt64,
    timed_attempts  UInt64,
    spot_reclaims   UInt64,
    vcpu_ms         Float64,
    memory_mib_ms   Float64,
    gpu_ms          Float64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(created_day)
ORDER BY (started_day, job_queue, job_definition, failure_class);
CREATE TABLE IF NOT EXISTS ${database}.usage_daily_stage AS ${database}.usage_daily;
-- What RefreshRollups last computed: per rollup and source partition, the
-- newest source part it saw and when it started.
CREATE TABLE IF NOT EXISTS ${database}.rollup_state
(
    rollup       String,
    partition    String,
    seen_max     DateTime('UTC'),
    started_at   DateTime('UTC'),
    refreshed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY (rollup, partition);
-- Back-fill progress (batchwatch migrate backfill): one row per source table
-- partition copied into the new tables.
CREATE TABLE IF NOT EXISTS ${database}.backfill_state
(
    source    String,
    partition String,
    rows      UInt64,
    done_at   DateTime('UTC')
)
ENGINE = ReplacingMergeTree(done_at)
ORDER BY (source, partition);
