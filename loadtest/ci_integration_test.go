//go:build integration

package loadtest

import (
	"testing"
	"time"
)

// ciFaults: 5 % of all AWS calls fail (2 % HTTP 500, 1 % 503, 1 % reset
// before and 1 % after the call was processed, SubmitJob included), 1 % of
// received messages are duplicated, 1 % of sent ones are late and 0.5 % of
// deletes are lost (redelivered after the visibility timeout).
var ciFaults = []string{
	"*:error_500=0.02,error_503=0.01,reset_before=0.01,reset_after=0.01",
	"queue/*:duplicate=0.01,late=0.01,late_delay=2s-10s,lost_delete=0.005",
}

// TestLoadCI is the short load test: 2 % of zendesk-day (about 1,000 jobs)
// at 1,200× through the simulator with faults and 1,000 bad messages,
// ingest (SIGKILLed once in the middle of a batch and restarted), the
// exporter, the submitter (50 items) and ClickHouse; then the end checks.
func TestLoadCI(t *testing.T) {
	r := startRun(t, config{scale: 0.02, speed: 1200, hostile: 1000, faults: ciFaults, sample: 500 * time.Millisecond})
	stop, done := make(chan struct{}), make(chan struct{})
	go r.sampler(stop, done)
	defer func() {
		close(stop)
		<-done
	}()
	sub := r.startSubmitter(50)
	r.waitIngestMidBatch(300)
	r.kill(r.ingest, "http://"+r.ingest.addr+"/-/ready")
	r.waitSubmitter(sub, 50)
	r.waitDayDone(5 * time.Minute)
	got := r.checkAll()
	got.submitted = 50
	r.checkSubmitted(r.truth(), &got)
	t.Logf("%d jobs, %d events emitted, %d stored once each, %d quarantined, faults injected %v, submitter %d items → %d jobs",
		got.jobs, got.emitted, got.eventsDistinct, got.quarantined, got.injected, got.submitted, got.submittedJobs)
	rep := r.report(got, t.TempDir())
	t.Logf("freshness: ClickHouse p50 %.1f s, p99 %.1f s, max %.1f s (%d events not seen); exporter p50 %.1f s, p99 %.1f s, max %.1f s; peak memory %v",
		rep.clickhouse.p50, rep.clickhouse.p99, rep.clickhouse.max, rep.clickhouse.unreached,
		rep.exporter.p50, rep.exporter.p99, rep.exporter.max, rep.peak)
}
