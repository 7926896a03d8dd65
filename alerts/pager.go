package alerts

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Pager is a local stand-in for a paging service, for the demo and for
// trying a configuration: it accepts what Alertmanager sends to PagerDuty's
// Events API v2 (a path ending in /pagerduty) and to webhooks (any other
// path), and writes each notification as text: the page's summary, text
// and links, or the webhook's alerts with their annotations.
type Pager struct {
	mu  sync.Mutex
	out io.Writer
}

// NewPager writes notifications to out.
func NewPager(out io.Writer) *Pager { return &Pager{out: out} }

type pdEvent struct {
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string            `json:"summary"`
		Severity      string            `json:"severity"`
		CustomDetails map[string]string `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

type webhookMessage struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

// ServeHTTP implements http.Handler.
func (p *Pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a notification", http.StatusBadRequest)
		return
	}
	var text string
	if strings.HasSuffix(r.URL.Path, "/pagerduty") {
		text, err = pagerDutyText(body)
	} else {
		text, err = webhookText(r.URL.Path, body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	_, _ = io.WriteString(p.out, text)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"success","message":"Event processed"}`)
}

func pagerDutyText(body []byte) (string, error) {
	var ev pdEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", fmt.Errorf("not a PagerDuty event: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "=== PAGE (PagerDuty %s, severity %s) ===\n%s\n", ev.EventAction, ev.Payload.Severity, ev.Payload.Summary)
	if t := ev.Payload.CustomDetails["text"]; t != "" {
		fmt.Fprintf(&b, "%s\n", strings.TrimSpace(t))
	}
	for _, l := range ev.Links {
		fmt.Fprintf(&b, "Link: %s %s\n", l.Text, l.Href)
	}
	return b.String() + "\n", nil
}

func webhookText(path string, body []byte) (string, error) {
	var m webhookMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("not an Alertmanager webhook message: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "=== %s: %s, %d alerts ===\n", path, m.Status, len(m.Alerts))
	for _, a := range m.Alerts {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		labels := make([]string, 0, len(keys))
		for _, k := range keys {
			labels = append(labels, k+"="+a.Labels[k])
		}
		fmt.Fprintf(&b, "[%s] %s\n", a.Status, strings.Join(labels, " "))
		for _, k := range []string{"description", "failed_jobs", "top_failure_classes", "top_job_definitions", "dashboard_url"} {
			if v := a.Annotations[k]; v != "" {
				fmt.Fprintf(&b, "  %s: %s\n", k, v)
			}
		}
	}
	return b.String() + "\n", nil
}
