// Package submitter submits tiered builds to AWS Batch: a plan (YAML)
// turns items (JSON lines or CSV: a key, a size measure, parameters) into
// jobs whose tier (vCPU, memory, GPU, timeout) comes from size ranges and
// whose job queue comes from tier and priority, as array jobs of up to
// 10,000 children reading their item from a manifest, or as single jobs.
//
// Every submission is journaled in ClickHouse (table submissions) so that
// re-running a run id submits each item exactly once, even after a crash
// between SubmitJob and the journal: rows are written "pending" before the
// call, job names are deterministic per run, item and attempt, and a re-run
// looks up uncertain rows by name before submitting again. Requests are
// paced by an adaptive client-side limiter under the account's Batch
// budget; throttling is waited out, never reported as a failure.
//
// Watch follows the run's job events from SQS and, with escalation,
// resubmits items that ran out of memory one tier up. Server offers the
// same over HTTP. README.md documents formats, the manifest contract, the
// journal and the flags.
package submitter
