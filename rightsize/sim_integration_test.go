//go:build integration

package rightsize

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/ingest"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// truth is what sim/scenarios/rightsize.yaml sets for one definition and
// tier: the request and the log-normal needs.
type truth struct {
	def, tier           string
	req                 Request
	memMedian, memSigma float64
	cpuMedian, cpuSigma float64
}

func p95(median, sigma float64) float64 { return median * math.Exp(1.6448536*sigma) }

// TestRightsizeOnSimulatedHistory: the simulator runs wrapped jobs whose true
// needs its scenario sets; their usage events go through its EventBridge rule
// and SQS queue into ingest and ClickHouse; rightsize recommends, for every
// definition and tier, at least the true p95 need and at most that need times
// (1 + headroom) plus one step Batch accepts.
func TestRightsizeOnSimulatedHistory(t *testing.T) {
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("rightsize")
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard().WithField("test", t.Name())
	s, url, stopSim, err := sim.Serve(context.Background(), sim.Config{
		Scenario: sc, Speed: 0, Seed: 5, Registry: prometheus.NewRegistry(), Logger: log, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	drainInto(t, s, url, st)

	hist, err := Load(context.Background(), st.Conn(), st.Table("attempts"), st.Table("usage"), "tier", time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 990 {
		t.Fatalf("%d attempts with usage, want about 1,000", len(hist))
	}
	const headroom = 0.2
	rows, err := Analyze(hist, Config{Headroom: headroom, MinAttempts: 50, PriceVCPUHour: 0.04048, PriceGiBHour: 0.004445,
		WindowDays: WindowDays(hist, time.Now(), 30*24*time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	truths := []truth{
		{"rs-small", "small", Request{2, 4096}, 1100, 0.25, 0.6, 0.3},
		{"rs-medium", "medium", Request{4, 16384}, 4000, 0.25, 1.5, 0.2},
		{"rs-tight", "tight", Request{1, 2048}, 1400, 0.2, 0.8, 0.1},
		{"rs-etl", "a", Request{2, 8192}, 2500, 0.3, 0.9, 0.25},
		{"rs-etl", "b", Request{2, 6144}, 2500, 0.3, 0.9, 0.25},
	}
	if len(rows) != len(truths) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(truths), rows)
	}
	for _, tr := range truths {
		var row *Row
		for i := range rows {
			if rows[i].Definition == tr.def && rows[i].Tier == tr.tier {
				row = &rows[i]
			}
		}
		if row == nil {
			t.Errorf("no row for %s/%s", tr.def, tr.tier)
			continue
		}
		memNeed := p95(tr.memMedian, tr.memSigma)
		rec := row.Recommended
		if lo, hi := memNeed, memNeed*(1+headroom)+EC2MemoryStepMiB; float64(rec.MemoryMiB) < lo || float64(rec.MemoryMiB) > hi {
			t.Errorf("%s/%s: %d MiB recommended, true p95 need %.0f: want %.0f to %.0f", tr.def, tr.tier, rec.MemoryMiB, memNeed, lo, hi)
		}
		cpuNeed := math.Min(p95(tr.cpuMedian, tr.cpuSigma), tr.req.VCPUs)
		if lo, hi := cpuNeed, cpuNeed*(1+headroom)+1; rec.VCPUs < lo || rec.VCPUs > hi {
			t.Errorf("%s/%s: %.2f vCPUs recommended, true p95 need %.2f: want %.2f to %.2f", tr.def, tr.tier, rec.VCPUs, cpuNeed, lo, hi)
		}
		if row.Requested != tr.req || row.Attempts < 195 {
			t.Errorf("%s/%s: requested %+v over %d attempts", tr.def, tr.tier, row.Requested, row.Attempts)
		}
	}
	if os.Getenv("BATCHWATCH_RIGHTSIZE_TABLE") != "" {
		_ = WriteTable(os.Stdout, rows)
	}
}

// drainInto reads the simulator's ingest queue through its SQS API into
// ingest's pipeline and ClickHouse until the simulated run has ended and the
// queue is empty.
func drainInto(t *testing.T, s *sim.Sim, url string, st *store.Store) {
	t.Helper()
	cfg, ac := testenv.AWS(t, url)
	client := ac.SQS(cfg, awsclient.Options{})
	queueURL := url + "/123456789012/batchwatch-ingest"
	log := logging.Discard().WithField("test", t.Name())
	p := ingest.NewPipeline(ingest.StoreWriter{Store: st}, ingest.PipelineConfig{BatchSize: 2000, FlushInterval: 200 * time.Millisecond},
		ingest.NewMetrics(prometheus.NewRegistry()), log, time.Now)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("timed out draining the simulated run")
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			if err := p.Submit(ctx, ingest.Message{Body: []byte(aws.ToString(m.Body)), ID: aws.ToString(m.MessageId), Source: "sqs", ReceivedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// Deleted at once: the pipeline writes everything it was given
			// before Run returns.
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
		if len(out.Messages) == 0 && s.Done() {
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := s.WaitDelivered(wctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if v, inflight, delayed, err := s.Queues().Stats("batchwatch-ingest"); err == nil && v+inflight+delayed == 0 {
				break
			}
		}
	}
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
