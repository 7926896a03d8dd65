//go:build integration

package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/batchwatch/batchwatch/testenv"
)

// startAlertmanager renders the Alertmanager configuration with both
// receivers pointing at a webhook of the test's own and starts a real
// Alertmanager with it.
func startAlertmanager(t *testing.T) (amURL string, hook *testenv.Webhook) {
	t.Helper()
	hook = testenv.StartWebhook(t)
	r := DefaultConfig().Routing
	r.Default.PageURL, r.Default.TicketURL, r.HeartbeatURL = hook.URL+"/page", hook.URL+"/ticket", hook.URL+"/heartbeat"
	r.Page.GroupWait = model.Duration(2 * time.Second)
	return startAlertmanagerWith(t, r), hook
}

// startAlertmanagerWith writes the routing's configuration and the
// notification template into a folder and starts a real Alertmanager.
func startAlertmanagerWith(t *testing.T, r Routing) string {
	t.Helper()
	cfg, err := RenderAlertmanager(r)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TemplateFile), []byte(NotificationTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	return testenv.StartAlertmanager(t, path)
}

type amAlert struct {
	Labels    map[string]string `json:"labels"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// The routing tree and the inhibition on a real Alertmanager: the page
// reaches the paging webhook, once for two queues failing at once; the
// ticket twin of the same alert and queue is inhibited, the same warning on
// another queue goes to tickets, info goes nowhere.
func TestAlertmanagerRoutesAndInhibits(t *testing.T) {
	amURL, hook := startAlertmanager(t)
	alert := func(severity, queue, name string) map[string]any {
		return map[string]any{
			"labels":      map[string]string{"alertname": name, "severity": severity, "job_queue": queue},
			"annotations": map[string]string{"summary": "test"},
			"startsAt":    time.Now().Add(-time.Minute).Format(time.RFC3339),
		}
	}
	body, _ := json.Marshal([]map[string]any{
		alert("critical", "spike", "BatchwatchJobFailureSpike"),
		alert("critical", "etl", "BatchwatchJobFailureSpike"),
		alert("warning", "spike", "BatchwatchJobFailureSpike"),
		alert("warning", "other", "BatchwatchJobFailureSpike"),
		alert("info", "", "BatchwatchActualCostAboveBudget"),
		alert("critical", "", "BatchwatchExporterDown"),
		alert("warning", "stuck", "BatchwatchJobsStuckRunnable"),
	})
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alerts: %s", resp.Status)
	}

	var alerts []amAlert
	testenv.WaitFor(t, 30*time.Second, "the spike's ticket twin and the stuck queue to be inhibited", func() (bool, string) {
		alerts = nil
		r, err := http.Get(amURL + "/api/v2/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer r.Body.Close()
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			return false, err.Error()
		}
		inhibited := 0
		for _, a := range alerts {
			if a.Labels["severity"] == "warning" && (a.Labels["job_queue"] == "spike" || a.Labels["job_queue"] == "stuck") && len(a.Status.InhibitedBy) > 0 {
				inhibited++
			}
		}
		return inhibited == 2, fmt.Sprintf("%d alerts, %d of the two to inhibit are", len(alerts), inhibited)
	})
	for _, a := range alerts {
		var receivers []string
		for _, r := range a.Receivers {
			receivers = append(receivers, r.Name)
		}
		got := strings.Join(receivers, ",")
		key := a.Labels["severity"] + "/" + a.Labels["job_queue"]
		want := map[string]string{"critical/spike": ReceiverPage, "critical/etl": ReceiverPage, "warning/spike": ReceiverTicket,
			"warning/other": ReceiverTicket, "info/": ReceiverNull, "critical/": ReceiverPage, "warning/stuck": ReceiverTicket}[key]
		if got != want {
			t.Errorf("%s routed to %q, want %q", key, got, want)
		}
		// The ticket twin of the page, and a stuck queue while the exporter
		// is down (its numbers are frozen).
		inhibited := len(a.Status.InhibitedBy) > 0
		if inhibited != (key == "warning/spike" || key == "warning/stuck") {
			t.Errorf("%s: inhibited=%v (%s)", key, inhibited, a.Status.State)
		}
	}
	waitForPage(t, hook, "BatchwatchJobFailureSpike", "spike", time.Minute)
	for _, m := range hook.Messages("/page") {
		if m.GroupLabels["alertname"] == "BatchwatchJobFailureSpike" && len(m.Alerts) != 2 {
			t.Errorf("two queues failing at once: want one page with both alerts: %+v", m)
		}
	}
}

// waitForPage waits until the paging webhook received the alert firing for
// the queue (not one of its job definitions), and returns its annotations.
func waitForPage(t *testing.T, hook *testenv.Webhook, alertname, queue string, timeout time.Duration, watch ...*testenv.Process) map[string]string {
	t.Helper()
	var annotations map[string]string
	testenv.WaitFor(t, timeout, alertname+" paged for queue "+queue, func() (bool, string) {
		msgs := hook.Messages("/page")
		for _, m := range msgs {
			for _, a := range m.Alerts {
				if a.Status == "firing" && a.Labels["alertname"] == alertname && a.Labels["job_queue"] == queue && a.Labels["severity"] == SeverityCritical && a.Labels["scope"] != "job_definition" {
					annotations = a.Annotations
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d notifications on /page so far", len(msgs))
	}, watch...)
	return annotations
}

// pageData is the data setup of the end-to-end page: the failure-spike
// scenario (a steady trickle of healthy jobs, then a release whose jobs
// mostly fail) and a second job definition that fails every job a few
// simulated minutes later, through the exporter into a Prometheus that
// evaluates the rules and sends to Alertmanager, whose paging receivers
// (a webhook and PagerDuty's Events API) are the test's webhook.
type pageData struct {
	stack *testenv.Stack
	hook  *testenv.Webhook
	amURL string
}

// e2eConfig is deploy/alerts/demo.yml, the demo's configuration: the
// windows shrunk for a simulator that runs 60 times faster than the clock
// Prometheus evaluates with, the thresholds (25 % and 20 failures) as they
// are; the receivers are the test's webhook.
func e2eConfig(t *testing.T, hook *testenv.Webhook) Config {
	t.Helper()
	c, err := LoadConfig("../deploy/alerts/demo.yml")
	if err != nil {
		t.Fatal(err)
	}
	r := &c.Routing
	r.Default.PageURL, r.Default.TicketURL, r.HeartbeatURL = hook.URL+"/page", hook.URL+"/ticket", hook.URL+"/heartbeat"
	r.PagerDutyURL = hook.URL + "/pagerduty"
	return c
}

// newDefinitionFails adds to the failure-spike scenario a job definition
// whose every job fails, submitted 25 simulated minutes after the spike
// began: after the first page (at 60x, about 45 s after the start).
func newDefinitionFails(name string, doc map[string]any) {
	if name != "failure-spike" {
		return
	}
	defs := doc["job_definitions"].([]any)
	v2 := map[string]any{}
	for k, v := range defs[0].(map[string]any) {
		v2[k] = v
	}
	v2["name"] = "spike-job-v2"
	v2["behavior"] = map[string]any{"duration": map[string]any{"median": "1m", "sigma": 0.2, "min": "20s"},
		"failures": map[string]any{"exit": 1.0, "exit_codes": []int{3}}}
	doc["job_definitions"] = append(defs, v2)
	doc["workload"] = append(doc["workload"].([]any), map[string]any{
		"name": "v2-release", "at": "55m", "queue": "spike", "definition": "spike-job-v2",
		"array_size": 60, "job_name": "v2-release", "tags": map[string]any{"team": "data"},
	})
}

func startPageData(t *testing.T) *pageData {
	t.Helper()
	hook := testenv.StartWebhook(t)
	c := e2eConfig(t, hook)
	amURL := startAlertmanagerWith(t, c.Routing)
	rules, err := RenderRules(c)
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(t.TempDir(), "batchwatch.rules.yml")
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	st := testenv.StartStack(t, testenv.StackOptions{
		Scenarios:       []string{"failure-spike"},
		Speed:           60,
		NoIngest:        true,
		Adjust:          newDefinitionFails,
		RuleFiles:       []string{rulesPath},
		AlertmanagerURL: amURL,
	})
	return &pageData{stack: st, hook: hook, amURL: amURL}
}

// promValue is the value of an instant query, -1 when it has no result.
func promValue(t *testing.T, promURL, query string) float64 {
	t.Helper()
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Data.Result) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(fmt.Sprint(out.Data.Result[0].Value[1]), 64)
	return v
}

// amHas reports whether Alertmanager holds an active alert with labels.
func amHas(t *testing.T, amURL string, labels map[string]string) (bool, string) {
	r, err := http.Get(amURL + "/api/v2/alerts?active=true")
	if err != nil {
		return false, err.Error()
	}
	defer r.Body.Close()
	var alerts []amAlert
	if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
		return false, err.Error()
	}
next:
	for _, a := range alerts {
		for k, v := range labels {
			if a.Labels[k] != v {
				continue next
			}
		}
		return true, ""
	}
	return false, fmt.Sprintf("%d active alerts, none with %v", len(alerts), labels)
}

// pagerDutyEvent is the part of a PagerDuty Events API v2 event the test
// reads.
type pagerDutyEvent struct {
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string            `json:"summary"`
		CustomDetails map[string]string `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

// A failure spike in the simulator pages once: simulator → exporter →
// Prometheus rules → Alertmanager → the paging webhook and PagerDuty. The
// exporter restarts in the middle of the spike (its counters start again
// from 0) and a second job definition starts failing later: its alert
// joins the page's group, and no second page arrives within the repeat
// interval.
func TestFailureSpikePagesEndToEnd(t *testing.T) {
	data := startPageData(t)
	st := data.stack
	watch := append(st.Sims, st.Exporters...)
	testenv.WaitFor(t, 3*time.Minute, "the spike's first failures scraped", func() (bool, string) {
		v := promValue(t, st.PrometheusURL, `sum(batchwatch_job_failures_total{job_queue="spike", failure_class="app_error"})`)
		return v >= 30, fmt.Sprintf("%v app_error failures", v)
	}, watch...)
	st.RestartExporter(0)
	watch = append(st.Sims, st.Exporters...)

	ann := waitForPage(t, data.hook, "BatchwatchJobFailureSpike", "spike", 3*time.Minute, watch...)
	if ann["summary"] != "Many jobs of a job queue fail." || !strings.Contains(ann["description"], "jobs of queue spike failed over the last 1m") {
		t.Errorf("summary %q, description %q", ann["summary"], ann["description"])
	}
	if n, err := strconv.Atoi(ann["failed_jobs"]); err != nil || n < 20 {
		t.Errorf("failed_jobs %q: want the count, at least the 20 of the threshold", ann["failed_jobs"])
	}
	link := ann["dashboard_url"]
	if !strings.HasPrefix(link, "http://localhost:3000/d/batchwatch-job-history?var-job_queue=spike&from=") || !strings.Contains(link, "&to=") {
		t.Errorf("dashboard_url %q", link)
	}
	if !strings.Contains(ann["top_failure_classes"], "app_error") || !strings.Contains(ann["top_job_definitions"], "spike-job") {
		t.Errorf("top classes %q, definitions %q", ann["top_failure_classes"], ann["top_job_definitions"])
	}

	// The new definition's alert joins the firing group in Alertmanager.
	testenv.WaitFor(t, 3*time.Minute, "spike-job-v2's alert active in Alertmanager", func() (bool, string) {
		return amHas(t, data.amURL, map[string]string{"alertname": "BatchwatchJobFailureSpike", "scope": "job_definition", "job_definition": "spike-job-v2"})
	}, watch...)
	// Alertmanager had the time to notify again (group_wait is 5s, Prometheus
	// resends every second): it must not, within group_interval and
	// repeat_interval (10m).
	time.Sleep(20 * time.Second)
	if msgs := data.hook.Messages("/page"); len(msgs) != 1 {
		t.Errorf("%d notifications on the paging webhook, want 1: %+v", len(msgs), msgs)
	}
	raw := data.hook.Raw("/pagerduty")
	if len(raw) != 1 {
		t.Fatalf("%d PagerDuty events, want 1", len(raw))
	}
	var ev pagerDutyEvent
	if err := json.Unmarshal(raw[0], &ev); err != nil {
		t.Fatal(err)
	}
	text := ev.Payload.CustomDetails["text"]
	t.Logf("the page:\n%s\n%s", ev.Payload.Summary, text)
	if ev.EventAction != "trigger" || !strings.Contains(ev.Payload.Summary, "BatchwatchJobFailureSpike") {
		t.Errorf("event %s, summary %q", ev.EventAction, ev.Payload.Summary)
	}
	for _, want := range []string{"Failed jobs: " + ann["failed_jobs"], "Top failure classes: app_error", "Job history: http://localhost:3000/d/batchwatch-job-history?var-job_queue=spike&from=", "Runbook: "} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q:\n%s", want, text)
		}
	}
	if len(ev.Links) != 1 || !strings.HasPrefix(ev.Links[0].Href, "http://localhost:3000/d/batchwatch-job-history?var-job_queue=spike") {
		t.Errorf("links %+v", ev.Links)
	}
}
