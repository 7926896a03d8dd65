//go:build integration

package deploy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/testenv"
)

// localStack maps the compose network's addresses (service:port) to local
// ones, so that the demo's own command lines and environment can run here:
// the same binary (built as the Dockerfile builds it), the same flags and
// variables, only the host names and ports differ.
type localStack struct {
	addr map[string]string // "sim:4566" -> "127.0.0.1:34567"
}

func (l localStack) rewrite(s string) string {
	for from, to := range l.addr {
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}

// command returns a service's arguments and environment, rewritten. The
// listen address, which compose leaves at the default or on 0.0.0.0, is set
// to the service's local address; extra arguments are appended.
func (l localStack) command(t *testing.T, s types.ServiceConfig, listenFlag, port string, extra ...string) ([]string, []string) {
	t.Helper()
	var args []string
	listen := "--" + listenFlag + "=" + l.addr[s.Name+":"+port]
	replaced := false
	for _, a := range s.Command {
		if strings.HasPrefix(a, "--"+listenFlag+"=") {
			a, replaced = listen, true
		}
		args = append(args, l.rewrite(a))
	}
	if !replaced {
		args = append(args, listen)
	}
	args = append(args, extra...)
	// A container has only the variables compose gives it: clear the AWS
	// settings of this machine (profiles, CA bundle) it would not have.
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			env = append(env, k+"=")
		}
	}
	for k, v := range s.Environment {
		if v != nil {
			env = append(env, k+"="+l.rewrite(*v))
		}
	}
	return args, env
}

// promQuery returns the values of an instant query.
func promQuery(promURL, q string) ([]float64, error) {
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: status %s", q, r.Status)
	}
	var out []float64
	for _, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out = append(out, v)
	}
	return out, nil
}

// queryIs is a WaitFor condition: the query returns exactly one series and
// ok accepts its value.
func queryIs(promURL, q string, ok func(float64) bool) func() (bool, string) {
	return func() (bool, string) {
		v, err := promQuery(promURL, q)
		if err != nil {
			return false, err.Error()
		}
		if len(v) != 1 {
			return false, fmt.Sprintf("%s: %d series", q, len(v))
		}
		return ok(v[0]), fmt.Sprintf("%s = %v", q, v[0])
	}
}

// localPromConfig is prometheus.yml for the local processes: the same jobs,
// targets rewritten; DNS-discovered services that run here become static
// targets, the others (and the absent Alertmanager) are dropped; rules from
// deploy/prometheus/rules; scrapes every second so the test does not wait.
func localPromConfig(t *testing.T, l localStack) string {
	t.Helper()
	var doc map[string]any
	readYAML(t, "prometheus/prometheus.yml", &doc)
	doc["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
	var rules []any
	for _, g := range doc["rule_files"].([]any) {
		rules = append(rules, filepath.Join(deployDir(t), "prometheus", g.(string)))
	}
	doc["rule_files"] = rules
	delete(doc, "alerting")
	var jobs []any
	for _, j := range doc["scrape_configs"].([]any) {
		job := j.(map[string]any)
		var targets []any
		if scs, ok := job["static_configs"].([]any); ok {
			for _, sc := range scs {
				for _, tg := range sc.(map[string]any)["targets"].([]any) {
					if to, ok := l.addr[tg.(string)]; ok {
						targets = append(targets, to)
					}
				}
			}
		}
		if dns, ok := job["dns_sd_configs"].([]any); ok {
			for _, d := range dns {
				d := d.(map[string]any)
				for _, n := range d["names"].([]any) {
					if to, ok := l.addr[fmt.Sprintf("%s:%v", n, d["port"])]; ok {
						targets = append(targets, to)
					}
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		jobs = append(jobs, map[string]any{"job_name": job["job_name"], "static_configs": []any{map[string]any{"targets": targets}}})
	}
	doc["scrape_configs"] = jobs
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The demo as compose runs it, without Docker: the simulator, ingest and the
// exporter with the compose file's command lines and environment (demo.env),
// ClickHouse for ingest, and a Prometheus with prometheus.yml's jobs and the
// alert rules. Ingest and the exporter find the simulator through
// AWS_ENDPOINT_URL alone, poll their queues without errors, get ready, and
// Prometheus scrapes them under the job names the rules select.
func TestComposeDemoRunsLocally(t *testing.T) {
	bin := buildBatchwatch(t)
	p := mustLoadCompose(t, demoEnvFile)
	ch := testenv.ClickHouseConfig(t)

	l := localStack{addr: map[string]string{"clickhouse:9000": ch.Addrs[0]}}
	ports := map[string]string{}
	for _, s := range batchwatchServices(p) {
		if noHealthcheck[s.Name] {
			continue // migrate and retention serve no HTTP
		}
		out, err := run(repoRoot(t), bin, s.Command[0], "--help")
		if err != nil {
			t.Fatalf("batchwatch %s --help: %v\n%s", s.Command[0], err, out)
		}
		_, port := listenPort(t, s, parseHelp(out))
		ports[s.Name] = strconv.Itoa(port)
		l.addr[s.Name+":"+ports[s.Name]] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	}
	for _, name := range []string{"sim", "ingest", "exporter"} {
		if _, ok := ports[name]; !ok {
			t.Fatalf("the demo has no %s service", name)
		}
	}

	args, env := l.command(t, p.Services["sim"], "listen", ports["sim"])
	sim := testenv.StartProcess(t, "sim", env, bin, args...)
	simURL := "http://" + l.addr["sim:"+ports["sim"]]
	testenv.WaitFor(t, 30*time.Second, "simulator ready", testenv.HTTPOK(simURL+"/-/ready"), sim)

	// The test's ClickHouse (a database of its own) has only a default user
	// without password, and no migrate service runs here: ingest logs in as
	// default and migrates (TestClickHouseUsers checks compose's users).
	args, env = l.command(t, p.Services["ingest"], "web.listen-address", ports["ingest"], "--clickhouse.database="+ch.Database)
	args = slices.DeleteFunc(args, func(a string) bool { return strings.HasPrefix(a, "--clickhouse.user=") || a == "--no-migrate" })
	ingest := testenv.StartProcess(t, "ingest", append(env, "CLICKHOUSE_PASSWORD="), bin, args...)
	args, env = l.command(t, p.Services["exporter"], "web.listen-address", ports["exporter"])
	exporter := testenv.StartProcess(t, "exporter", env, bin, args...)
	procs := []*testenv.Process{sim, ingest, exporter}
	testenv.WaitFor(t, 90*time.Second, "ingest ready", testenv.HTTPOK("http://"+l.addr["ingest:"+ports["ingest"]]+"/-/ready"), procs...)
	testenv.WaitFor(t, 90*time.Second, "exporter ready", testenv.HTTPOK("http://"+l.addr["exporter:"+ports["exporter"]]+"/-/ready"), procs...)

	prom := testenv.StartPrometheus(t, localPromConfig(t, l))
	for _, job := range []string{"batchwatch-exporter", "batchwatch-ingest", "batchwatch-sim"} {
		testenv.WaitFor(t, 60*time.Second, job+" scraped", queryIs(prom, `up{job="`+job+`"}`, func(v float64) bool { return v == 1 }), procs...)
	}
	// Each consumer polled its queue of the simulator, and no call failed
	// (a wrong endpoint, queue URL or account would be an error).
	for _, c := range []string{"ingest", "exporter"} {
		testenv.WaitFor(t, 60*time.Second, c+" receiving", queryIs(prom,
			`sum(batchwatch_`+c+`_aws_calls_total{operation="ReceiveMessage"})`, func(v float64) bool { return v > 0 }), procs...)
		if v, err := promQuery(prom, `sum(batchwatch_`+c+`_aws_call_errors_total) > 0`); err != nil || len(v) > 0 {
			t.Errorf("%s: failed AWS calls against the simulator: %v %v", c, v, err)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "exporter reaching AWS", queryIs(prom, `batchwatch_exporter_aws_up`, func(v float64) bool { return v == 1 }), procs...)

	// The alert rules are loaded; the stack's own-health alert is quiet.
	resp, err := http.Get(prom + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rules struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("rule %s/%s does not evaluate", g.Name, r.Name)
			}
		}
	}
	if n == 0 {
		t.Error("Prometheus loaded no rules from rule_files")
	}
	if v, err := promQuery(prom, `ALERTS{alertname="BatchwatchTargetDown"}`); err != nil || len(v) > 0 {
		t.Errorf("BatchwatchTargetDown: %v %v", v, err)
	}
}
