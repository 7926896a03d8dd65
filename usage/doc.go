// Package usage measures what one AWS Batch job attempt really uses (memory,
// CPU, throttling, GPU) while batchwatch-run runs the job's command as its
// child, and reports it once at the end as a custom EventBridge event
// (source batchwatch.usage) and as one JSON line on stderr.
//
// The package stays small on purpose: batchwatch-run is copied into job
// images, so it imports neither the AWS SDK's service clients nor anything
// else of batchwatch. The event's shape is documented in docs/usage.md.
package usage
