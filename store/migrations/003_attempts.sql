-- One row per job attempt. A RUNNING event writes the current attempt
-- (finished = 0); the event that reports it finished replaces it.
CREATE TABLE IF NOT EXISTS ${database}.attempts
(
    job_id                 String,
    job_name               String,
    job_queue              LowCardinality(String),
    job_definition         LowCardinality(String),
    attempt                UInt16,
    finished               UInt8,
    created_at             DateTime('UTC'),
    started_at             DateTime('UTC'),
    started_at_ms          Int64,
    stopped_at_ms          Int64,
    duration_ms            Int64,
    exit_code              Nullable(Int32),
    reason                 String,
    status_reason          String,
    failure_class          LowCardinality(String),
    log_stream             String,
    task_arn               String,
    container_instance_arn String,
    vcpus                  Float32,
    memory_mib             UInt32,
    gpus                   UInt16,
    platform               LowCardinality(String),
    array_parent_id        String,
    tag_keys               Array(String),
    tag_values             Array(String),
    version                UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY (job_queue, job_id, attempt)
