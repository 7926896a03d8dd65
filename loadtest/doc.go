// Package loadtest runs the simulator's zendesk-day through the whole local
// stack as processes (simulator with faults and hostile messages, ingest,
// exporter, submitter, ClickHouse), kills and restarts them on the way, and
// checks at the end that nothing was lost or counted twice.
//
// Everything is in the tests: TestLoadCI (build tag integration) is the
// scaled-down version CI runs; TestLoadFull (tags integration and loadtest,
// `make loadtest`) is the full day, which also writes docs/loadtest.md and
// its plots.
package loadtest
