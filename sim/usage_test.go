package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The rightsize scenario's wrapped jobs send one usage event per attempt
// that ran, consistent with the truth: the attempt's times, the request as
// the limit, the peak at the limit exactly when the kernel killed for memory
// (exit 137), never above it; and the scenario's rule takes the usage events
// to the ingest queue with Batch's.
func TestWrappedJobsEmitUsage(t *testing.T) {
	sc, err := LoadScenario("rightsize")
	if err != nil {
		t.Fatal(err)
	}
	out := &lines{}
	reg := prometheus.NewRegistry()
	s, err := New(Config{Scenario: sc, Seed: 3, Registry: reg, ExitWhenDone: true, Out: out, Now: func() time.Time { return testStart }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	type key struct {
		job     string
		attempt int
	}
	truth := map[key]TruthAttempt{}
	limits := map[string]int{}
	for _, tj := range s.Truth() {
		limits[tj.JobID] = tj.MemoryMiB
		for i, a := range tj.AttemptsInfo {
			if a.StartedAtMS > 0 {
				truth[key{tj.JobID, i + 1}] = a
			}
		}
	}
	var usage, ooms int
	for _, ln := range out.all() {
		var e struct {
			Source     string          `json:"source"`
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(ln, &e); err != nil {
			t.Fatal(err)
		}
		if e.Source != usageSource {
			continue
		}
		var d usageDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		usage++
		a, ok := truth[key{d.JobID, d.JobAttempt}]
		if !ok {
			t.Fatalf("usage of an attempt that did not run: %s", e.Detail)
		}
		limit := uint64(limits[d.JobID]) << 20
		oom := a.Reason == "OutOfMemoryError: Container killed due to memory usage"
		switch {
		case e.DetailType != usageDetailType || d.StartedAt != a.StartedAtMS || d.StoppedAt != a.StoppedAtMS:
			t.Errorf("usage %s, attempt %+v", e.Detail, a)
		case d.MemoryLimitBytes != limit || d.MemoryPeakBytes > limit || d.MemoryPeakBytes == 0:
			t.Errorf("peak %d, limit %d: %s", d.MemoryPeakBytes, limit, e.Detail)
		case d.OOMKilled != oom || (oom && (d.ExitCode != 137 || d.MemoryPeakBytes != limit)) || (!oom && d.MemoryPeakBytes == limit):
			t.Errorf("oom %v, attempt reason %q: %s", d.OOMKilled, a.Reason, e.Detail)
		case d.CPUP95VCPUs <= 0 || d.CPUP95VCPUs > d.CPULimitVCPUs || d.CPUMeanVCPUs > d.CPUP95VCPUs ||
			fmt.Sprintf("%.3f", d.CPUSeconds) != fmt.Sprintf("%.3f", d.CPUMeanVCPUs*d.WallSeconds):
			t.Errorf("cpu: %s", e.Detail)
		}
		if oom {
			ooms++
		}
	}
	if usage != len(truth) || usage < 990 {
		t.Errorf("%d usage events for %d attempts that ran", usage, len(truth))
	}
	// rs-tight's need is above its request about 3 % of the time.
	if ooms < 2 || ooms > 20 {
		t.Errorf("%d OOM kills, want a few", ooms)
	}
	if n := testutil.ToFloat64(s.metrics.emitted.WithLabelValues(usageDetailType)); int(n) != usage {
		t.Errorf("emitted metric %v, usage events %d", n, usage)
	}
	// Every event, Batch's and the usage events, passed the rule's $or.
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := s.WaitDelivered(wctx); err != nil {
		t.Fatal(err)
	}
	visible, inflight, delayed, err := s.Queues().Stats("batchwatch-ingest")
	if err != nil || visible+inflight+delayed != len(out.all()) {
		t.Errorf("ingest queue holds %d+%d+%d messages (%v), %d events were emitted", visible, inflight, delayed, err, len(out.all()))
	}
}
