-- Where each job's logs are, from its container's logConfiguration (see
-- batch.Job.LogGroup): the log driver, the CloudWatch Logs group (AWS
-- Batch's default /aws/batch/job when the job does not say, empty when its
-- logs do not go to CloudWatch Logs) and that group's region (the
-- awslogs-region option, else the job's region). Rows written before this
-- migration read the default group, which is what every job was assumed to
-- use until then, and an empty region (dashboards fall back to the job's).
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: the migrator checks
-- system.columns and runs such a statement only when the column is missing
-- (one column per statement).
ALTER TABLE ${database}.jobs ADD COLUMN IF NOT EXISTS log_driver LowCardinality(String);
ALTER TABLE ${database}.jobs ADD COLUMN IF NOT EXISTS log_group String DEFAULT '/aws/batch/job';
ALTER TABLE ${database}.jobs ADD COLUMN IF NOT EXISTS log_region LowCardinality(String);
ALTER TABLE ${database}.attempts ADD COLUMN IF NOT EXISTS log_group String DEFAULT '/aws/batch/job';
ALTER TABLE ${database}.attempts ADD COLUMN IF NOT EXISTS log_region LowCardinality(String);
