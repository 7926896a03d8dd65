-- jobs and attempts again, without the wide columns, partitioned by the DAY
-- of the job's creation (jobs and attempts: by month). Questions about a
-- recent window ("yesterday", "the last 24 hours", a dashboard's range) read
-- only the few daily partitions that can hold the answer, with FINAL: a
-- job's created_at never changes, so all versions of a job's row sit in one
-- partition and FINAL keeps exactly its latest state, as in jobs. These are
-- also the sources of the daily rollups (013).
CREATE TABLE IF NOT EXISTS ${database}.jobs_by_day
(
    job_id           String,
    job_name         String,
    job_queue        LowCardinality(String),
    job_definition   LowCardinality(String),
    status           LowCardinality(String),
    status_reason    String,
    failure_class    LowCardinality(String),
    created_at       DateTime('UTC'),
    started_at_ms    Int64,
    stopped_at_ms    Int64,
    queue_wait_ms    Int64,
    run_time_ms      Int64,
    attempts         UInt16,
    exit_code        Nullable(Int32),
    vcpus            Float32,
    memory_mib       UInt32,
    gpus             UInt16,
    instance_type    String,
    is_array_parent  UInt8,
    array_parent_id  String,
    tag_keys         Array(String),
    tag_values       Array(String),
    log_stream       String,
    job_definition_revision UInt32,
    image            String,
    log_group        String DEFAULT '/aws/batch/job',
    log_region       LowCardinality(String),
    account          String,
    region           LowCardinality(String),
    last_event_time  DateTime('UTC'),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(created_at)
ORDER BY (job_queue, job_id);
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.jobs_by_day_mv TO ${database}.jobs_by_day
AS SELECT job_id, job_name, job_queue, job_definition, status, status_reason, failure_class, created_at,
    started_at_ms, stopped_at_ms, queue_wait_ms, run_time_ms, attempts, exit_code, vcpus, memory_mib, gpus,
    instance_type, is_array_parent, array_parent_id, tag_keys, tag_values, log_stream,
    job_definition_revision, image, log_group, log_region, account, region,
    last_event_time, version
FROM ${database}.jobs;
CREATE TABLE IF NOT EXISTS ${database}.attempts_by_day
(
    job_id          String,
    job_queue       LowCardinality(String),
    job_definition  LowCardinality(String),
    attempt         UInt16,
    finished        UInt8,
    created_at      DateTime('UTC'),
    started_at      DateTime('UTC'),
    duration_ms     Int64,
    exit_code       Nullable(Int32),
    failure_class   LowCardinality(String),
    vcpus           Float32,
    memory_mib      UInt32,
    gpus            UInt16,
    tag_keys        Array(String),
    tag_values      Array(String),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(created_at)
ORDER BY (job_queue, job_id, attempt);
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.attempts_by_day_mv TO ${database}.attempts_by_day
AS SELECT job_id, job_queue, job_definition, attempt, finished, created_at, started_at, duration_ms, exit_code,
    failure_class, vcpus, memory_mib, gpus, tag_keys, tag_values, version
FROM ${database}.attempts;
