package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// selfIngestRow: is ingest keeping up with the events, and is ClickHouse?
func selfIngestRow() row {
	return row{title: "Ingest", panels: []cog.Builder[dashboard.Panel]{
		defaultTimeseries(promPluginID).
			Title("Messages received and events inserted").
			Description("Messages ingest received per source (sqs, replay, reconcile), events it wrote to ClickHouse, and duplicates it skipped (redeliveries are normal: SQS is at-least-once). Received well above inserted for long means a backlog.").
			Unit(units.EventsPerSecond).
			WithTarget(promQuery(`sum by (source) (`+rateOf("batchwatch_ingest_messages_received_total", "")+`)`, "received {{source}}")).
			WithTarget(promQuery(`sum(`+rateOf("batchwatch_ingest_events_inserted_total", "")+`)`, "inserted")).
			WithTarget(promQuery(`sum(`+rateOf("batchwatch_ingest_duplicates_total", "")+`)`, "duplicates")),
		defaultTimeseries(promPluginID).
			Title("Ingest lag").
			Description("Time from an event's time (second precision, set by AWS) to its insert into ClickHouse: EventBridge and SQS delivery, batching (--batch.flush-interval) and the insert. Minutes mean ingest or ClickHouse cannot keep up.").
			Unit(units.Seconds).
			WithTarget(promQuery(quantileOf(0.5, "batchwatch_ingest_lag_seconds", "", ""), "p50")).
			WithTarget(promQuery(quantileOf(0.99, "batchwatch_ingest_lag_seconds", "", ""), "p99")),
		defaultTimeseries(promPluginID).
			Title("ClickHouse insert latency").
			Description("Duration of one batch insert into ClickHouse (events, jobs and attempts tables), retries excluded.").
			Unit(units.Seconds).
			WithTarget(promQuery(quantileOf(0.5, "batchwatch_ingest_insert_duration_seconds", "", ""), "p50")).
			WithTarget(promQuery(quantileOf(0.99, "batchwatch_ingest_insert_duration_seconds", "", ""), "p99")),
		defaultTimeseries(promPluginID).
			Title("Batch size and buffered events").
			Description("Average events per ClickHouse insert (bigger batches are cheaper for ClickHouse) and events received but not yet written. Buffered events that keep growing mean inserts fail or are too slow.").
			Unit(units.Short).
			WithTarget(promQuery(`sum(`+rateOf("batchwatch_ingest_batch_size_sum", "")+`) / sum(`+rateOf("batchwatch_ingest_batch_size_count", "")+`)`, "events per insert")).
			WithTarget(promQuery(`sum(batchwatch_ingest_buffered_events)`, "buffered")),
		barsTimeseries(promPluginID).
			Title("Quarantined messages").
			Description("Messages ingest could not parse, per source, written whole to the quarantine table (nothing is dropped). Any is worth a look: AWS may have changed the event, or something else writes to the queue.").
			Unit(units.Short).
			WithTarget(promQuery(orZero(`sum by (source) (`+increaseOf("batchwatch_ingest_quarantined_total", "")+`)`, "source"), "{{source}}")),
		barsTimeseries(promPluginID).
			Title("ClickHouse errors by operation").
			Description("Failed ClickHouse operations per operation, each retry counted. Ingest retries with backoff and acknowledges SQS messages only after their insert, so errors delay events but lose none, until the queue's retention runs out.").
			Unit(units.Short).
			WithTarget(promQuery(orZero(`sum by (operation) (`+increaseOf("batchwatch_ingest_clickhouse_errors_total", "")+`)`, "operation"), "{{operation}}")),
		defaultStat(promPluginID).
			Title("Time since the last insert").
			Description("Time since ingest last wrote to ClickHouse. Quiet queues insert nothing, so read it with the received rate.").
			Unit(units.Seconds).
			Span(halfWidth).
			WithTarget(promQuery(`time() - max(batchwatch_ingest_last_insert_timestamp_seconds)`, "since last insert")),
	}}
}
