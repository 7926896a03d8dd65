//go:build integration

package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
// reaches the paging webhook, the ticket twin of the same alert and queue
// is inhibited, the same warning on another queue goes to tickets, info
// goes nowhere.
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
		alert("warning", "spike", "BatchwatchJobFailureSpike"),
		alert("warning", "other", "BatchwatchJobFailureSpike"),
		alert("info", "", "BatchwatchActualCostAboveBudget"),
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
	testenv.WaitFor(t, 30*time.Second, "the spike's ticket twin to be inhibited", func() (bool, string) {
		alerts = nil
		r, err := http.Get(amURL + "/api/v2/alerts")
		if err != nil {
			return false, err.Error()
		}
		defer r.Body.Close()
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			return false, err.Error()
		}
		for _, a := range alerts {
			if a.Labels["severity"] == "warning" && a.Labels["job_queue"] == "spike" {
				return len(a.Status.InhibitedBy) > 0, fmt.Sprintf("state %s", a.Status.State)
			}
		}
		return false, fmt.Sprintf("%d alerts, none is the warning of queue spike", len(alerts))
	})
	for _, a := range alerts {
		var receivers []string
		for _, r := range a.Receivers {
			receivers = append(receivers, r.Name)
		}
		got := strings.Join(receivers, ",")
		key := a.Labels["severity"] + "/" + a.Labels["job_queue"]
		want := map[string]string{"critical/spike": ReceiverPage, "warning/spike": ReceiverTicket, "warning/other": ReceiverTicket, "info/": ReceiverNull}[key]
		if got != want {
			t.Errorf("%s routed to %q, want %q", key, got, want)
		}
		inhibited := len(a.Status.InhibitedBy) > 0
		if inhibited != (key == "warning/spike") {
			t.Errorf("%s: inhibited=%v (%s)", key, inhibited, a.Status.State)
		}
	}
	waitForPage(t, hook, "BatchwatchJobFailureSpike", "spike", time.Minute)
}

// waitForPage waits until the paging webhook received the alert firing for
// the queue, and returns it.
func waitForPage(t *testing.T, hook *testenv.Webhook, alertname, queue string, timeout time.Duration, watch ...*testenv.Process) map[string]string {
	t.Helper()
	var annotations map[string]string
	testenv.WaitFor(t, timeout, alertname+" paged for queue "+queue, func() (bool, string) {
		msgs := hook.Messages("/page")
		for _, m := range msgs {
			for _, a := range m.Alerts {
				if a.Status == "firing" && a.Labels["alertname"] == alertname && a.Labels["job_queue"] == queue && a.Labels["severity"] == SeverityCritical {
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
// mostly fail) through the exporter into a Prometheus that evaluates the
// rules and sends to Alertmanager, whose paging receiver is the test's
// webhook.
type pageData struct {
	stack *testenv.Stack
	hook  *testenv.Webhook
}

// e2eConfig is DefaultConfig with its windows shrunk for a simulator that
// runs 60 times faster than the clock Prometheus evaluates with: the
// thresholds (25 % and 20 failures) stay as they are.
func e2eConfig() Config {
	c := DefaultConfig()
	c.FailureSpike.Window = model.Duration(time.Minute)
	c.FailureSpike.Critical.For = model.Duration(10 * time.Second)
	c.FailureSpike.Warning.For = model.Duration(30 * time.Second)
	return c
}

func startPageData(t *testing.T) *pageData {
	t.Helper()
	amURL, hook := startAlertmanager(t)
	rules, err := RenderRules(e2eConfig())
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
		RuleFiles:       []string{rulesPath},
		AlertmanagerURL: amURL,
	})
	return &pageData{stack: st, hook: hook}
}

// A failure spike in the simulator pages: simulator → exporter →
// Prometheus rules → Alertmanager → the paging webhook.
func TestFailureSpikePagesEndToEnd(t *testing.T) {
	data := startPageData(t)
	ann := waitForPage(t, data.hook, "BatchwatchJobFailureSpike", "spike", 5*time.Minute,
		append(data.stack.Sims, data.stack.Exporters...)...)
	if ann["summary"] != "Many jobs of a job queue fail." {
		t.Errorf("summary %q", ann["summary"])
	}
	if !strings.Contains(ann["description"], "of the jobs that finished in queue spike over the last 1m failed") {
		t.Errorf("description %q", ann["description"])
	}
	if !strings.HasSuffix(ann["runbook_url"], "docs/runbooks.md#batchwatchjobfailurespike") {
		t.Errorf("runbook_url %q", ann["runbook_url"])
	}
}
