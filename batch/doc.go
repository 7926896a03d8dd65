// Package batch is batchwatch's model of AWS Batch: the EventBridge events
// Batch emits (Batch Job State Change, Batch Job Queue Blocked), as raw
// envelopes or wrapped in SNS notifications, and the normalized job view every
// component shares — queue and definition names, status rank, times in epoch
// milliseconds, attempts, platform, array and node linkage, tags, parameters
// and a bounded failure class.
//
// Parsing is lenient: unknown fields are ignored, missing fields stay zero,
// fields of an unexpected type are skipped, and nothing in here panics on
// outside input (see FuzzParse).
package batch
