-- Lookup tables kept by materialized views over jobs: each is sorted by
-- what is looked up and holds the key of the job's row in jobs
-- ((job_queue, job_id), partitioned by created_at), so a lookup reads a
-- few index granules here, then only the matching rows of jobs, attempts
-- or events:
--   FROM jobs FINAL WHERE (job_queue, job_id) IN (SELECT job_queue, job_id
--     FROM job_keys WHERE job_id = 'X') AND created_at >= (SELECT min(created_at) ...)
-- Every write of a job adds a row again; ReplacingMergeTree folds them and a
-- lookup reads them with DISTINCT or IN, so duplicates never change an answer.
-- Partitioned like jobs (month of creation) so retention drops them together.
CREATE TABLE IF NOT EXISTS ${database}.job_keys
(
    job_id     String,
    job_queue  LowCardinality(String),
    created_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (job_id, job_queue)
SETTINGS index_granularity = 1024;
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.job_keys_mv TO ${database}.job_keys
AS SELECT job_id, job_queue, created_at FROM ${database}.jobs;
-- An array job's children, by parent id.
CREATE TABLE IF NOT EXISTS ${database}.array_children
(
    array_parent_id String,
    job_id          String,
    job_queue       LowCardinality(String),
    created_at      DateTime('UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (array_parent_id, job_id, job_queue)
SETTINGS index_granularity = 1024;
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.array_children_mv TO ${database}.array_children
AS SELECT array_parent_id, job_id, job_queue, created_at FROM ${database}.jobs WHERE array_parent_id != '';
-- Jobs by (key, value) of their parameters and of their tags.
CREATE TABLE IF NOT EXISTS ${database}.job_params
(
    key        String,
    value      String,
    created_at DateTime('UTC'),
    job_id     String,
    job_queue  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (key, value, created_at, job_id, job_queue)
SETTINGS index_granularity = 1024;
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.job_params_mv TO ${database}.job_params
AS SELECT key, value, created_at, job_id, job_queue FROM ${database}.jobs ARRAY JOIN param_keys AS key, param_values AS value;
CREATE TABLE IF NOT EXISTS ${database}.job_tags
(
    key        String,
    value      String,
    created_at DateTime('UTC'),
    job_id     String,
    job_queue  LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (key, value, created_at, job_id, job_queue)
SETTINGS index_granularity = 1024;
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.job_tags_mv TO ${database}.job_tags
AS SELECT key, value, created_at, job_id, job_queue FROM ${database}.jobs ARRAY JOIN tag_keys AS key, tag_values AS value;
