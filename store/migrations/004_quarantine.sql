-- Every message that could not be parsed, kept whole, so nothing is dropped
-- silently. message_id is the SQS message id or the replay position.
CREATE TABLE IF NOT EXISTS ${database}.quarantine
(
    received_at    DateTime('UTC'),
    received_at_ms Int64,
    source         LowCardinality(String),
    message_id     String,
    error          String,
    body           String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (source, message_id)
