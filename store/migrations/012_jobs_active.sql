-- The latest state of jobs that have not finished, so "what is stuck now"
-- reads no history. Fed with every write of a job; ingest's maintenance
-- (store.Store.Maintain) merges it and deletes the rows of finished jobs, so
-- it holds the active jobs plus the ones that finished since the last pass.
-- A late event of a finished job can bring back a stale active row: queries
-- take the candidates from here and confirm them in jobs FINAL by key.
CREATE TABLE IF NOT EXISTS ${database}.jobs_active
(
    job_id          String,
    job_name        String,
    job_queue       LowCardinality(String),
    job_definition  LowCardinality(String),
    status          LowCardinality(String),
    created_at      DateTime('UTC'),
    last_event_time DateTime('UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (job_queue, job_id);
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.jobs_active_mv TO ${database}.jobs_active
AS SELECT job_id, job_name, job_queue, job_definition, status, created_at, last_event_time, version
FROM ${database}.jobs;
