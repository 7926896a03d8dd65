// Package rightsize turns the measured usage of past attempts (the usage
// table, filled from batchwatch-run's events) into a recommended request per
// job definition and tier: p95 of what was used plus headroom, rounded up to
// a value AWS Batch (EC2) or Fargate accepts, and what the change would save
// a month at the configured prices.
package rightsize
