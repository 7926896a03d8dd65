//go:build integration

package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
)

// loadUsage gives every finished attempt in st a usage event, as
// batchwatch-run would have sent it: peaks spread over 30-105 % of the
// request (over 100 % only for the attempts that failed for memory, which are
// OOM kills), CPU at 20-95 % of it.
func loadUsage(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Conn().Query(ctx, "SELECT job_id, attempt, job_queue, started_at_ms, stopped_at_ms, vcpus, memory_mib, failure_class FROM "+
		st.Table("attempts")+" FINAL WHERE finished = 1 AND duration_ms > 0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(StoreWriter{Store: st}, PipelineConfig{BatchSize: 100, FlushInterval: 50 * time.Millisecond}, m, logging.Discard().WithField("t", 2), time.Now)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	n := 0
	for rows.Next() {
		var id, queue, class string
		var attempt uint16
		var start, stop int64
		var vcpus float32
		var mib uint32
		if err := rows.Scan(&id, &attempt, &queue, &start, &stop, &vcpus, &mib, &class); err != nil {
			t.Fatal(err)
		}
		frac := 0.3 + 0.7*float64(n%10)/10
		if class == "oom" {
			frac = 1.05
		}
		wall := float64(stop-start) / 1000
		detail := map[string]any{
			"schemaVersion": 1, "jobId": id, "jobAttempt": int(attempt) + 1, "arrayIndex": -1, "jobQueue": queue,
			"source": "cgroup-v2", "startedAt": start, "stoppedAt": stop, "wallSeconds": wall,
			"cpuSeconds": wall * float64(vcpus) * (0.2 + frac*0.7), "cpuMeanVcpus": float64(vcpus) * (0.2 + frac*0.7),
			"cpuP95Vcpus": float64(vcpus) * min(1, 0.3+frac*0.7), "memoryPeakBytes": uint64(frac * float64(mib) * (1 << 20)),
			"oomKilled": class == "oom", "samples": int(wall / 5),
		}
		env, _ := json.Marshal(map[string]any{
			"version": "0", "id": fmt.Sprintf("usage-%05d", n), "detail-type": "Batch Job Attempt Usage", "source": "batchwatch.usage",
			"account": "123456789012", "region": "us-east-1", "time": time.UnixMilli(stop).UTC().Format(time.RFC3339), "resources": []string{}, "detail": detail,
		})
		if err := p.Submit(ctx, Message{Body: env, Source: "replay", ReceivedAt: now}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	rows.Close()
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no finished attempts to give usage to")
	}
}
