//go:build integration

package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// config is one load test: how much of the day, how fast, which faults and
// which crashes.
type config struct {
	scale   float64  // of zendesk-day
	speed   float64  // simulated seconds per real second
	hostile int      // bad messages mixed into ingest's queue
	faults  []string // --fault rules of the simulator
	// privateClickHouse: a server of the test's own, which it may restart.
	privateClickHouse bool
	sample            time.Duration // sampling period of the metrics
}

// proc is one component: the process running now and how to start another.
type proc struct {
	name     string
	args     []string
	env      []string
	addr     string // its /metrics address
	cur      *testenv.Process
	starts   int
	killed   int
	startedA []time.Time // wall time of each start
	peakRSS  int64       // bytes, over all its processes
}

// run is a load test in progress.
type run struct {
	t         *testing.T
	cfg       config
	bin       string
	simURL    string
	chAddr    string
	db        string
	st        *store.Store
	private   *testenv.PrivateClickHouse
	sqs       *awssqs.Client
	sim       *proc
	ingest    *proc
	exporter  *proc
	began     time.Time
	mu        sync.Mutex
	samples   []sample
	chPeakRSS int64
	events    []string // what the harness did, with times, for the report
}

const account = "123456789012"

var awsEnv = []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=loadtest", "AWS_SECRET_ACCESS_KEY=loadtest", "AWS_EC2_METADATA_DISABLED=true"}

// startRun starts ClickHouse (private or a database on the shared one),
// the simulator with its faults, ingest and the exporter.
func startRun(t *testing.T, cfg config) *run {
	t.Helper()
	r := &run{t: t, cfg: cfg, bin: testenv.BuildBatchwatch(t)}
	chCfg := testenv.ClickHouseConfig(t)
	if cfg.privateClickHouse {
		r.private = testenv.StartPrivateClickHouse(t)
		chCfg.Addrs = []string{r.private.Addr}
	}
	r.chAddr, r.db = chCfg.Addrs[0], chCfg.Database
	st, err := store.Open(chCfg, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	r.st = st

	simAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r.simURL = "http://" + simAddr
	args := []string{"sim", "--scenario", "zendesk-day", "--listen", simAddr,
		"--scale", strconv.FormatFloat(cfg.scale, 'f', -1, 64), "--speed", strconv.FormatFloat(cfg.speed, 'f', -1, 64),
		"--seed", "15", "--hostile", strconv.Itoa(cfg.hostile), "--hostile.queue", "batchwatch-ingest", "--log.level", "warn"}
	for _, f := range cfg.faults {
		args = append(args, "--fault", f)
	}
	r.sim = &proc{name: "sim", args: args, addr: simAddr}
	r.start(r.sim, r.simURL+"/-/ready")
	r.began = time.Now()
	r.sqs = r.sqsClient()
	r.addDeadLetterQueues()

	ingAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r.ingest = &proc{name: "ingest", env: awsEnv, addr: ingAddr, args: []string{"ingest",
		"--aws.endpoint-url", r.simURL, "--web.listen-address", ingAddr,
		"--sqs.queue-url", r.simURL + "/" + account + "/batchwatch-ingest", "--sqs.wait-time", "1s",
		"--sqs.visibility-timeout", "20s", "--clickhouse.addr", r.chAddr, "--clickhouse.database", r.db,
		"--retention.interval", "0s", "--no-migrate", "--log.level", "warn"}}
	r.start(r.ingest, "http://"+ingAddr+"/-/ready")
	expAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r.exporter = &proc{name: "exporter", env: awsEnv, addr: expAddr, args: []string{"exporter",
		"--aws.endpoint-url", r.simURL, "--web.listen-address", expAddr,
		"--exporter.sqs-queue-url", r.simURL + "/" + account + "/batchwatch-exporter", "--exporter.sqs-wait-time", "1s",
		"--exporter.resync-interval", "10s", "--exporter.capacity-interval", "30s", "--exporter.batch-api-rate", "10",
		"--exporter.finished-window", "10000h", "--exporter.list-finished-on-start",
		"--exporter.tier-tag", "tier", "--log.level", "warn"}}
	r.start(r.exporter, "http://"+expAddr+"/metrics")
	return r
}

func (r *run) logf(format string, args ...any) {
	msg := fmt.Sprintf("%6.1fs  ", time.Since(r.began).Seconds()) + fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.events = append(r.events, msg)
	r.mu.Unlock()
	r.t.Log(msg)
}

// start starts (or restarts) a component and waits until ready answers.
func (r *run) start(p *proc, ready string) {
	r.t.Helper()
	cur := testenv.StartProcess(r.t, fmt.Sprintf("%s-%d", p.name, p.starts+1), p.env, r.bin, p.args...)
	r.mu.Lock()
	p.starts++
	p.cur = cur
	p.startedA = append(p.startedA, time.Now())
	r.mu.Unlock()
	testenv.WaitFor(r.t, 90*time.Second, p.name+" ready", testenv.HTTPOK(ready), cur)
}

// kill SIGKILLs a component and starts it again.
func (r *run) kill(p *proc, ready string) {
	r.t.Helper()
	r.mu.Lock()
	r.notePeak(p)
	r.mu.Unlock()
	p.cur.Kill()
	p.killed++
	r.logf("SIGKILL %s (kill %d)", p.name, p.killed)
	r.start(p, ready)
	r.logf("%s restarted", p.name)
}

func (r *run) sqsClient() *awssqs.Client {
	r.t.Helper()
	for _, kv := range awsEnv {
		k, v, _ := strings.Cut(kv, "=")
		r.t.Setenv(k, v)
	}
	ac := &awsclient.Config{Region: "us-east-1", EndpointURL: r.simURL, MaxAttempts: 20}
	cfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		r.t.Fatal(err)
	}
	return ac.SQS(cfg, awsclient.Options{})
}

// addDeadLetterQueues gives both queues a dead-letter queue after 10
// receives, as deploy/'s CloudFormation does.
func (r *run) addDeadLetterQueues() {
	ctx := context.Background()
	for _, q := range []string{"batchwatch-ingest", "batchwatch-exporter"} {
		if _, err := r.sqs.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(q + "-dlq")}); err != nil {
			r.t.Fatalf("create %s-dlq: %v", q, err)
		}
		policy := fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:%s:%s-dlq","maxReceiveCount":"10"}`, account, q)
		if _, err := r.sqs.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{
			QueueUrl: aws.String(r.queueURL(q)), Attributes: map[string]string{"RedrivePolicy": policy},
		}); err != nil {
			r.t.Fatalf("redrive policy of %s: %v", q, err)
		}
	}
}

func (r *run) queueURL(name string) string { return r.simURL + "/" + account + "/" + name }

// queueDepth is visible + in flight + delayed messages of a queue.
func (r *run) queueDepth(name string) int {
	out, err := r.sqs.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(r.queueURL(name)),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
			"ApproximateNumberOfMessagesDelayed"},
	})
	if err != nil {
		r.t.Fatalf("attributes of %s: %v", name, err)
	}
	n := 0
	for _, v := range out.Attributes {
		x, _ := strconv.Atoi(v)
		n += x
	}
	return n
}

// scrape reads one Prometheus text exposition into series → value.
func scrape(addr string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// sum adds the series of one metric whose labels contain every given
// label="value".
func sum(m map[string]float64, name string, labels ...string) float64 {
	total := 0.0
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(k, l) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

func labelsOf(series string) map[string]string {
	out := map[string]string{}
	for _, m := range labelRE.FindAllStringSubmatch(series, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// rss returns the resident and peak resident memory of a process, bytes.
func rss(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return cur, peak
}

func (r *run) notePeak(p *proc) {
	if _, peak := rss(p.cur.PID()); peak > p.peakRSS {
		p.peakRSS = peak
	}
}

// truthJob is the part of the simulator's truth the checks read.
type truthJob struct {
	JobID         string            `json:"job_id"`
	JobName       string            `json:"job_name"`
	JobQueue      string            `json:"job_queue"`
	Status        string            `json:"status"`
	Attempts      int               `json:"attempts"`
	CreatedAtMS   int64             `json:"created_at_ms"`
	StartedAtMS   int64             `json:"started_at_ms"`
	StoppedAtMS   int64             `json:"stopped_at_ms"`
	ArrayParentID string            `json:"array_parent_id"`
	ArraySize     int               `json:"array_size"`
	Events        int               `json:"events"`
	Tags          map[string]string `json:"tags"`
}

func (r *run) truth() []truthJob {
	r.t.Helper()
	resp, err := http.Get(r.simURL + "/sim/truth")
	if err != nil {
		r.t.Fatalf("truth: %v", err)
	}
	defer resp.Body.Close()
	var out []truthJob
	dec := json.NewDecoder(resp.Body)
	for {
		var j truthJob
		if err := dec.Decode(&j); err == io.EOF {
			return out
		} else if err != nil {
			r.t.Fatalf("truth: %v", err)
		}
		out = append(out, j)
	}
}

func terminal(s string) bool { return s == "SUCCEEDED" || s == "FAILED" }

// simJobs counts the simulator's jobs not yet finished, and all of them,
// from its batchwatch_sim_jobs gauge (cheaper than the truth).
func (r *run) simJobs() (active, total int, err error) {
	m, err := scrape(r.sim.addr)
	if err != nil {
		return 0, 0, err
	}
	for k, v := range m {
		if name, _, _ := strings.Cut(k, "{"); name != "batchwatch_sim_jobs" {
			continue
		}
		total += int(v)
		if !terminal(labelsOf(k)["status"]) {
			active += int(v)
		}
	}
	return active, total, nil
}

// waitDayDone waits until every job of the simulator is terminal, every
// bad message sent and both queues are empty.
func (r *run) waitDayDone(timeout time.Duration) {
	r.t.Helper()
	testenv.WaitFor(r.t, timeout, "every simulated job to finish", func() (bool, string) {
		active, total, err := r.simJobs()
		if err != nil {
			return false, err.Error()
		}
		m, err := scrape(r.sim.addr)
		if err != nil {
			return false, err.Error()
		}
		done, outbox := sum(m, "batchwatch_sim_done"), sum(m, "batchwatch_sim_outbox_events")
		return done == 1 && outbox == 0 && active == 0, fmt.Sprintf("%d of %d jobs not finished, done %v, %v events to deliver", active, total, done, outbox)
	}, r.sim.cur)
	r.logf("every simulated job finished")
	testenv.WaitFor(r.t, timeout, "both queues to drain", func() (bool, string) {
		i, e := r.queueDepth("batchwatch-ingest"), r.queueDepth("batchwatch-exporter")
		return i == 0 && e == 0, fmt.Sprintf("ingest queue %d, exporter queue %d", i, e)
	}, r.sim.cur, r.ingest.cur, r.exporter.cur)
	r.logf("both queues drained")
}

// checkAll runs the end checks every load test shares and returns the
// figures for the report.
func (r *run) checkAll() result {
	r.t.Helper()
	truth := r.truth()
	res := result{jobs: len(truth)}
	simM, err := scrape(r.sim.addr)
	if err != nil {
		r.t.Fatalf("simulator metrics: %v", err)
	}
	res.emitted = int(sum(simM, "batchwatch_sim_events_emitted_total"))
	res.injected = injectedFaults(simM)
	r.checkEvents(&res)
	r.checkJobs(truth, &res)
	r.checkQuarantine(&res)
	r.checkDLQs(&res)
	r.checkGauges(truth, &res)
	r.checkAlive()
	return res
}

// result holds what the checks found.
type result struct {
	jobs, emitted                int
	eventsStored, eventsDistinct int
	jobsDiffering, jobsMissing   int
	quarantined                  int
	dlq                          map[string]int
	gaugesDiffering              int
	injected                     map[string]float64
	submitted, submittedJobs     int
}

func (r *run) query(q string, dest ...any) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.st.Conn().QueryRow(ctx, q).Scan(dest...); err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
}

// checkEvents: every emitted event id is in events FINAL exactly once.
func (r *run) checkEvents(res *result) {
	var rows, distinct uint64
	r.query("SELECT count(), uniqExact(event_id) FROM "+r.st.Table("events")+" FINAL", &rows, &distinct)
	res.eventsStored, res.eventsDistinct = int(rows), int(distinct)
	if rows != distinct || int(distinct) != res.emitted {
		r.t.Errorf("events FINAL: %d rows, %d distinct ids; the simulator emitted %d", rows, distinct, res.emitted)
	}
}

// checkJobs: jobs FINAL equals the simulator's truth for every job.
func (r *run) checkJobs(truth []truthJob, res *result) {
	ctx := context.Background()
	rows, err := r.st.Conn().Query(ctx, "SELECT job_id, job_queue, status, attempts, created_at_ms, started_at_ms, stopped_at_ms, array_parent_id FROM "+r.st.Table("jobs")+" FINAL")
	if err != nil {
		r.t.Fatal(err)
	}
	type row struct {
		queue, status, parent     string
		attempts                  uint16
		created, started, stopped int64
	}
	got := map[string]row{}
	for rows.Next() {
		var id string
		var x row
		if err := rows.Scan(&id, &x.queue, &x.status, &x.attempts, &x.created, &x.started, &x.stopped, &x.parent); err != nil {
			r.t.Fatal(err)
		}
		got[id] = x
	}
	rows.Close()
	for _, j := range truth {
		x, ok := got[j.JobID]
		want := row{j.JobQueue, j.Status, j.ArrayParentID, uint16(j.Attempts), j.CreatedAtMS, j.StartedAtMS, j.StoppedAtMS}
		switch {
		case !ok:
			res.jobsMissing++
		case x != want:
			res.jobsDiffering++
			if res.jobsDiffering <= 5 {
				r.t.Errorf("job %s: jobs FINAL %+v, truth %+v", j.JobID, x, want)
			}
		}
	}
	if res.jobsMissing+res.jobsDiffering > 0 || len(got) != len(truth) {
		r.t.Errorf("jobs FINAL: %d rows for %d jobs of the truth, %d missing, %d differing", len(got), len(truth), res.jobsMissing, res.jobsDiffering)
	}
}

// checkQuarantine: the quarantine holds exactly the injected bad messages.
func (r *run) checkQuarantine(res *result) {
	var rows, reasoned uint64
	r.query("SELECT count(), countIf(error != '') FROM "+r.st.Table("quarantine")+" FINAL", &rows, &reasoned)
	res.quarantined = int(rows)
	if int(rows) != r.cfg.hostile || rows != reasoned {
		r.t.Errorf("quarantine FINAL: %d rows (%d with a reason), want the %d bad messages", rows, reasoned, r.cfg.hostile)
	}
}

func (r *run) checkDLQs(res *result) {
	res.dlq = map[string]int{}
	for _, q := range []string{"batchwatch-ingest-dlq", "batchwatch-exporter-dlq"} {
		res.dlq[q] = r.queueDepth(q)
		if res.dlq[q] != 0 {
			r.t.Errorf("%s holds %d messages", q, res.dlq[q])
		}
	}
}

// checkGauges: after a resync that started once the queues were empty,
// batchwatch_queue_jobs and batchwatch_queue_array_child_jobs equal the
// truth for every queue and status (the finished window covers the day).
func (r *run) checkGauges(truth []truthJob, res *result) {
	drained := float64(time.Now().Unix())
	testenv.WaitFor(r.t, time.Minute, "an exporter resync after the drain", func() (bool, string) {
		m, err := scrape(r.exporter.addr)
		if err != nil {
			return false, err.Error()
		}
		last := sum(m, "batchwatch_exporter_last_resync_timestamp_seconds")
		return last > drained+1, fmt.Sprintf("last resync at %.0f", last)
	}, r.exporter.cur)
	m, err := scrape(r.exporter.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	want := map[string]float64{}
	for _, j := range truth {
		kind := "batchwatch_queue_jobs"
		if j.ArrayParentID != "" {
			kind = "batchwatch_queue_array_child_jobs"
		}
		want[kind+"/"+j.JobQueue+"/"+j.Status]++
	}
	got := map[string]float64{}
	for k, v := range m {
		name, _, _ := strings.Cut(k, "{")
		if name != "batchwatch_queue_jobs" && name != "batchwatch_queue_array_child_jobs" {
			continue
		}
		l := labelsOf(k)
		if v != 0 {
			got[name+"/"+l["job_queue"]+"/"+l["status"]] = v
		}
	}
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: exporter %v, truth %v", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: exporter %v, truth 0", k, v))
		}
	}
	sort.Strings(diffs)
	res.gaugesDiffering = len(diffs)
	if len(diffs) > 0 {
		r.t.Errorf("exporter gauges differ from the truth:\n%s", strings.Join(diffs, "\n"))
	}
}

// checkAlive: no process ended on its own.
func (r *run) checkAlive() {
	for _, p := range []*proc{r.sim, r.ingest, r.exporter} {
		if exited, err := p.cur.Exited(); exited {
			r.t.Errorf("%s exited on its own: %v (log %s)", p.name, err, p.cur.Log)
		}
	}
}

// injectedFaults sums the simulator's fault counters by kind.
func injectedFaults(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		name, _, _ := strings.Cut(k, "{")
		if name == "batchwatch_sim_faults_injected_total" || name == "batchwatch_sim_sqs_faults_injected_total" {
			out[labelsOf(k)["kind"]] += v
		}
	}
	return out
}

// startSubmitter runs batchwatch submit for n single jobs onto the day's
// queues; its SubmitJob calls meet the simulator's faults.
func (r *run) startSubmitter(n int) *testenv.Process {
	dir := r.t.TempDir()
	items := filepath.Join(dir, "items.jsonl")
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"key":"lt-%05d","size":%d,"priority":"%s","params":{"accountId":"%d"}}`+"\n", i, 500+i*37%90000, []string{"low", "medium", "high"}[i%3], 5000000+i)
	}
	if err := os.WriteFile(items, []byte(b.String()), 0o644); err != nil {
		r.t.Fatal(err)
	}
	// The zendesk-day plan without its fan-in (single jobs: one per item).
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(r.t), "submitter", "testdata", "zendesk-day", "plan.yaml"))
	if err != nil {
		r.t.Fatal(err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		r.t.Fatal(err)
	}
	delete(doc, "fan_in")
	out, err := yaml.Marshal(doc)
	if err != nil {
		r.t.Fatal(err)
	}
	plan := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(plan, out, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.logf("submitter started (%d items, single jobs)", n)
	return testenv.StartProcess(r.t, "submit", awsEnv, r.bin, "submit", "--plan", plan, "--items", items,
		"--mode", "single", "--run-id", "loadtest", "--settle-time", "3s", "--rate", "20", "--no-progress", "--summary.json",
		"--aws.endpoint-url", r.simURL, "--clickhouse.addr", r.chAddr, "--clickhouse.database", r.db,
		"--web.listen-address", "127.0.0.1:0", "--log.level", "warn")
}

func (r *run) waitSubmitter(p *testenv.Process, n int) {
	testenv.WaitFor(r.t, 15*time.Minute, "the submitter to finish", func() (bool, string) {
		exited, _ := p.Exited()
		return exited, "submitting"
	})
	if _, err := p.Exited(); err != nil {
		r.t.Fatalf("batchwatch submit failed: %v (log %s)", err, p.Log)
	}
	r.logf("submitter done (%d items)", n)
}

// checkSubmitted: every item of the submitter's run is exactly one Batch
// job (no job twice for an item whose SubmitJob answer was lost), and the
// journal names it.
func (r *run) checkSubmitted(truth []truthJob, res *result) {
	if res.submitted == 0 {
		return
	}
	var items, journaled, distinct uint64
	r.query("SELECT countIf(state = 'submitted' AND kind = 'item'), countIf(state = 'submitted'), uniqExactIf(job_id, state = 'submitted') FROM "+
		r.st.Table("submissions")+" FINAL WHERE run_id = 'loadtest'", &items, &journaled, &distinct)
	ids := map[string]bool{}
	ctx := context.Background()
	rows, err := r.st.Conn().Query(ctx, "SELECT job_id FROM "+r.st.Table("submissions")+" FINAL WHERE run_id = 'loadtest' AND state = 'submitted'")
	if err != nil {
		r.t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			r.t.Fatal(err)
		}
		ids[id] = true
	}
	rows.Close()
	inJournal, ofRun := 0, 0
	for _, j := range truth {
		if j.Tags["run_id"] != "loadtest" {
			continue
		}
		ofRun++
		if ids[j.JobID] {
			inJournal++
		}
	}
	res.submittedJobs = ofRun
	// Each item once: every job of the run is journaled, and no item has a
	// second job whose SubmitJob answer was lost.
	if int(items) != res.submitted || journaled != distinct || ofRun != int(journaled) || inJournal != ofRun {
		r.t.Errorf("submitter: %d items, %d journaled as submitted (%d in all, %d distinct job ids); the simulator has %d jobs of the run, %d of them journaled",
			res.submitted, items, journaled, distinct, ofRun, inJournal)
	}
}

// sample is one look at every process.
type sample struct {
	at              time.Duration // since the start
	emitted         float64       // events emitted by the simulator
	stored          float64       // distinct event ids queryable in ClickHouse (-1: not read)
	exporterApplied float64       // events applied by exporters, all runs summed
	trueDepth       map[string]float64
	exportedDepth   map[string]float64
	rss             map[string]int64
}

// sampler reads the processes' metrics every period until stop.
func (r *run) sampler(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(r.cfg.sample)
	defer tick.Stop()
	var expBase, expLast float64
	expStarts := 0
	n := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s := sample{at: time.Since(r.began), stored: -1, trueDepth: map[string]float64{}, exportedDepth: map[string]float64{}, rss: map[string]int64{}}
		if m, err := scrape(r.sim.addr); err == nil {
			s.emitted = sum(m, "batchwatch_sim_events_emitted_total")
			for _, st := range []string{"RUNNABLE", "RUNNING"} {
				s.trueDepth[st] = sum(m, "batchwatch_sim_jobs", `status="`+st+`"`)
			}
		}
		r.mu.Lock()
		starts := r.exporter.starts
		r.mu.Unlock()
		if m, err := scrape(r.exporter.addr); err == nil {
			applied := sum(m, "batchwatch_exporter_events_total", `result="applied"`) +
				sum(m, "batchwatch_exporter_events_total", `result="ignored"`) +
				sum(m, "batchwatch_exporter_events_total", `result="out_of_order"`)
			if starts != expStarts {
				expBase += expLast
				expStarts = starts
			}
			expLast = applied
			s.exporterApplied = expBase + applied
			for _, st := range []string{"RUNNABLE", "RUNNING"} {
				s.exportedDepth[st] = sum(m, "batchwatch_queue_jobs", `status="`+st+`"`) + sum(m, "batchwatch_queue_array_child_jobs", `status="`+st+`"`)
			}
		} else if len(r.samples) > 0 {
			s.exporterApplied = r.samples[len(r.samples)-1].exporterApplied
		}
		if n%int(max(1, time.Second/r.cfg.sample)) == 0 {
			var distinct uint64
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := r.st.Conn().QueryRow(ctx, "SELECT uniqExact(event_id) FROM "+r.st.Table("events")).Scan(&distinct); err == nil {
				s.stored = float64(distinct)
			}
			cancel()
		}
		n++
		for _, p := range []*proc{r.sim, r.ingest, r.exporter} {
			r.mu.Lock()
			cur := p.cur
			r.mu.Unlock()
			if cur == nil {
				continue
			}
			now, peak := rss(cur.PID())
			s.rss[p.name] = now
			r.mu.Lock()
			if peak > p.peakRSS {
				p.peakRSS = peak
			}
			r.mu.Unlock()
		}
		if r.private != nil {
			if pid, err := r.private.PID(); err == nil {
				now, peak := rss(pid)
				s.rss["clickhouse"] = now
				r.mu.Lock()
				r.chPeakRSS = max(r.chPeakRSS, peak)
				r.mu.Unlock()
			}
		}
		r.mu.Lock()
		r.samples = append(r.samples, s)
		r.mu.Unlock()
	}
}

// waitIngestMidBatch waits until ingest holds events it has not inserted
// yet (a batch is open) and at least minInserted were inserted before.
func (r *run) waitIngestMidBatch(minInserted float64) {
	r.t.Helper()
	testenv.WaitFor(r.t, 10*time.Minute, "ingest in the middle of a batch", func() (bool, string) {
		m, err := scrape(r.ingest.addr)
		if err != nil {
			return false, err.Error()
		}
		ins, buf := sum(m, "batchwatch_ingest_events_inserted_total"), sum(m, "batchwatch_ingest_buffered_events")
		return ins >= minInserted && buf > 0, fmt.Sprintf("%.0f inserted, %.0f buffered", ins, buf)
	}, r.ingest.cur)
}

// runReport is what the report shows of one run.
type runReport struct {
	res        result
	clickhouse lagStats
	exporter   lagStats
	peak       map[string]int64
	kills      map[string]int
	duration   time.Duration
	log        []string
	// peakEmit is the simulator's highest rate over 10 s (events/s);
	// chDrain and expDrain the average rates at which ClickHouse and the
	// exporter caught up with everything emitted (events/s).
	peakEmit, chDrain, expDrain float64
}

// throughput finds the peak emission rate and the average rates at which
// ClickHouse and the exporter reached their final counts.
func throughput(samples []sample) (peakEmit, chDrain, expDrain float64) {
	for _, p := range rates(samples, func(s sample) float64 { return s.emitted }, 10*time.Second) {
		peakEmit = max(peakEmit, p.Y)
	}
	drain := func(v func(sample) float64) float64 {
		final := 0.0
		for _, s := range samples {
			final = max(final, v(s))
		}
		for _, s := range samples {
			if v(s) >= final && s.at > 0 {
				return final / s.at.Seconds()
			}
		}
		return 0
	}
	chDrain = drain(func(s sample) float64 { return s.stored })
	expDrain = drain(func(s sample) float64 { return s.exporterApplied })
	return peakEmit, chDrain, expDrain
}

// report computes freshness and peak memory; with plotDir it draws the
// plots there.
func (r *run) report(res result, plotDir string) runReport {
	r.mu.Lock()
	samples := append([]sample(nil), r.samples...)
	log := append([]string(nil), r.events...)
	r.mu.Unlock()
	ch, exp, chLags, expLags, chAt, expAt := freshness(samples)
	rep := runReport{res: res, clickhouse: ch, exporter: exp, duration: time.Since(r.began), log: log,
		peak: map[string]int64{"clickhouse": r.chPeakRSS}, kills: map[string]int{}}
	rep.peakEmit, rep.chDrain, rep.expDrain = throughput(samples)
	for _, p := range []*proc{r.sim, r.ingest, r.exporter} {
		r.notePeak(p)
		rep.peak[p.name] = p.peakRSS
		rep.kills[p.name] = p.killed
	}
	if plotDir != "" {
		if err := os.MkdirAll(plotDir, 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := writePlots(plotDir, samples, chLags, expLags, chAt, expAt); err != nil {
			r.t.Error(err)
		}
	}
	return rep
}
