package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/store"
)

// This file starts batchwatch the way it runs in production, against the
// simulator, for the integration tests of the dashboards and the alerts:
// real processes of the built binary, a real Prometheus scraping them and
// optionally a real Alertmanager.

// Process is a server this test started; it is stopped by its PID when the
// test ends, and its log is shown when the test failed.
type Process struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProcess starts name with args, its output going to a log file in the
// test's temporary folder.
func StartProcess(t testing.TB, name string, env []string, bin string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("last lines of %s's log (%s):\n%s", name, logPath, tail(logPath, 25))
		}
	})
	return p
}

// Stop sends SIGTERM to the process (by its PID) and SIGKILL if it has not
// exited after 10 seconds.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 250 ms until it returns true, and fails the test
// with cond's last explanation after timeout. Processes that exit early
// fail it at once.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string), watch ...*Process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		for _, p := range watch {
			if exited, err := p.Exited(); exited {
				t.Fatalf("waiting for %s: %s exited (%v); log %s:\n%s", what, p.Name, err, p.Log, tail(p.Log, 25))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not there after %s: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// HTTPOK is a WaitFor condition: GET url answers 2xx.
func HTTPOK(u string) func() (bool, string) {
	c := http.Client{Timeout: 2 * time.Second}
	return func() (bool, string) {
		resp, err := c.Get(u)
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode/100 == 2, resp.Status
	}
}

// BuildBatchwatch builds the batchwatch binary into the test's temporary
// folder; integration tests run the product as it ships.
func BuildBatchwatch(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "batchwatch")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/batchwatch")
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/batchwatch: %v\n%s", err, out)
	}
	return bin
}

// RequireCommands fails the test when the binary's commands are still the
// placeholders of cmd/batchwatch (their help says "(not built yet)").
func RequireCommands(t testing.TB, bin string, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		out, _ := exec.Command(bin, n, "--help").CombinedOutput()
		if strings.Contains(string(out), "(not built yet)") || !strings.Contains(string(out), "usage: batchwatch "+n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the data setup needs `batchwatch %s`, not built yet in cmd/batchwatch", strings.Join(missing, "`, `batchwatch "))
	}
}

// StartPrometheus starts a Prometheus of the test's own on a free port
// with the given configuration, and waits until it is ready.
func StartPrometheus(t testing.TB, config string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (scripts/install.sh prometheus): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := StartProcess(t, "prometheus", nil, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--rules.alert.resend-delay=1s")
	u := "http://" + addr
	WaitFor(t, 30*time.Second, "prometheus ready", HTTPOK(u+"/-/ready"), p)
	return u
}

// StartAlertmanager starts an Alertmanager of the test's own on a free port
// (clustering off) with the given configuration file.
func StartAlertmanager(t testing.TB, configFile string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if bin, err = exec.LookPath("alertmanager"); err != nil {
			t.Fatalf("prometheus-alertmanager not found (scripts/install.sh prometheus): %v", err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := StartProcess(t, "alertmanager", nil, bin, "--config.file="+configFile, "--storage.path="+t.TempDir(),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	u := "http://" + addr
	WaitFor(t, 30*time.Second, "alertmanager ready", HTTPOK(u+"/-/ready"), p)
	return u
}

// StackOptions chooses what StartStack runs.
type StackOptions struct {
	// Scenarios are built-in simulator scenarios; each gets its own
	// simulator, exporter and (unless NoIngest) ingest.
	Scenarios []string
	// Speed is simulated seconds per real second.
	Speed float64
	// NoIngest leaves ingest and ClickHouse out.
	NoIngest bool
	// ExporterArgs are added to every exporter's flags.
	ExporterArgs []string
	// Adjust, when set, changes a scenario before it runs (doc is its YAML
	// as a map), e.g. to make rare events frequent enough for a test.
	Adjust func(scenario string, doc map[string]any)
	// RuleFiles are loaded by Prometheus; AlertmanagerURL receives its alerts.
	RuleFiles       []string
	AlertmanagerURL string
}

// Stack is batchwatch running against simulated AWS.
type Stack struct {
	Binary        string
	PrometheusURL string
	// ClickHouse is the configuration of the database all ingests write to
	// (dropped at the end of the test); nil with NoIngest.
	ClickHouse *store.Config
	// RealStart is when the simulators started; SimStart is their
	// simulated start (the same instant) and Speed their speed.
	RealStart, SimStart time.Time
	Speed               float64
	Sims, Exporters     []*Process
	Ingests             []*Process
	// exporterArgs and awsEnv start an exporter again (RestartExporter).
	exporterArgs [][]string
	awsEnv       []string
	t            testing.TB
	// SimURLs are the simulators' endpoints, one per scenario.
	SimURLs []string
}

// SimNow is the simulators' current simulated time.
func (s *Stack) SimNow() time.Time {
	return s.SimStart.Add(time.Duration(float64(time.Since(s.RealStart)) * s.Speed))
}

// The scrape jobs of the stack's Prometheus, as docs/runbooks.md and
// alerts.DefaultConfig expect them.
const (
	ExporterJob = "batchwatch-exporter"
	IngestJob   = "batchwatch-ingest"
	SimJob      = "batchwatch-sim"
)

// StartStack starts, per scenario, the simulator (its events delivered to
// two SQS queues of its own, one for ingest and one for the exporter, as an
// EventBridge rule with two targets does), an exporter reading the
// simulated Batch API, Cost Explorer and its queue, and an ingest writing
// the other queue into one ClickHouse database; then a Prometheus scraping
// all of them every second.
func StartStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	bin := BuildBatchwatch(t)
	need := []string{"sim", "exporter"}
	if !o.NoIngest {
		need = append(need, "ingest")
	}
	RequireCommands(t, bin, need...)
	if o.Speed <= 0 {
		o.Speed = 60
	}
	st := &Stack{Binary: bin, Speed: o.Speed, t: t}
	if !o.NoIngest {
		st.ClickHouse = ClickHouseConfig(t)
	}
	awsEnv := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"}
	var exporterTargets, ingestTargets, simTargets []string

	st.RealStart = time.Now().UTC().Truncate(time.Second)
	st.SimStart = st.RealStart
	for i, name := range o.Scenarios {
		scenario := scenarioWithTwoQueues(t, name, o.Adjust)
		simAddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		sim := StartProcess(t, "sim-"+name, nil, bin, "sim", "--scenario", scenario, "--listen", simAddr,
			"--speed", strconv.FormatFloat(o.Speed, 'f', -1, 64), "--seed", strconv.Itoa(i+1),
			"--start", st.SimStart.Format(time.RFC3339))
		simURL := "http://" + simAddr
		WaitFor(t, 30*time.Second, "simulator "+name, HTTPOK(simURL+"/-/ready"), sim)
		st.Sims, st.SimURLs = append(st.Sims, sim), append(st.SimURLs, simURL)
		simTargets = append(simTargets, simAddr)
		account := scenarioAccount(t, name)

		expAddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		expArgs := append([]string{"exporter",
			"--aws.endpoint-url", simURL, "--aws.region", "us-east-1", "--web.listen-address", expAddr,
			"--exporter.sqs-queue-url", simURL + "/" + account + "/batchwatch-exporter",
			"--exporter.sqs-wait-time", "1s",
			"--exporter.resync-interval", "15s", "--exporter.capacity-interval", "5s",
			"--exporter.batch-api-rate", "20",
			"--exporter.tier-tag", "tier", "--exporter.cost-tags", "team,product",
			"--exporter.cost-refresh-interval", "20s", "--exporter.cost-daily-calls", "10000",
		}, o.ExporterArgs...)
		exp := StartProcess(t, "exporter-"+name, awsEnv, bin, expArgs...)
		st.Exporters, st.exporterArgs = append(st.Exporters, exp), append(st.exporterArgs, expArgs)
		exporterTargets = append(exporterTargets, expAddr)

		if !o.NoIngest {
			ingAddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
			ing := StartProcess(t, "ingest-"+name, awsEnv, bin, "ingest",
				"--aws.endpoint-url", simURL, "--aws.region", "us-east-1", "--web.listen-address", ingAddr,
				"--sqs.queue-url", simURL+"/"+account+"/batchwatch-ingest", "--sqs.wait-time", "1s",
				"--clickhouse.addr", ClickHouseAddr(), "--clickhouse.database", st.ClickHouse.Database,
				"--retention.interval", "0s")
			st.Ingests = append(st.Ingests, ing)
			ingestTargets = append(ingestTargets, ingAddr)
			WaitFor(t, 60*time.Second, "ingest "+name+" ready", HTTPOK("http://"+ingAddr+"/-/ready"), ing)
		}
		WaitFor(t, 60*time.Second, "exporter "+name+" answering", HTTPOK("http://"+expAddr+"/metrics"), exp)
	}
	st.awsEnv = awsEnv
	st.PrometheusURL = StartPrometheus(t, prometheusConfig(o, exporterTargets, ingestTargets, simTargets))
	return st
}

// RestartExporter stops the i-th exporter (SIGTERM) and starts it again
// with the same flags on the same address, as a deployment or a crash
// does: its counters start again from 0.
func (s *Stack) RestartExporter(i int) *Process {
	s.t.Helper()
	s.Exporters[i].Stop()
	p := StartProcess(s.t, s.Exporters[i].Name+"-restarted", s.awsEnv, s.Binary, s.exporterArgs[i]...)
	addr := ""
	for j, a := range s.exporterArgs[i] {
		if a == "--web.listen-address" {
			addr = s.exporterArgs[i][j+1]
		}
	}
	WaitFor(s.t, 60*time.Second, "exporter restarted", HTTPOK("http://"+addr+"/metrics"), p)
	s.Exporters[i] = p
	return p
}

// prometheusConfig scrapes every process every second (tests must not
// wait for 15 s scrapes) and evaluates rules every second.
func prometheusConfig(o StackOptions, exporters, ingests, sims []string) string {
	type static struct {
		Targets []string `yaml:"targets"`
	}
	type job struct {
		JobName       string   `yaml:"job_name"`
		StaticConfigs []static `yaml:"static_configs"`
	}
	cfg := map[string]any{
		"global": map[string]string{"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
	}
	jobs := []job{{ExporterJob, []static{{exporters}}}, {SimJob, []static{{sims}}}}
	if len(ingests) > 0 {
		jobs = append(jobs, job{IngestJob, []static{{ingests}}})
	}
	cfg["scrape_configs"] = jobs
	if len(o.RuleFiles) > 0 {
		cfg["rule_files"] = o.RuleFiles
	}
	if o.AlertmanagerURL != "" {
		u, _ := url.Parse(o.AlertmanagerURL)
		cfg["alerting"] = map[string]any{"alertmanagers": []map[string]any{{"static_configs": []static{{[]string{u.Host}}}}}}
	}
	out, _ := yaml.Marshal(cfg)
	return string(out)
}

// scenarioWithTwoQueues writes a built-in scenario with its delivery
// replaced by two simulator queues, batchwatch-ingest and
// batchwatch-exporter, so ingest and the exporter each see every event.
func scenarioWithTwoQueues(t testing.TB, name string, adjust func(string, map[string]any)) string {
	t.Helper()
	doc := scenarioDoc(t, name)
	if adjust != nil {
		adjust(name, doc)
	}
	doc["delivery"] = []map[string]string{
		{"type": "queue", "queue": "batchwatch-ingest"},
		{"type": "queue", "queue": "batchwatch-exporter"},
	}
	if _, ok := doc["cost_explorer"]; !ok {
		doc["cost_explorer"] = map[string]string{"lag": "0s"}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func scenarioDoc(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot(t), "sim", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	return doc
}

func scenarioAccount(t testing.TB, name string) string {
	if a, ok := scenarioDoc(t, name)["account"].(string); ok && a != "" {
		return a
	}
	return "123456789012"
}

// Webhook is an Alertmanager webhook receiver of the test's own: it
// records every notification per path.
type Webhook struct {
	URL string
	mu  sync.Mutex
	got map[string][]WebhookMessage
	raw map[string][][]byte
	srv *http.Server
}

// WebhookMessage is the part of Alertmanager's webhook payload tests read.
type WebhookMessage struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
	GroupLabels map[string]string `json:"groupLabels"`
}

// StartWebhook serves the receiver on a free port until the test ends.
func StartWebhook(t testing.TB) *Webhook {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &Webhook{URL: "http://" + ln.Addr().String(), got: map[string][]WebhookMessage{}, raw: map[string][][]byte{}}
	w.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var m WebhookMessage
		if err == nil {
			err = json.Unmarshal(body, &m)
		}
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.got[r.URL.Path] = append(w.got[r.URL.Path], m)
		w.raw[r.URL.Path] = append(w.raw[r.URL.Path], body)
		w.mu.Unlock()
		// PagerDuty's Events API answers 202 with a JSON status.
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusAccepted)
		_, _ = rw.Write([]byte(`{"status":"success","message":"Event processed"}`))
	})}
	go func() { _ = w.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.srv.Shutdown(ctx)
	})
	return w
}

// Raw returns the bodies that arrived at path so far (for payloads other
// than Alertmanager's webhook, e.g. PagerDuty's Events API v2).
func (w *Webhook) Raw(path string) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.raw[path]...)
}

// Messages returns what arrived at path so far.
func (w *Webhook) Messages(path string) []WebhookMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WebhookMessage(nil), w.got[path]...)
}
