-- One row per job attempt that ran wrapped in batchwatch-run: what it used
-- (docs/usage.md). Redeliveries of the usage event are harmless: the row is
-- keyed on the attempt and the latest stop wins (read with FINAL).
--
-- Join to attempts: usage.job_id = attempts.job_id AND usage.attempt =
-- attempts.attempt (both 0 for the first attempt; job_attempt is Batch's
-- AWS_BATCH_JOB_ATTEMPT, 1 for the first). Array children are
-- "<array_job_id>:<index>", as in jobs and attempts.
CREATE TABLE IF NOT EXISTS ${database}.usage
(
    job_id                 String,
    attempt                UInt16,
    job_attempt            UInt16,
    array_index            Int32,
    job_queue              LowCardinality(String),
    compute_environment    LowCardinality(String),
    source                 LowCardinality(String),
    started_at             DateTime('UTC'),
    started_at_ms          Int64,
    stopped_at_ms          Int64,
    wall_seconds           Float64,
    cpu_seconds            Float64,
    cpu_mean_vcpus         Float32,
    cpu_p95_vcpus          Float32,
    cpu_max_vcpus          Float32,
    cpu_throttled_seconds  Float64,
    cpu_limit_vcpus        Float32,
    memory_peak_bytes      UInt64,
    memory_limit_bytes     UInt64,
    oom_killed             UInt8,
    exit_code              Int32,
    signal                 LowCardinality(String),
    samples                UInt32,
    gpu_count              UInt16,
    gpu_memory_peak_bytes  UInt64,
    gpu_util_mean_percent  Float32,
    gpu_util_p95_percent   Float32,
    event_id               String,
    received_at            DateTime('UTC'),
    version                UInt64,
    raw                    String
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (job_id, attempt);
