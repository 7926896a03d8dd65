-- One row per EventBridge event id: typed columns and the raw JSON.
-- ReplacingMergeTree makes redeliveries harmless: read with FINAL (or
-- GROUP BY event_id) for exact counts; merges converge on their own.
CREATE TABLE IF NOT EXISTS ${database}.events
(
    event_id                String,
    event_time              DateTime('UTC'),
    event_time_ms           Int64,
    detail_type             LowCardinality(String),
    account                 String,
    region                  LowCardinality(String),
    job_id                  String,
    job_name                String,
    job_arn                 String,
    job_queue               LowCardinality(String),
    status                  LowCardinality(String),
    status_rank             UInt8,
    status_reason           String,
    failure_class           LowCardinality(String),
    job_definition          LowCardinality(String),
    job_definition_revision UInt32,
    attempts                UInt16,
    exit_code               Nullable(Int32),
    created_at_ms           Int64,
    started_at_ms           Int64,
    stopped_at_ms           Int64,
    vcpus                   Float32,
    memory_mib              UInt32,
    gpus                    UInt16,
    platform                LowCardinality(String),
    array_parent_id         String,
    array_index             Int32,
    array_size              UInt32,
    log_stream              String,
    tag_keys                Array(String),
    tag_values              Array(String),
    param_keys              Array(String),
    param_values            Array(String),
    source                  LowCardinality(String),
    sns_message_id          String,
    received_at             DateTime('UTC'),
    version                 UInt64,
    raw                     String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(event_time)
ORDER BY (job_queue, job_id, event_id)
