package sqsconsumer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/backoff"
	"github.com/batchwatch/batchwatch/exporter"
	"github.com/batchwatch/batchwatch/ingest"
	"github.com/batchwatch/batchwatch/logging"
	simsqs "github.com/batchwatch/batchwatch/sim/sqs"
	"github.com/batchwatch/batchwatch/sqsconsumer"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/submitter"
)

// component starts one of the consumers of the product on a queue, with
// base consumer settings (the gate, the recording sleep, one receiver,
// short visibility); stop ends it and returns once it has returned.
type component struct {
	name  string
	start func(t *testing.T, api sqsconsumer.API, url string, base sqsconsumer.Config, reg prometheus.Registerer) (stop func())
}

var components = []component{
	{"ingest", startIngest},
	{"exporter", startExporter},
	{"submitter", startSubmitter},
}

// TestConsumerContract runs each consumer against the simulator's SQS
// through the real SDK client: a message is not deleted before its work
// is committed and its visibility is extended meanwhile; a failed message
// comes back; receive errors back off exponentially; the consumer stops
// with its context and leaves uncommitted work in the queue.
func TestConsumerContract(t *testing.T) {
	for _, c := range components {
		t.Run(c.name, func(t *testing.T) {
			runContract(t, c)
		})
	}
}

func runContract(t *testing.T, c component) {
	e := newSQSEnv(t)
	url := e.createQueue(t, "contract-"+c.name)
	api := &flakyAPI{API: e.client}
	g := newGate()
	var slept sleeps
	reg := prometheus.NewRegistry()
	base := sqsconsumer.Config{
		Receivers: 1, WaitTime: time.Second, Visibility: 2 * time.Second,
		Intercept: g.wrap, Sleep: slept.sleep,
	}
	stop := c.start(t, api, url, base, reg)
	stopped := false
	defer func() {
		if !stopped {
			g.setMode(modePass)
			stop()
		}
	}()
	m := func(name string) float64 { return metricValue(t, reg, name, c.name) }
	queueEmpty := func() bool {
		v, inflight, delayed, err := e.srv.Stats("contract-" + c.name)
		return err == nil && v+inflight+delayed == 0
	}

	t.Run("acknowledged only after commit, visibility extended meanwhile", func(t *testing.T) {
		g.setMode(modeHold)
		e.send(t, url, event("job-held"))
		g.waitArrivals(t, "job-held", 1)
		// Two extensions: more than one visibility timeout has passed
		// since the receive, and the message is still neither visible
		// again nor deleted.
		waitFor(t, "two visibility extensions", func() bool { return m("batchwatch_sqs_visibility_extensions_total") >= 2 })
		v, inflight, _, _ := e.srv.Stats("contract-" + c.name)
		if v != 0 || inflight != 1 || m("batchwatch_sqs_messages_deleted_total") != 0 {
			t.Fatalf("held message: %d visible, %d in flight, %v deleted; want 0, 1, 0", v, inflight, m("batchwatch_sqs_messages_deleted_total"))
		}
		g.setMode(modePass)
		g.release()
		waitFor(t, "the committed message to be deleted", func() bool {
			return queueEmpty() && m("batchwatch_sqs_messages_deleted_total") == 1
		})
		if n := g.arrivals("job-held"); n != 1 {
			t.Errorf("held message received %d times, want 1", n)
		}
	})

	t.Run("redelivered after failure", func(t *testing.T) {
		g.failOnce("job-failed")
		e.send(t, url, event("job-failed"))
		g.waitArrivals(t, "job-failed", 2)
		waitFor(t, "the redelivered message to be deleted", func() bool {
			return queueEmpty() && m("batchwatch_sqs_messages_deleted_total") == 2
		})
		if r := m("batchwatch_sqs_messages_released_total"); r != 1 {
			t.Errorf("released %v, want 1", r)
		}
	})

	t.Run("receive errors back off", func(t *testing.T) {
		slept.reset()
		api.failReceives.Store(3)
		e.send(t, url, event("job-after-errors"))
		g.waitArrivals(t, "job-after-errors", 1)
		// The queue empties when the delete is done; the counter follows
		// the call's return: wait for both, or the next test reads it early.
		waitFor(t, "the message after the errors to be deleted", func() bool {
			return queueEmpty() && m("batchwatch_sqs_messages_deleted_total") == 3
		})
		got := slept.get()
		if len(got) != 3 || got[0] <= 0 || got[1] != 2*got[0] || got[2] != 2*got[1] {
			t.Errorf("waits after 3 receive errors: %v, want 3 doubling waits", got)
		}
		if n := metricValue(t, reg, "batchwatch_sqs_errors_total", c.name); n != 3 {
			t.Errorf("%v errors counted, want 3", n)
		}
	})

	t.Run("stops with its context, leaving uncommitted work", func(t *testing.T) {
		g.setMode(modeHold)
		e.send(t, url, event("job-at-stop"))
		g.waitArrivals(t, "job-at-stop", 1)
		deleted := m("batchwatch_sqs_messages_deleted_total")
		stopped = true
		stop()
		v, inflight, _, _ := e.srv.Stats("contract-" + c.name)
		if v+inflight != 1 || m("batchwatch_sqs_messages_deleted_total") != deleted {
			t.Fatalf("after stop: %d visible, %d in flight, deleted %v → %v; want the uncommitted message kept", v, inflight, deleted, m("batchwatch_sqs_messages_deleted_total"))
		}
	})
}

func startIngest(t *testing.T, api sqsconsumer.API, url string, base sqsconsumer.Config, reg prometheus.Registerer) func() {
	log := logging.Discard().WithField("test", t.Name())
	m := ingest.NewMetrics(reg)
	p := ingest.NewPipeline(memWriter{}, ingest.PipelineConfig{BatchSize: 1, FlushInterval: 10 * time.Millisecond}, m, log, time.Now)
	cfg := base
	cfg.QueueURL = url
	src := ingest.NewSQSSource(api, cfg, m, log, time.Now)
	pctx, stopPipe := context.WithCancel(context.Background())
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- p.Run(pctx) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, p) }()
	return func() {
		cancel()
		wait(t, "the SQS source", done)
		p.Close()
		wait(t, "the pipeline", pipeDone)
		stopPipe()
	}
}

func startExporter(t *testing.T, api sqsconsumer.API, url string, base sqsconsumer.Config, reg prometheus.Registerer) func() {
	cfg := &exporter.Config{
		ResyncInterval: time.Hour, BatchAPIRate: 1000, PageSize: 100, CapacityInterval: time.Hour,
		FinishedWindow: time.Hour, DedupCapacity: 1000, DescribeLimit: 100, CostDailyCalls: 24,
		SQSQueueURL: url, SQSReceivers: 1, SQSWaitTime: time.Second,
	}
	if err := cfg.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	x, err := exporter.New(cfg, exporter.Deps{Batch: emptyBatch{}, SQS: api, SQSConsumer: base, Registry: reg, Logger: logging.Discard().WithField("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	return func() {
		cancel()
		wait(t, "the exporter", done)
	}
}

func startSubmitter(t *testing.T, api sqsconsumer.API, url string, base sqsconsumer.Config, reg prometheus.Registerer) func() {
	data, err := os.ReadFile("../submitter/testdata/escalation-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := submitter.ParsePlan("escalation-plan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	// One item whose job never finishes in this test keeps the watch on.
	j := submitter.NewMemoryJournal()
	now := time.Now()
	if err := j.Write(context.Background(), []submitter.Record{{
		RunID: "contract", ItemKey: "item", Kind: submitter.KindItem, Tier: "small", Priority: "low", Queue: "q-low",
		JobName: "contract-item", JobID: "job-tracked", ArrayIndex: -1, State: submitter.StateSubmitted,
		RunStartedAt: now, SubmittedAt: now, UpdatedAt: now, Version: 1,
	}}); err != nil {
		t.Fatal(err)
	}
	r, err := submitter.New(submitter.Options{Plan: plan, RunID: "contract", Mode: submitter.ModeSingle, Batch: emptyBatch{},
		Journal: j, DeferFanIn: true, Metrics: submitter.NewMetrics(reg), Log: logging.Discard().WithField("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Submit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Watch(ctx, submitter.WatchOptions{Queue: api, QueueURL: url, WaitSeconds: int32(base.WaitTime / time.Second), Consumer: base})
	}()
	return func() {
		cancel()
		wait(t, "the watch", done)
	}
}

// event is a RUNNING job state change of a job of its own.
func event(jobID string) string {
	return fmt.Sprintf(`{"version":"0","id":"event-%[1]s","detail-type":"Batch Job State Change","source":"aws.batch","account":"123456789012","time":"2026-11-20T14:02:11Z","region":"us-east-1","resources":["arn:aws:batch:us-east-1:123456789012:job/%[1]s"],"detail":{"jobArn":"arn:aws:batch:us-east-1:123456789012:job/%[1]s","jobName":"%[1]s","jobId":"%[1]s","jobQueue":"arn:aws:batch:us-east-1:123456789012:job-queue/q-low","status":"RUNNING","attempts":[],"createdAt":1763646702000,"startedAt":1763647012345,"jobDefinition":"arn:aws:batch:us-east-1:123456789012:job-definition/build:1","parameters":{},"tags":{}}}`, jobID)
}

type gateMode int

const (
	modePass gateMode = iota
	modeHold
)

// gate sits between a consumer and the component's handler: it counts
// arrivals per job, holds batches until released (giving them back when
// the consumer stops), and fails chosen messages once.
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	mode     gateMode
	seen     map[string]int
	failures map[string]bool
	released chan struct{}
}

func newGate() *gate {
	g := &gate{seen: map[string]int{}, failures: map[string]bool{}, released: make(chan struct{})}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) setMode(m gateMode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = m
}

func (g *gate) failOnce(job string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures[job] = true
}

// release lets every held batch through to the component.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.released)
	g.released = make(chan struct{})
}

func (g *gate) arrivals(job string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[job]
}

func (g *gate) waitArrivals(t *testing.T, job string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to arrive %d times", job, n), func() bool { return g.arrivals(job) >= n })
}

func (g *gate) wrap(next sqsconsumer.Handler) sqsconsumer.Handler {
	return func(ctx context.Context, msgs []*sqsconsumer.Message) {
		g.mu.Lock()
		var pass []*sqsconsumer.Message
		for _, m := range msgs {
			job := jobOf(m.Body)
			g.seen[job]++
			if g.failures[job] {
				delete(g.failures, job)
				m.Done(false)
				continue
			}
			pass = append(pass, m)
		}
		mode, released := g.mode, g.released
		g.mu.Unlock()
		if len(pass) == 0 {
			return
		}
		if mode == modePass {
			next(ctx, pass)
			return
		}
		go func() {
			select {
			case <-released:
				next(ctx, pass)
			case <-ctx.Done():
				for _, m := range pass {
					m.Done(false)
				}
			}
		}()
	}
}

// jobOf finds the job id in an event built by event.
func jobOf(body []byte) string {
	var id string
	_, _ = fmt.Sscanf(string(body), `{"version":"0","id":"event-%s`, &id)
	for i := range id {
		if id[i] == '"' {
			return id[:i]
		}
	}
	return id
}

// flakyAPI fails the next failReceives receives.
type flakyAPI struct {
	sqsconsumer.API
	failReceives atomic.Int32
}

func (f *flakyAPI) ReceiveMessage(ctx context.Context, in *awssqs.ReceiveMessageInput, opts ...func(*awssqs.Options)) (*awssqs.ReceiveMessageOutput, error) {
	if f.failReceives.Add(-1) >= 0 {
		return nil, errors.New("injected receive error")
	}
	f.failReceives.Store(0)
	return f.API.ReceiveMessage(ctx, in, opts...)
}

// sleeps records the waits a consumer asks for and waits a millisecond.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return backoff.Sleep(ctx, time.Millisecond)
}

func (s *sleeps) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = nil
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// metricValue sums a metric's series of one component.
func metricValue(t *testing.T, g prometheus.Gatherer, name, component string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" && l.GetValue() == component {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wait(t *testing.T, what string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not stop with its context", what)
	}
}

// sqsEnv is the simulator's SQS behind httptest and a real SDK client.
type sqsEnv struct {
	srv    *simsqs.Server
	client *awssqs.Client
}

func newSQSEnv(t *testing.T) *sqsEnv {
	srv := simsqs.NewServer(simsqs.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	cfg := &awsclient.Config{EndpointURL: hs.URL}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	return &sqsEnv{srv: srv, client: cfg.SQS(awsCfg, awsclient.Options{})}
}

func (e *sqsEnv) createQueue(t *testing.T, name string) string {
	out, err := e.client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func (e *sqsEnv) send(t *testing.T, url, body string) {
	t.Helper()
	if _, err := e.client.SendMessage(context.Background(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// memWriter commits every batch at once.
type memWriter struct{}

func (memWriter) Begin(context.Context, int) ingest.Window { return memWindow{} }
func (memWriter) InsertQuarantine(context.Context, []store.Quarantined) error {
	return nil
}

type memWindow struct{}

func (memWindow) Add(*store.Received) {}
func (memWindow) Commit(context.Context) (store.InsertStats, error) {
	return store.InsertStats{}, nil
}
func (memWindow) Abort() {}

// emptyBatch is an AWS Batch with nothing in it.
type emptyBatch struct{}

func (emptyBatch) ListJobs(context.Context, *awsbatch.ListJobsInput, ...func(*awsbatch.Options)) (*awsbatch.ListJobsOutput, error) {
	return &awsbatch.ListJobsOutput{}, nil
}
func (emptyBatch) DescribeJobs(context.Context, *awsbatch.DescribeJobsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobsOutput, error) {
	return &awsbatch.DescribeJobsOutput{}, nil
}
func (emptyBatch) DescribeJobQueues(context.Context, *awsbatch.DescribeJobQueuesInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobQueuesOutput, error) {
	return &awsbatch.DescribeJobQueuesOutput{}, nil
}
func (emptyBatch) DescribeComputeEnvironments(context.Context, *awsbatch.DescribeComputeEnvironmentsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeComputeEnvironmentsOutput, error) {
	return &awsbatch.DescribeComputeEnvironmentsOutput{}, nil
}
func (emptyBatch) DescribeJobDefinitions(context.Context, *awsbatch.DescribeJobDefinitionsInput, ...func(*awsbatch.Options)) (*awsbatch.DescribeJobDefinitionsOutput, error) {
	return &awsbatch.DescribeJobDefinitionsOutput{}, nil
}
func (emptyBatch) SubmitJob(context.Context, *awsbatch.SubmitJobInput, ...func(*awsbatch.Options)) (*awsbatch.SubmitJobOutput, error) {
	return nil, errors.New("no submissions in the contract test")
}
