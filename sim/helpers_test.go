package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/awsclient"
)

var testStart = time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)

// lines collects the JSON lines written to Config.Out.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	for _, ln := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		if len(ln) > 0 {
			out = append(out, append([]byte(nil), ln...))
		}
	}
	return out
}

// harness runs a simulator on an httptest server and steps its virtual
// clock by hand, so tests see every intermediate state without waiting.
type harness struct {
	t     *testing.T
	s     *Sim
	reg   *prometheus.Registry
	srv   *httptest.Server
	out   *lines
	batch *batch.Client
	ce    *costexplorer.Client
	url   string
}

func testScenario(t *testing.T) *Scenario {
	t.Helper()
	b, err := os.ReadFile("testdata/test-env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, reg: prometheus.NewRegistry(), out: &lines{}}
	cfg := Config{
		Scenario: testScenario(t), Seed: 7, APIRate: -1, Registry: h.reg, ExitWhenDone: true,
		Out: h.out, Now: func() time.Time { return testStart },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	h.srv = httptest.NewServer(s.Handler())
	h.url = h.srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	stop := s.startDelivery(ctx)
	t.Cleanup(func() {
		h.srv.Close()
		stop()
		cancel()
		s.Close()
	})
	h.batch, h.ce = sdkClients(t, h.url, cfg.Scenario.Region)
	return h
}

func sdkClients(t *testing.T, url, region string) (*batch.Client, *costexplorer.Client) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	ac := &awsclient.Config{Region: region, EndpointURL: url, MaxAttempts: 10}
	awsCfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	return ac.Batch(awsCfg, awsclient.Options{}), ac.CostExplorer(awsCfg, awsclient.Options{})
}

// advance moves the virtual clock forward by d, running what falls due.
func (h *harness) advance(d time.Duration) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	target := h.s.cur + d.Milliseconds()
	h.s.advance(target, math.MaxInt, false)
	h.s.cur = max(h.s.cur, target)
}

// settle runs until no job can progress any more.
func (h *harness) settle() {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for h.s.progress > 0 || h.s.needDispatch {
		h.s.advance(math.MaxInt64, math.MaxInt, true)
	}
}

// events waits for delivery and returns every event emitted so far.
func (h *harness) events() []map[string]any {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.WaitDelivered(ctx); err != nil {
		h.t.Fatal(err)
	}
	var out []map[string]any
	for _, ln := range h.out.all() {
		var m map[string]any
		if err := json.Unmarshal(ln, &m); err != nil {
			h.t.Fatalf("event is not JSON: %v: %s", err, ln)
		}
		out = append(out, m)
	}
	return out
}

// statuses returns the status sequence of a job's state change events.
func (h *harness) statuses(jobID string) []string {
	var out []string
	for _, e := range h.events() {
		d := e["detail"].(map[string]any)
		if d["jobId"] == jobID && e["detail-type"] == detailTypeState {
			out = append(out, d["status"].(string))
		}
	}
	return out
}

func (h *harness) submit(in *batch.SubmitJobInput) string {
	h.t.Helper()
	out, err := h.batch.SubmitJob(context.Background(), in)
	if err != nil {
		h.t.Fatalf("SubmitJob: %v", err)
	}
	return *out.JobId
}

func (h *harness) describe(id string) types.JobDetail {
	h.t.Helper()
	out, err := h.batch.DescribeJobs(context.Background(), &batch.DescribeJobsInput{Jobs: []string{id}})
	if err != nil {
		h.t.Fatalf("DescribeJobs: %v", err)
	}
	if len(out.Jobs) != 1 {
		h.t.Fatalf("DescribeJobs(%s): %d jobs", id, len(out.Jobs))
	}
	return out.Jobs[0]
}

func (h *harness) truth(id string) TruthJob {
	h.t.Helper()
	for _, tj := range h.s.Truth() {
		if tj.JobID == id {
			return tj
		}
	}
	h.t.Fatalf("job %s not in the truth", id)
	return TruthJob{}
}

func jobIn(name, queue, def string) *batch.SubmitJobInput {
	return &batch.SubmitJobInput{JobName: aws.String(name), JobQueue: aws.String(queue), JobDefinition: aws.String(def)}
}
