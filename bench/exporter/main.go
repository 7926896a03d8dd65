// Command exporter-bench runs, side by side on one simulated account, the
// batchwatch exporter (list-then-watch, its own process) and the naive
// exporter design it replaces: a poller that, every scrape, lists every
// queue × every status × every page with ListJobs (default page size), and
// the children of every array job the same way. It prints how many Batch
// API calls each made, the ratio, the exporter's scrape time and memory,
// and how closely the exporter's queue gauges followed the simulator.
//
//	go build -o bin/batchwatch ./cmd/batchwatch
//	go run ./bench/exporter --batchwatch bin/batchwatch --duration 20m
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/sim"
)

// result is what the benchmark prints.
type result struct {
	Date             string  `json:"date"`
	CPUs             int     `json:"cpus"`
	Scenario         string  `json:"scenario"`
	Scale            float64 `json:"scale"`
	DurationSeconds  float64 `json:"duration_seconds"`
	JobsSubmitted    int     `json:"jobs_submitted"`
	JobsInFlightPeak int     `json:"jobs_in_flight_peak"`
	ScrapeInterval   string  `json:"scrape_interval"`

	PollerPageSize     int     `json:"poller_page_size"`
	PollerCalls        int64   `json:"poller_batch_calls"`
	PollerScrapes      int     `json:"poller_scrapes"`
	PollerCallsPerScr  float64 `json:"poller_calls_per_scrape_last"`
	PollerScrapeMaxSec float64 `json:"poller_scrape_max_seconds"`
	PollerErrors       int64   `json:"poller_errors"`

	ExporterCalls     int64              `json:"exporter_batch_calls"`
	ExporterCallsByOp map[string]float64 `json:"exporter_batch_calls_by_operation"`
	CallRatioPercent  float64            `json:"exporter_to_poller_calls_percent"`
	ExporterResyncs   float64            `json:"exporter_resyncs"`
	ResyncSeconds     float64            `json:"exporter_last_resync_seconds"`
	EventsApplied     float64            `json:"exporter_events_applied"`

	ScrapeMsP50 float64 `json:"exporter_scrape_ms_p50"`
	ScrapeMsP90 float64 `json:"exporter_scrape_ms_p90"`
	ScrapeMsMax float64 `json:"exporter_scrape_ms_max"`
	// CollectorMsMax is the slowest collector as the exporter timed it
	// (batchwatch_scrape_collector_duration_seconds).
	CollectorMsMax float64 `json:"exporter_collector_ms_max"`
	ScrapeSeries   int     `json:"exporter_scrape_series"`
	CPUSeconds     float64 `json:"exporter_cpu_seconds"`
	RSSMiB         float64 `json:"exporter_rss_mib_end"`
	RSSPeakMiB     float64 `json:"exporter_rss_mib_peak"`
	TrackedJobs    float64 `json:"exporter_tracked_jobs_end"`
	// Scrapes compared with the simulator, and of those the scrapes whose
	// every queue × status gauge equalled the simulator's count at some
	// moment of the 5 s before (all statuses, and all but SUBMITTED, which
	// AWS reports in no event).
	GaugeChecks               int  `json:"gauge_checks"`
	GaugeWithin5s             int  `json:"gauge_checks_all_within_5s"`
	GaugeWithin5sButSubmitted int  `json:"gauge_checks_all_but_submitted_within_5s"`
	GaugeSeries               int  `json:"gauge_series_checked"`
	GaugeSeriesLate           int  `json:"gauge_series_late"`
	GaugeLateSubmitted        int  `json:"gauge_series_late_submitted"`
	FinalExact                bool `json:"final_gauges_equal_truth"`
}

func main() {
	var (
		scenario   = flag.String("scenario", "exporter-100k", "simulator scenario")
		scale      = flag.Float64("scale", 1, "scenario scale")
		duration   = flag.Duration("duration", 20*time.Minute, "how long both run")
		seed       = flag.Uint64("seed", 1, "simulator seed")
		bin        = flag.String("batchwatch", "bin/batchwatch", "batchwatch binary (the exporter runs as its own process)")
		interval   = flag.Duration("scrape-interval", 15*time.Second, "scrape interval of both the poller and the exporter")
		pageSize   = flag.Int("poller-page-size", 100, "the poller's ListJobs maxResults")
		resync     = flag.Duration("resync-interval", 10*time.Minute, "the exporter's --exporter.resync-interval")
		apiRate    = flag.Float64("batch-api-rate", 2, "the exporter's --exporter.batch-api-rate")
		simAPIRate = flag.Float64("sim-api-rate", -1, "the simulator's shared Batch budget per second (negative: none, so the poller is not slowed down)")
		jsonOut    = flag.String("json", "", "also write the result as JSON to this file")
		verbose    = flag.Bool("verbose", false, "print each scrape's differences from the simulator to stderr")
	)
	flag.Parse()
	res, err := run(*scenario, *scale, *duration, *seed, *bin, *interval, *pageSize, *resync, *apiRate, *simAPIRate, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "exporter-bench:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	printTable(res)
	if *jsonOut != "" {
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "exporter-bench:", err)
			os.Exit(1)
		}
	}
}

func run(scenario string, scale float64, duration time.Duration, seed uint64, bin string, interval time.Duration,
	pageSize int, resync time.Duration, apiRate, simAPIRate float64, verbose bool) (*result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc, err := sim.LoadScenario(scenario)
	if err != nil {
		return nil, err
	}
	sc = sc.Scaled(scale)
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	simReg := prometheus.NewRegistry()
	s, err := sim.New(sim.Config{Scenario: sc, Speed: 1, Seed: seed, Registry: simReg, APIRate: simAPIRate, Logger: logrus.NewEntry(log)})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	simURL := "http://" + l.Addr().String()
	go func() { _ = s.Run(ctx) }()

	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": sc.Region} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	ac := &awsclient.Config{Region: sc.Region, EndpointURL: simURL, MaxAttempts: 10}
	awsCfg, err := awsclient.Load(ctx, ac)
	if err != nil {
		return nil, err
	}
	qOut, err := ac.SQS(awsCfg, awsclient.Options{}).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(sc.Delivery[0].Queue)})
	if err != nil {
		return nil, fmt.Errorf("exporter queue: %w", err)
	}

	// The exporter, in its own process so its memory is its own.
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	exporterAddr := el.Addr().String()
	_ = el.Close()
	cmd := exec.CommandContext(ctx, bin, "exporter", "--log.level=warn",
		"--web.listen-address="+exporterAddr, "--aws.endpoint-url="+simURL, "--aws.region="+sc.Region,
		"--exporter.sqs-queue-url="+aws.ToString(qOut.QueueUrl),
		"--exporter.resync-interval="+resync.String(), "--exporter.batch-api-rate="+strconv.FormatFloat(apiRate, 'f', -1, 64),
		"--exporter.cost-refresh-interval=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start exporter: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()

	res := &result{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), Scenario: scenario, Scale: scale,
		DurationSeconds: duration.Seconds(), ScrapeInterval: interval.String(), PollerPageSize: pageSize}
	p := &poller{api: ac.Batch(awsCfg, awsclient.Options{}), pageSize: int32(pageSize)}
	start := time.Now()
	end := start.Add(duration)

	// The simulator's own per-queue-and-status gauges, every 250 ms, so a
	// scrape can be compared with the truth of the last seconds.
	var snapMu sync.Mutex
	var snaps []truthSnap
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			if counts, err := simCounts(simReg); err == nil {
				snapMu.Lock()
				snaps = append(snaps, truthSnap{at: time.Now(), counts: counts})
				if len(snaps) > 30 {
					snaps = snaps[1:]
				}
				snapMu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()

	var scrapeMs []float64
	var peakInFlight int
	var lastPollerCalls int64
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for time.Now().Before(end) {
		// The poller's scrape: everything, every time.
		t0 := time.Now()
		before := p.calls.Load()
		p.scrape(ctx)
		res.PollerScrapes++
		res.PollerScrapeMaxSec = math.Max(res.PollerScrapeMaxSec, time.Since(t0).Seconds())
		lastPollerCalls = p.calls.Load() - before

		// The exporter's scrape: request to last byte, as Prometheus times it.
		t1 := time.Now()
		mfs, took, err := scrapeExporter(ctx, exporterAddr)
		if err == nil {
			scrapeMs = append(scrapeMs, float64(took.Microseconds())/1000)
			for _, m := range family(mfs, "batchwatch_scrape_collector_duration_seconds") {
				res.CollectorMsMax = math.Max(res.CollectorMsMax, 1000*m.GetGauge().GetValue())
			}
			if gauges, ok := queueGauges(mfs); ok {
				// Each gauge must equal the simulator's count at some
				// moment of the last 5 s (the snapshot taken right after
				// the scrape included).
				if after, err := simCounts(simReg); err == nil {
					snapMu.Lock()
					window := []map[string]int64{after}
					for _, sn := range snaps {
						if t1.Sub(sn.at) <= 5*time.Second {
							window = append(window, sn.counts)
						}
					}
					snapMu.Unlock()
					bad := lagging(gauges, window)
					res.GaugeChecks++
					res.GaugeSeries += len(bad.all)
					res.GaugeSeriesLate += len(bad.late)
					res.GaugeLateSubmitted += bad.submitted
					if len(bad.late) == 0 {
						res.GaugeWithin5s++
					}
					if len(bad.late) == bad.submitted {
						res.GaugeWithin5sButSubmitted++
					}
					if verbose && len(bad.late) > 0 {
						fmt.Fprintf(os.Stderr, "%s late: %s\n", t1.Format("15:04:05"), strings.Join(bad.late, " "))
					}
				}
			}
		}
		if counts, err := simCounts(simReg); err == nil {
			n := 0
			for k, v := range counts {
				if !strings.HasSuffix(k, "/SUCCEEDED") && !strings.HasSuffix(k, "/FAILED") {
					n += int(v)
				}
			}
			peakInFlight = max(peakInFlight, n)
		}
		if rss, peak, err := memory(cmd.Process.Pid); err == nil {
			res.RSSMiB, res.RSSPeakMiB = rss, peak
		}
		if cpu, err := cpuSeconds(cmd.Process.Pid); err == nil {
			res.CPUSeconds = cpu
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	res.DurationSeconds = time.Since(start).Seconds()
	res.PollerCalls = p.calls.Load()
	res.PollerErrors = p.errors.Load()
	res.PollerCallsPerScr = float64(lastPollerCalls)
	res.JobsInFlightPeak = peakInFlight
	res.JobsSubmitted = len(s.Truth())

	// Final: the exporter's own account of its calls, and its gauges against
	// the truth after events settle.
	mfs, _, err := scrapeExporter(ctx, exporterAddr)
	if err != nil {
		return nil, err
	}
	res.ExporterCallsByOp = map[string]float64{}
	for _, m := range family(mfs, "batchwatch_exporter_aws_calls_total") {
		if label(m, "service") == "Batch" {
			res.ExporterCallsByOp[label(m, "operation")] += m.GetCounter().GetValue()
			res.ExporterCalls += int64(m.GetCounter().GetValue())
		}
	}
	for _, m := range family(mfs, "batchwatch_exporter_resyncs_total") {
		if label(m, "result") == "success" {
			res.ExporterResyncs = m.GetCounter().GetValue()
		}
	}
	for _, m := range family(mfs, "batchwatch_exporter_resync_duration_seconds") {
		res.ResyncSeconds = m.GetGauge().GetValue()
	}
	for _, m := range family(mfs, "batchwatch_exporter_events_total") {
		if label(m, "result") == "applied" {
			res.EventsApplied = m.GetCounter().GetValue()
		}
	}
	for _, m := range family(mfs, "batchwatch_exporter_tracked_jobs") {
		res.TrackedJobs = m.GetGauge().GetValue()
	}
	for _, mf := range mfs {
		res.ScrapeSeries += len(mf.GetMetric())
	}
	if res.PollerCalls > 0 {
		res.CallRatioPercent = 100 * float64(res.ExporterCalls) / float64(res.PollerCalls)
	}
	sort.Float64s(scrapeMs)
	if n := len(scrapeMs); n > 0 {
		res.ScrapeMsP50, res.ScrapeMsP90, res.ScrapeMsMax = scrapeMs[n/2], scrapeMs[n*9/10], scrapeMs[n-1]
	}
	if gauges, ok := queueGauges(mfs); ok {
		if counts, err := simCounts(simReg); err == nil {
			res.FinalExact = absDiff(gauges, counts) == 0
		}
	}
	return res, nil
}

type truthSnap struct {
	at     time.Time
	counts map[string]int64
}

// poller is the naive exporter: every scrape lists everything.
type poller struct {
	api      *awsbatch.Client
	pageSize int32
	calls    atomic.Int64
	errors   atomic.Int64
}

var allStatuses = []batchtypes.JobStatus{"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}

func (p *poller) scrape(ctx context.Context) {
	var queues []string
	in := &awsbatch.DescribeJobQueuesInput{}
	for {
		p.calls.Add(1)
		out, err := p.api.DescribeJobQueues(ctx, in)
		if err != nil {
			p.errors.Add(1)
			return
		}
		for _, q := range out.JobQueues {
			queues = append(queues, aws.ToString(q.JobQueueName))
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	var parents []string
	for _, q := range queues {
		for _, st := range allStatuses {
			p.list(ctx, &awsbatch.ListJobsInput{JobQueue: aws.String(q), JobStatus: st}, func(s batchtypes.JobSummary) {
				if s.ArrayProperties != nil && aws.ToInt32(s.ArrayProperties.Size) > 0 {
					parents = append(parents, aws.ToString(s.JobId))
				}
			})
		}
	}
	for _, id := range parents {
		for _, st := range allStatuses {
			p.list(ctx, &awsbatch.ListJobsInput{ArrayJobId: aws.String(id), JobStatus: st}, func(batchtypes.JobSummary) {})
		}
	}
}

func (p *poller) list(ctx context.Context, in *awsbatch.ListJobsInput, fn func(batchtypes.JobSummary)) {
	in.MaxResults = aws.Int32(p.pageSize)
	for {
		p.calls.Add(1)
		out, err := p.api.ListJobs(ctx, in)
		if err != nil {
			p.errors.Add(1)
			return
		}
		for _, s := range out.JobSummaryList {
			fn(s)
		}
		if aws.ToString(out.NextToken) == "" {
			return
		}
		in.NextToken = out.NextToken
	}
}

// scrapeExporter gets the exporter's metrics and how long the request took
// up to the last byte (gzip accepted, as Prometheus does), parsing apart.
func scrapeExporter(ctx context.Context, addr string) (map[string]*dto.MetricFamily, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("exporter /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	return mfs, took, err
}

func family(mfs map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if mf := mfs[name]; mf != nil {
		return mf.GetMetric()
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// queueGauges sums the exporter's jobs and array children per queue and
// status (the simulator counts both alike); false before the first resync.
func queueGauges(mfs map[string]*dto.MetricFamily) (map[string]int64, bool) {
	out := map[string]int64{}
	jobs := family(mfs, "batchwatch_queue_jobs")
	if len(jobs) == 0 {
		return nil, false
	}
	for _, m := range append(jobs, family(mfs, "batchwatch_queue_array_child_jobs")...) {
		if v := int64(m.GetGauge().GetValue()); v != 0 {
			out[label(m, "job_queue")+"/"+label(m, "status")] += v
		}
	}
	return out, true
}

// simCounts reads batchwatch_sim_jobs{queue,status}.
func simCounts(g prometheus.Gatherer) (map[string]int64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, mf := range mfs {
		if mf.GetName() != "batchwatch_sim_jobs" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := int64(m.GetGauge().GetValue()); v != 0 {
				out[label(m, "queue")+"/"+label(m, "status")] = v
			}
		}
	}
	return out, nil
}

// lateness says which gauges equal the simulator at no moment of the window.
type lateness struct {
	all       []string
	late      []string
	submitted int
}

// lagging checks each queue × status gauge against the window's snapshots.
// The simulator's counts move by one job at a time, so between two
// snapshots they pass through every value in between: a gauge within the
// range of the window's snapshots equalled the truth at some moment of it.
func lagging(gauges map[string]int64, window []map[string]int64) lateness {
	keys := map[string]bool{}
	for k := range gauges {
		keys[k] = true
	}
	for _, w := range window {
		for k := range w {
			keys[k] = true
		}
	}
	var l lateness
	for k := range keys {
		l.all = append(l.all, k)
		lo, hi := window[0][k], window[0][k]
		for _, w := range window[1:] {
			lo, hi = min(lo, w[k]), max(hi, w[k])
		}
		ok := lo <= gauges[k] && gauges[k] <= hi
		if !ok {
			l.late = append(l.late, fmt.Sprintf("%s=%d(sim %d)", k, gauges[k], window[0][k]))
			if strings.HasSuffix(k, "/SUBMITTED") {
				l.submitted++
			}
		}
	}
	sort.Strings(l.late)
	return l
}

func absDiff(a, b map[string]int64) int64 {
	var d int64
	for k, v := range a {
		d += abs(v - b[k])
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d += abs(v)
		}
	}
	return d
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// memory reads VmRSS and VmHWM (peak) of a process, in MiB.
func memory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, perr := strconv.ParseFloat(fields[1], 64)
		if perr != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS")
	}
	return rss, peak, sc.Err()
}

// cpuSeconds reads a process's user and system CPU time (clock ticks of
// 1/100 s, as Linux reports them to user space).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	return (u + s) / 100, nil
}

func printTable(r *result) {
	w := os.Stdout
	fmt.Fprintf(w, "\n| | naive poller | batchwatch exporter |\n| --- | --- | --- |\n")
	fmt.Fprintf(w, "| Batch API calls in %.1f min | %d | %d (%.2f %%) |\n", r.DurationSeconds/60, r.PollerCalls, r.ExporterCalls, r.CallRatioPercent)
	fmt.Fprintf(w, "| calls per scrape (last) | %.0f | — |\n", r.PollerCallsPerScr)
	fmt.Fprintf(w, "| scrape time | %.1f s (max) | %.1f ms p50, %.1f ms p90, %.1f ms max (%d series; slowest collector %.1f ms) |\n",
		r.PollerScrapeMaxSec, r.ScrapeMsP50, r.ScrapeMsP90, r.ScrapeMsMax, r.ScrapeSeries, r.CollectorMsMax)
	fmt.Fprintf(w, "| RSS | — | %.0f MiB (peak %.0f MiB) |\n", r.RSSMiB, r.RSSPeakMiB)
	fmt.Fprintf(w, "| CPU | — | %.0f s in %.1f min |\n", r.CPUSeconds, r.DurationSeconds/60)
	fmt.Fprintf(w, "| scrapes whose every queue gauge equals the simulator within 5 s | — | %d of %d (all but SUBMITTED: %d of %d) |\n",
		r.GaugeWithin5s, r.GaugeChecks, r.GaugeWithin5sButSubmitted, r.GaugeChecks)
	fmt.Fprintf(w, "| queue × status gauges late by more than 5 s | — | %d of %d (%d of them SUBMITTED) |\n", r.GaugeSeriesLate, r.GaugeSeries, r.GaugeLateSubmitted)
}
