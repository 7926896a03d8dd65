-- The submitter's journal: one row per (run, item, kind, attempt), the latest
-- state winning by version (a strictly increasing time in microseconds), so
-- read with FINAL. A row is written "pending" before SubmitJob and
-- "submitted" (with the job id), "failed" or "rejected" after; escalation
-- adds the next attempt one tier up and marks the previous one "escalated".
-- Partitioned by the run's start time, which never changes for a run, so
-- every version of a row lands in the same partition and FINAL sees them all.
--
-- Join to the job history: jobs.job_id = submissions.job_id (array children
-- are "<array_job_id>:<array_index>", as Batch names them), or
-- jobs.array_parent_id = array_job_id AND jobs.array_index = array_index.
CREATE TABLE IF NOT EXISTS ${database}.submissions
(
    run_id          String,
    item_key        String,
    kind            LowCardinality(String),
    attempt         UInt16,
    run_started_at  DateTime('UTC'),
    product         LowCardinality(String),
    tier            LowCardinality(String),
    priority        LowCardinality(String),
    job_queue       LowCardinality(String),
    job_definition  LowCardinality(String),
    job_name        String,
    job_id          String,
    array_job_id    String,
    array_index     Int32,
    array_size      UInt32,
    size            Float64,
    manifest        String,
    state           LowCardinality(String),
    error           String,
    submitted_at_ms Int64,
    updated_at      DateTime('UTC'),
    updated_at_ms   Int64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(run_started_at)
ORDER BY (run_id, item_key, kind, attempt);
