// Package exporter is batchwatch's Prometheus exporter of AWS Batch,
// designed list-then-watch: a resync lists every active job of the watched
// queues (ListJobs, all pages, array children included) within a small
// budget of Batch requests, and the job events from the exporter's own SQS
// queue keep the picture current in between. The State holds one small entry
// per job and keeps the per-queue counts, oldest ages and unschedulable jobs
// up to date on every change, so a scrape reads pre-aggregated numbers;
// histograms and counters come from the events, each job and attempt
// counted once. Collectors follow node_exporter (Update plus a wrapper that
// reports each collector's duration and success). See README.md and
// docs/metrics.md.
package exporter
