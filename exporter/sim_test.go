package exporter

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
)

// simEnv is the simulator in process, served on a local address, with SDK
// clients built the way the exporter command builds them.
type simEnv struct {
	s       *sim.Sim
	url     string
	runDone chan struct{}
	ac      *awsclient.Config
	awsCfg  aws.Config
	sqs     *sqs.Client
	ce      *costexplorer.Client
	qURL    string
}

// simStart is when the simulated runs begin: late in the day, so that they
// cross midnight and Cost Explorer has a "yesterday".
var simStart = time.Date(2026, 11, 20, 23, 45, 0, 0, time.UTC)

func startSim(t *testing.T, scenario string, seed uint64) *simEnv {
	t.Helper()
	b, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(sim.Config{Scenario: sc, Seed: seed, Speed: 0, ExitWhenDone: true, APIRate: -1,
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return simStart },
		Logger: logging.Discard().WithField("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	env := &simEnv{s: s, url: srv.URL, runDone: make(chan struct{})}
	env.ac = &awsclient.Config{Region: sc.Region, EndpointURL: srv.URL, MaxAttempts: 10}
	env.awsCfg, err = awsclient.Load(context.Background(), env.ac)
	if err != nil {
		t.Fatal(err)
	}
	env.sqs = env.ac.SQS(env.awsCfg, awsclient.Options{})
	env.ce = env.ac.CostExplorer(env.awsCfg, awsclient.Options{})
	out, err := env.sqs.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("batchwatch-exporter")})
	if err != nil {
		t.Fatal(err)
	}
	env.qURL = aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return env
}

// run drives the simulation to its end in the background.
func (e *simEnv) run(ctx context.Context) {
	go func() {
		defer close(e.runDone)
		_ = e.s.Run(ctx)
	}()
}

func (e *simEnv) now() time.Time { return time.UnixMilli(e.s.Now()) }

// exporter builds an exporter on the simulator with its own registry.
func (e *simEnv) exporter(t *testing.T, cfg *Config, withSQS bool) (*Exporter, *prometheus.Registry) {
	t.Helper()
	cfg.ResyncInterval = 100 * time.Millisecond
	cfg.CapacityInterval = 100 * time.Millisecond
	cfg.BatchAPIRate = 2000
	cfg.FinishedWindow = 24 * time.Hour
	cfg.DescribeLimit, cfg.DedupCapacity, cfg.CostDailyCalls = 1000, 100000, 48
	cfg.SQSReceivers, cfg.SQSWaitTime = 3, time.Second
	cfg.TierTag = "tier"
	cfg.CostTags = []string{"team", "tier"}
	if withSQS {
		cfg.SQSQueueURL = e.qURL
	}
	// The scenario's compute environments tag their instances with their
	// own names.
	cfg.CostComputeEnvironmentTag = "batchwatch-ce"
	if err := cfg.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := awsclient.NewMetrics(reg, "batchwatch_exporter")
	deps := Deps{
		Batch:    e.ac.Batch(e.awsCfg, awsclient.Options{Metrics: m, Limiter: rate.NewLimiter(rate.Limit(cfg.BatchAPIRate), 100)}),
		Registry: reg, Now: e.now, Logger: logging.Discard().WithField("test", t.Name()),
	}
	if withSQS {
		deps.SQS = e.ac.SQS(e.awsCfg, awsclient.Options{Metrics: m})
	}
	if cfg.CostRefreshInterval > 0 {
		deps.CostExplorer = e.ac.CostExplorer(e.awsCfg, awsclient.Options{Metrics: m})
	}
	x, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return x, reg
}

// waitDrained waits until the simulation ended and the exporter's queue
// holds no message, visible or in flight: every event is applied.
func (e *simEnv) waitDrained(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	select {
	case <-e.runDone:
	case <-ctx.Done():
		t.Fatal("simulation did not end")
	}
	if err := e.s.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		visible, inflight, delayed, err := e.s.Queues().Stats("batchwatch-exporter")
		if err != nil {
			t.Fatal(err)
		}
		if visible+inflight+delayed == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("exporter queue not drained: %d visible, %d in flight", visible, inflight)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// truthCounts counts the simulator's ground truth like batchwatch_queue_jobs
// and batchwatch_queue_array_child_jobs.
func truthCounts(truth []sim.TruthJob, nowMs int64, window time.Duration) map[string]int64 {
	out := map[string]int64{}
	for _, j := range truth {
		if (j.Status == "SUCCEEDED" || j.Status == "FAILED") && j.StoppedAtMS < nowMs-window.Milliseconds() {
			continue
		}
		kind := "jobs"
		if j.ArrayParentID != "" {
			kind = "children"
		}
		out[kind+"/"+j.JobQueue+"/"+j.Status]++
	}
	return out
}

// expectedFromTruth computes the job counters and histogram sums and
// counts from the per-job truth, independently of the event parser.
func expectedFromTruth(truth []sim.TruthJob) map[string]float64 {
	out := map[string]float64{}
	for _, j := range truth {
		def := definitionName(j.JobDefinition)
		tier := j.Tags["tier"]
		key := j.JobQueue + "/" + def + "/" + tier
		kind := "single"
		switch {
		case j.ArraySize > 0:
			kind = "array_parent"
		case j.ArrayParentID != "":
			kind = "array_child"
		}
		if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
			out["finished/"+key+"/"+j.Status+"/"+kind]++
		}
		if kind == "array_parent" {
			continue
		}
		first := int64(0)
		for i, a := range j.AttemptsInfo {
			out["attempts/"+key]++
			if i > 0 {
				out["retries/"+key]++
			}
			if strings.HasPrefix(a.StatusReason, "Host EC2") {
				out["spot/"+j.JobQueue]++
			}
			if a.StartedAtMS > 0 {
				out["attempt_sum/"+key] += float64(a.StoppedAtMS-a.StartedAtMS) / 1000
				out["attempt_count/"+key]++
				if first == 0 || a.StartedAtMS < first {
					first = a.StartedAtMS
				}
			}
		}
		if first > 0 {
			out["wait_sum/"+key] += float64(first-j.CreatedAtMS) / 1000
			out["wait_count/"+key]++
		}
		if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
			out["total_sum/"+key] += float64(j.StoppedAtMS-j.CreatedAtMS) / 1000
			out["total_count/"+key]++
		}
		if j.Status == "FAILED" {
			out["failures/"+key]++
			class := "none"
			if j.ExitCode != nil {
				switch c := *j.ExitCode; {
				case c == 1 || c == 126 || c == 127 || c == 137 || c == 139 || c == 143:
					class = fmt.Sprint(c)
				case c >= 2 && c <= 125:
					class = "2-125"
				default:
					class = "other"
				}
			}
			out["exit/"+j.JobQueue+"/"+class]++
		}
	}
	return out
}

// actualFromRegistry reads the same numbers from the exporter's metrics.
func actualFromRegistry(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			key := l["job_queue"] + "/" + l["job_definition"] + "/" + l["tier"]
			switch mf.GetName() {
			case "batchwatch_jobs_finished_total":
				out["finished/"+key+"/"+l["status"]+"/"+l["kind"]] += m.GetCounter().GetValue()
			case "batchwatch_job_attempts_total":
				out["attempts/"+key] += m.GetCounter().GetValue()
			case "batchwatch_job_retries_total":
				out["retries/"+key] += m.GetCounter().GetValue()
			case "batchwatch_job_spot_reclaims_total":
				out["spot/"+l["job_queue"]] += m.GetCounter().GetValue()
			case "batchwatch_job_failures_total":
				out["failures/"+key] += m.GetCounter().GetValue()
			case "batchwatch_job_failures_by_exit_code_total":
				out["exit/"+l["job_queue"]+"/"+l["exit_code_class"]] += m.GetCounter().GetValue()
			case "batchwatch_job_attempt_duration_seconds":
				out["attempt_sum/"+key] += m.GetHistogram().GetSampleSum()
				out["attempt_count/"+key] += float64(m.GetHistogram().GetSampleCount())
			case "batchwatch_job_queue_wait_seconds":
				out["wait_sum/"+key] += m.GetHistogram().GetSampleSum()
				out["wait_count/"+key] += float64(m.GetHistogram().GetSampleCount())
			case "batchwatch_job_total_duration_seconds":
				out["total_sum/"+key] += m.GetHistogram().GetSampleSum()
				out["total_count/"+key] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func diffFloats(want, got map[string]float64) string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if math.Abs(want[k]-got[k]) > 1e-6*math.Max(1, math.Abs(want[k])) {
			out = append(out, fmt.Sprintf("%s: want %v, got %v", k, want[k], got[k]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, p := range m.GetLabel() {
				if v, ok := labels[p.GetName()]; ok && v != p.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestAgainstSimulator runs the exporter (SQS consumers, pages of 3 jobs)
// while the simulator plays a seeded workload on virtual time, then checks
// every gauge, counter and histogram against the simulator's ground truth:
// after the last event, after a final resync, and after a restart that
// rebuilds from one resync. With "events" only the first resync (of empty
// queues) runs before the end, so the events alone must keep the gauges
// exact; with "resyncs" resyncs run every 20 ms while events arrive.
func TestAgainstSimulator(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resync time.Duration
		seed   uint64
	}{{"events", time.Hour, 42}, {"resyncs", 20 * time.Millisecond, 43}} {
		t.Run(tc.name, func(t *testing.T) { testAgainstSimulator(t, tc.resync, tc.seed) })
	}
}

func testAgainstSimulator(t *testing.T, resync time.Duration, seed uint64) {
	env := startSim(t, "testdata/sim-exporter.yaml", seed)
	x, reg := env.exporter(t, &Config{PageSize: 3, CostRefreshInterval: 6 * time.Hour}, true)
	x.cfg.ResyncInterval = resync
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error)
	go func() { runDone <- x.Run(ctx) }()
	// The first resync (of empty queues) completes before the workload.
	for deadline := time.Now().Add(time.Minute); !x.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no first resync")
		}
	}
	env.run(ctx)
	env.waitDrained(t)
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	truth := env.s.Truth()
	if len(truth) < 100 {
		t.Fatalf("only %d jobs in the truth", len(truth))
	}
	nowMs := env.s.Now()
	window := 24 * time.Hour
	if !x.Ready() {
		t.Fatal("no resync completed during the run")
	}
	if d := diffCounts(truthCounts(truth, nowMs, window), stateCounts(x.State())); d != "" {
		t.Fatalf("after the last event, gauges differ from the truth:\n%s", d)
	}
	if err := x.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffCounts(truthCounts(truth, nowMs, window), stateCounts(x.State())); d != "" {
		t.Fatalf("after a final resync, gauges differ from the truth:\n%s", d)
	}
	resyncs := counterValue(t, reg, "batchwatch_exporter_resyncs_total", map[string]string{"result": "success"})
	lists := counterValue(t, reg, "batchwatch_exporter_aws_calls_total", map[string]string{"operation": "ListJobs"})
	if resyncs < 2 || lists <= resyncs*3*5 {
		t.Fatalf("%v resyncs made %v ListJobs calls: never more than one page", resyncs, lists)
	}
	if resync == time.Hour && resyncs != 2 {
		t.Fatalf("%v resyncs, want the first and the final one", resyncs)
	}

	if d := diffFloats(expectedFromTruth(truth), actualFromRegistry(t, reg)); d != "" {
		t.Fatalf("job counters and histograms differ from the truth:\n%s", d)
	}

	// The two huge jobs can never run: unschedulable for memory, and the
	// queue reported blocked (the twenty jobs behind them fit).
	var stuck QueueSnapshot
	for _, q := range x.State().Snapshot() {
		if q.Name == "stuck" {
			stuck = q
		}
	}
	if stuck.Unsched[resMemory] != 2 || stuck.Fit == nil || stuck.Fit.max.memMiB != 15401 {
		t.Errorf("stuck queue: unschedulable %v, fit %+v", stuck.Unsched, stuck.Fit)
	}
	if got := counterValue(t, reg, "batchwatch_queue_blocked_events_total", map[string]string{"job_queue": "stuck", "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"}); got < 1 {
		t.Errorf("%v blocked events on the stuck queue", got)
	}

	// Actual cost equals what the simulator's Cost Explorer says for the
	// same tags, asked another way (monthly, and one day).
	if err := x.RefreshCost(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, _ := x.cost.snapshot()
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Period+"/"+strings.Join(r.Tags, "/")] += r.USD
	}
	want := map[string]float64{}
	now := env.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		period, granularity string
		start, end          time.Time
	}{
		{PeriodMonthToDate, "MONTHLY", monthStart, today.AddDate(0, 0, 1)},
		{PeriodYesterday, "DAILY", today.AddDate(0, 0, -1), today},
	} {
		in := &costexplorer.GetCostAndUsageInput{
			Granularity: cetypes.Granularity(q.granularity), Metrics: []string{"UnblendedCost"},
			TimePeriod: &cetypes.DateInterval{Start: aws.String(q.start.Format("2006-01-02")), End: aws.String(q.end.Format("2006-01-02"))},
			GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String("team")},
				{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String("tier")}},
		}
		for {
			out, err := env.ce.GetCostAndUsage(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.ResultsByTime {
				for _, g := range r.Groups {
					_, team, _ := strings.Cut(g.Keys[0], "$")
					_, tier, _ := strings.Cut(g.Keys[1], "$")
					want[q.period+"/"+team+"/"+tier] += amount(g.Metrics["UnblendedCost"])
				}
			}
			if aws.ToString(out.NextPageToken) == "" {
				break
			}
			in.NextPageToken = out.NextPageToken
		}
	}
	for k, v := range got {
		if v == 0 && want[k] == 0 {
			delete(got, k)
		}
	}
	if len(want) < 4 {
		t.Fatalf("the simulator's Cost Explorer has too little to compare: %v", want)
	}
	if d := diffFloats(want, got); d != "" {
		t.Fatalf("actual cost differs from the simulator's Cost Explorer:\n%s", d)
	}
	checkIdleCost(t, env, x, reg, truth)
	ceCalls := counterValue(t, reg, "batchwatch_exporter_aws_calls_total", map[string]string{"operation": "GetCostAndUsage"})
	if ceCalls < 2 || ceCalls > 48 || float64(x.cost.callsLastDay()) != ceCalls {
		t.Fatalf("%v Cost Explorer calls (budget 48 a day)", ceCalls)
	}

	// A restart rebuilds the gauges from one resync.
	y, _ := env.exporter(t, &Config{PageSize: 3, ListFinishedOnStart: true}, false)
	if err := y.RefreshCapacity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := y.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := diffCounts(truthCounts(truth, nowMs, window), stateCounts(y.State())); d != "" {
		t.Fatalf("after a restart, gauges differ from the truth:\n%s", d)
	}
	lint(t, reg)
}

// TestSimListJobsCalls checks the resync's call count on the simulator:
// one call per queue and active status, one DescribeJobs for the array
// parents, and one call per non-empty child status.
func TestSimListJobsCalls(t *testing.T) {
	env := startSim(t, "testdata/sim-exporter.yaml", 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.run(ctx)
	env.waitDrainedSim(t)
	x, reg := env.exporter(t, &Config{PageSize: 1000}, false)
	if err := x.RefreshCapacity(ctx); err != nil {
		t.Fatal(err)
	}
	before := counterValue(t, reg, "batchwatch_exporter_aws_calls_total", nil)
	if err := x.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	calls := counterValue(t, reg, "batchwatch_exporter_aws_calls_total", nil) - before
	// 3 queues × 5 active statuses, DescribeJobDefinitions for the
	// definitions seen; the arrays are finished: no child listing.
	if calls != 3*5+1 {
		t.Fatalf("%v Batch calls for a resync of 3 queues, want 16", calls)
	}
	out, err := env.ac.Batch(env.awsCfg, awsclient.Options{}).ListJobs(ctx, &awsbatch.ListJobsInput{JobQueue: aws.String("stuck"), JobStatus: "RUNNABLE"})
	if err != nil || len(out.JobSummaryList) != 22 {
		t.Fatalf("stuck queue: %v jobs RUNNABLE, %v", len(out.JobSummaryList), err)
	}
}

// waitDrainedSim waits for the end of the simulation only.
func (e *simEnv) waitDrainedSim(t *testing.T) {
	t.Helper()
	select {
	case <-e.runDone:
	case <-time.After(2 * time.Minute):
		t.Fatal("simulation did not end")
	}
}

// simCost asks the simulator's Cost Explorer for the cost grouped by one
// tag over [start, end) at a granularity, pages included, summed by the
// tag's value.
func simCost(t *testing.T, env *simEnv, key, granularity string, start, end time.Time) map[string]float64 {
	t.Helper()
	in := &costexplorer.GetCostAndUsageInput{
		Granularity: cetypes.Granularity(granularity), Metrics: []string{"UnblendedCost"},
		TimePeriod: &cetypes.DateInterval{Start: aws.String(start.Format("2006-01-02")), End: aws.String(end.Format("2006-01-02"))},
		GroupBy:    []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String(key)}},
	}
	out := map[string]float64{}
	for {
		page, err := env.ce.GetCostAndUsage(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.ResultsByTime {
			for _, g := range r.Groups {
				k, v, _ := strings.Cut(g.Keys[0], "$")
				if k != key {
					t.Fatalf("group key %q, want %s$<value>", g.Keys[0], key)
				}
				out[v] += amount(g.Metrics["UnblendedCost"])
			}
		}
		if aws.ToString(page.NextPageToken) == "" {
			return out
		}
		in.NextPageToken = page.NextPageToken
	}
}

// attributedFromTruth is the estimated cost of every attempt of the truth,
// at the exporter's prices, per UTC day and compute environment: in the
// scenario only etl runs, on spot (spot attempts) or ondemand.
func attributedFromTruth(truth []sim.TruthJob, prices map[string]Price) map[time.Time]map[string]float64 {
	out := map[time.Time]map[string]float64{}
	for _, j := range truth {
		if j.ArraySize > 0 {
			continue
		}
		for _, a := range j.AttemptsInfo {
			if a.StartedAtMS <= 0 || a.StoppedAtMS < a.StartedAtMS {
				continue
			}
			ce, p := "ondemand", prices[CapacityOnDemand]
			if a.Spot {
				ce, p = "spot", prices[CapacitySpot]
			}
			perSec := (j.VCPUs*p.VCPUHour + float64(j.MemoryMiB)/1024*p.GiBHour + float64(j.GPUs)*p.GPUHour) / 3600
			for from := time.UnixMilli(a.StartedAtMS).UTC(); ; {
				day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
				to := time.UnixMilli(a.StoppedAtMS).UTC()
				if next := day.AddDate(0, 0, 1); next.Before(to) {
					to = next
				}
				if out[day] == nil {
					out[day] = map[string]float64{}
				}
				out[day][ce] += perSec * to.Sub(from).Seconds()
				if !to.Before(time.UnixMilli(a.StoppedAtMS)) {
					break
				}
				from = to
			}
		}
	}
	return out
}

// checkIdleCost compares the exporter's actual, attributed and idle cost
// per compute environment with the simulator's Cost Explorer grouped by
// the compute environments' tag (asked monthly and daily) and the estimate
// computed from the truth.
func checkIdleCost(t *testing.T, env *simEnv, x *Exporter, reg *prometheus.Registry, truth []sim.TruthJob) {
	t.Helper()
	_, at := x.cost.ceSnapshot()
	at = at.UTC()
	today := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
	monthStart := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
	periods := []struct {
		name, granularity string
		start, end        time.Time
	}{
		{PeriodMonthToDate, "MONTHLY", monthStart, today.AddDate(0, 0, 1)},
		{PeriodYesterday, "DAILY", today.AddDate(0, 0, -1), today},
	}
	byDay := attributedFromTruth(truth, x.cfg.File.Prices)
	want := map[string]float64{}
	for _, p := range periods {
		actual := simCost(t, env, "batchwatch-ce", p.granularity, p.start, p.end)
		attributed := map[string]float64{}
		for day, ces := range byDay {
			if !day.Before(p.start) && day.Before(p.end) {
				for ce, usd := range ces {
					attributed[ce] += usd
				}
			}
		}
		for _, ce := range []string{"spot", "ondemand"} {
			want["actual/"+p.name+"/"+ce] = actual[ce]
			want["attributed/"+p.name+"/"+ce] = attributed[ce]
			want["idle/"+p.name+"/"+ce] = actual[ce] - attributed[ce]
		}
	}
	if want["actual/"+PeriodYesterday+"/spot"] == 0 || want["attributed/"+PeriodYesterday+"/spot"] == 0 ||
		want["idle/"+PeriodMonthToDate+"/ondemand"] <= 0 {
		t.Fatalf("too little cost to compare: %v", want)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		kind, ok := map[string]string{"batchwatch_cost_compute_environment_actual_usd": "actual",
			"batchwatch_cost_attributed_usd": "attributed", "batchwatch_cost_idle_usd": "idle"}[mf.GetName()]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			got[kind+"/"+l["period"]+"/"+l["compute_environment"]] = m.GetGauge().GetValue()
		}
	}
	if d := diffFloats(want, got); d != "" {
		t.Fatalf("idle cost differs from the simulator's bill minus the truth's estimate:\n%s", d)
	}
}
