package submitter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
)

// simEnv is an in-process simulator behind a real HTTP server, with SDK
// clients built by awsclient as the command builds them.
type simEnv struct {
	sim     *sim.Sim
	srv     *httptest.Server
	faults  *faults
	batch   *awsbatch.Client
	sqs     *sqs.Client
	limiter *AdaptiveLimiter
}

type simConfig struct {
	scenario string  // built-in name or file
	apiRate  float64 // the simulator's Batch budget (0: AWS's 50/s; <0: none)
	rate     float64 // the client's limiter
	run      bool    // drive the simulated clock (jobs run)
}

// faults wraps the simulator's handler: it counts SubmitJob calls and can
// lose answers (the job is created, the caller sees a broken connection).
type faults struct {
	next     http.Handler
	submits  atomic.Int64
	inflight atomic.Int64
	mu       sync.Mutex
	// lose decides, for the n-th SubmitJob (from 1), whether to process it
	// and then drop the answer; it may also "kill" the client.
	lose func(n int64) bool
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if r.URL.Path != "/v1/submitjob" {
		f.next.ServeHTTP(w, r)
		return
	}
	n := f.submits.Add(1)
	f.mu.Lock()
	lose := f.lose
	f.mu.Unlock()
	if lose != nil && lose(n) {
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		panic(http.ErrAbortHandler)
	}
	f.next.ServeHTTP(w, r)
}

// settle waits until the server has finished every request it received
// (none for 100ms): what Options.SettleTime stands for in AWS, where a
// killed client's last requests may still be creating jobs.
func (f *faults) settle() {
	quiet := 0
	for quiet < 20 {
		if f.inflight.Load() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *faults) setLose(fn func(int64) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = fn
}

func newSimEnv(t testing.TB, c simConfig) *simEnv {
	t.Helper()
	if c.scenario == "" {
		c.scenario = "zendesk-day"
	}
	sc, err := sim.LoadScenario(c.scenario)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Config{
		Scenario: sc, NoWorkload: true, Seed: 1, APIRate: c.apiRate,
		Registry: prometheus.NewRegistry(), Logger: logging.Discard().WithField("test", t.Name()),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newSimEnvWith(t, s, c.rate)
	if c.run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = s.Run(ctx)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}
	return e
}

// newSimEnvWith serves a simulator over HTTP and builds the clients; rate
// is the client's limiter (0: 1000/s).
func newSimEnvWith(t testing.TB, s *sim.Sim, rate float64) *simEnv {
	t.Helper()
	f := &faults{next: s.Handler()}
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	awsCfg := &awsclient.Config{EndpointURL: srv.URL, MaxAttempts: 8}
	cfg, err := awsclient.Load(context.Background(), awsCfg)
	if err != nil {
		t.Fatal(err)
	}
	if rate == 0 {
		rate = 1000
	}
	lim := NewAdaptiveLimiter(rate, nil)
	return &simEnv{
		sim: s, srv: srv, faults: f, limiter: lim,
		batch: awsCfg.Batch(cfg, awsclient.Options{Limiter: lim.Limiter()}),
		sqs:   awsCfg.SQS(cfg, awsclient.Options{}),
	}
}

func (e *simEnv) options(t testing.TB, p *Plan, runID string, mode Mode, j Journal) Options {
	return Options{
		Plan: p, RunID: runID, Mode: mode, Concurrency: 8, Batch: e.batch, Journal: j,
		Manifests: &FileManifests{Dir: t.TempDir()}, Limiter: e.limiter,
		Log: logging.Discard().WithField("test", t.Name()), FlushEvery: 50 * time.Millisecond,
		SettleTime: 10 * time.Millisecond,
	}
}

// queueURL returns the URL of one of the simulator's SQS queues.
func (e *simEnv) queueURL(t testing.TB, name string) string {
	t.Helper()
	out, err := e.sqs.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// checkExactlyOnce maps the simulator's jobs to items: single jobs by name,
// array children through the journal's array ids and indexes. It fails the
// test if an item has no job or more than one, or if a job of the run
// belongs to no item (nor is the run's fan-in or barrier job).
func checkExactlyOnce(t *testing.T, e *simEnv, p *Plan, runID string, j Journal, keys []string) {
	t.Helper()
	recs, err := j.Load(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	last := latest(recs)
	truth := e.sim.Truth()
	prefix := strings.ToLower(RunNamePrefix(p.JobNamePrefix, runID))
	byName := map[string][]sim.TruthJob{}
	byID := map[string]sim.TruthJob{}
	for _, tj := range truth {
		byID[tj.JobID] = tj
		if tj.ArrayParentID == "" && strings.HasPrefix(strings.ToLower(tj.JobName), prefix) {
			byName[strings.ToLower(tj.JobName)] = append(byName[strings.ToLower(tj.JobName)], tj)
		}
	}
	for name, jobs := range byName {
		if len(jobs) != 1 {
			t.Errorf("job name %s submitted %d times", name, len(jobs))
		}
	}
	children := 0
	usedNames := map[string]bool{}
	for _, key := range keys {
		rec, ok := last[recKey(KindItem, key)]
		if !ok || rec.State != StateSubmitted {
			t.Errorf("item %s: journal %+v", key, rec)
			continue
		}
		usedNames[strings.ToLower(rec.JobName)] = true
		tj, ok := byID[rec.JobID]
		if !ok {
			t.Errorf("item %s: journaled job %s does not exist", key, rec.JobID)
			continue
		}
		if rec.ArrayIndex >= 0 {
			children++
			if tj.ArrayParentID != rec.ArrayJobID || tj.ArrayIndex == nil || *tj.ArrayIndex != rec.ArrayIndex {
				t.Errorf("item %s: child %s is not index %d of %s", key, tj.JobID, rec.ArrayIndex, rec.ArrayJobID)
			}
		} else if !strings.EqualFold(tj.JobName, rec.JobName) {
			t.Errorf("item %s: job %s is named %s, journal says %s", key, tj.JobID, tj.JobName, rec.JobName)
		}
	}
	for _, rec := range last {
		if rec.Kind != KindItem && rec.State == StateSubmitted {
			usedNames[strings.ToLower(rec.JobName)] = true
		}
	}
	for name := range byName {
		if !usedNames[name] {
			t.Errorf("job %s of the run belongs to no item", name)
		}
	}
	// Every array's size is the number of items journaled in it.
	sizes := map[string]int{}
	for _, key := range keys {
		if rec := last[recKey(KindItem, key)]; rec != nil && rec.ArrayJobID != "" {
			sizes[rec.ArrayJobID]++
		}
	}
	for id, n := range sizes {
		if byID[id].ArraySize != n {
			t.Errorf("array %s has %d children, %d items are journaled in it", id, byID[id].ArraySize, n)
		}
	}
}
