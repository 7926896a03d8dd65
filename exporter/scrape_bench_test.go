package exporter

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/common/expfmt"

	"github.com/batchwatch/batchwatch/batch"
)

// BenchmarkScrape100k gathers and encodes the exporter's metrics with
// 100,000 jobs on 50 queues in its state: a scrape does no per-job work.
func BenchmarkScrape100k(b *testing.B) {
	clock := newFakeClock()
	fb := newFakeBatch()
	var queues []string
	for i := range 50 {
		q := fmt.Sprintf("load-%02d", i+1)
		queues = append(queues, q)
		fb.queues = append(fb.queues, QueueInfo{Name: q, State: "ENABLED", Status: "VALID", Priority: 100, ComputeEnvironments: []string{"ce-spot", "ce-od"}})
	}
	fb.ces = oneQueue().ces
	x, reg := testExporter(&testing.T{}, &Config{TierTag: "tier", CostTags: []string{"team"}}, fb, clock, Deps{})
	if err := x.RefreshCapacity(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := x.Resync(context.Background()); err != nil {
		b.Fatal(err)
	}
	ms := clock.ms()
	statuses := []string{"PENDING", "RUNNABLE", "RUNNABLE", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"}
	for i := range 100_000 {
		j := &fakeJob{id: fmt.Sprintf("p%03d:%d", i/1000, i%1000), parent: fmt.Sprintf("p%03d", i/1000), index: i % 1000,
			queue: queues[i%50], def: defARN("long-job", 1), status: statuses[i%len(statuses)], created: ms - int64(i),
			vcpus: 1, memMiB: 2048, tags: map[string]string{"team": "load", "tier": "small"}}
		if j.status == "SUCCEEDED" {
			j.started, j.stopped = ms-60_000, ms-1000
			j.attempts = []fakeAttempt{{started: j.started, stopped: j.stopped, exit: aws.Int(0)}}
		}
		ev, err := batch.Parse(j.eventJSON(clock.Now()))
		if err != nil {
			b.Fatal(err)
		}
		x.State().ApplyEvent(ev, ms)
	}
	if n, _ := x.State().Tracked(); n != 100_000 {
		b.Fatalf("%d jobs tracked", n)
	}
	clock.Advance(time.Minute)
	b.ResetTimer()
	for range b.N {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
