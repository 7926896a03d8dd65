package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Routing is the Alertmanager side of the configuration: who is paged for
// which queue, and how notifications are grouped.
type Routing struct {
	// Default receives what no team claims (and every alert without a
	// job_queue label: the exporter's and ingest's own).
	Default Team `yaml:"default"`
	// Teams claim job queues and job definitions by name (regular
	// expressions, anchored). A job definition's claim comes first: it
	// takes the alerts that carry a job_definition label (the failure
	// spike of a job definition), the queue's claim the rest.
	Teams []Team `yaml:"teams"`
	// PagerDutyURL is the Events API v2 endpoint of pagerduty_routing_key.
	PagerDutyURL string `yaml:"pagerduty_url"`
	// HeartbeatURL receives BatchwatchWatchdog every HeartbeatInterval: a
	// dead man's switch (healthchecks.io, Opsgenie heartbeat, …) that
	// alarms when it stops.
	HeartbeatURL      string         `yaml:"heartbeat_url"`
	HeartbeatInterval model.Duration `yaml:"heartbeat_interval"`
	// Page groups every critical alert of a team by alert name: one page
	// when every queue fails at once, and a second alert of the same spike
	// (a job definition's and its queue's) joins it. A group's changes are
	// sent at most every GroupInterval; a firing group is repeated every
	// RepeatInterval.
	Page Grouping `yaml:"page"`
}

// Grouping is how Alertmanager batches the alerts of one route.
type Grouping struct {
	GroupWait      model.Duration `yaml:"group_wait"`
	GroupInterval  model.Duration `yaml:"group_interval"`
	RepeatInterval model.Duration `yaml:"repeat_interval"`
}

// Team is who owns some job queues.
type Team struct {
	Name string `yaml:"name"`
	// Queues are regular expressions matched against the whole job_queue.
	Queues []string `yaml:"queues"`
	// JobDefinitions are regular expressions matched against the whole
	// job_definition (the name, without revision). Job tags (a team tag)
	// are not labels of the failure metrics, so they cannot route.
	JobDefinitions []string `yaml:"job_definitions"`
	// PageURL is a webhook receiving the team's pages (critical) as
	// Alertmanager's JSON; PagerDutyRoutingKey, when set, also sends them
	// to PagerDuty with the page text of batchwatch.tmpl.
	PageURL             string `yaml:"page_url"`
	PagerDutyRoutingKey string `yaml:"pagerduty_routing_key"`
	// TicketURL is a webhook receiving the team's warnings.
	TicketURL string `yaml:"ticket_url"`
}

// DefaultRouting are placeholders for the committed configuration: local
// webhooks, to be replaced by the real paging and ticket integrations.
func DefaultRouting() Routing {
	return Routing{
		Default: Team{
			Name:      "default",
			PageURL:   "http://127.0.0.1:5001/batchwatch/page",
			TicketURL: "http://127.0.0.1:5001/batchwatch/ticket",
		},
		PagerDutyURL:      "https://events.pagerduty.com/v2/enqueue",
		HeartbeatURL:      "http://127.0.0.1:5001/batchwatch/heartbeat",
		HeartbeatInterval: d(5 * time.Minute),
		Page:              Grouping{GroupWait: d(30 * time.Second), GroupInterval: d(30 * time.Minute), RepeatInterval: d(4 * time.Hour)},
	}
}

// Receiver names of the routing tree; a team's are prefixed with its name
// and a dash.
const (
	ReceiverPage      = "page"
	ReceiverTicket    = "ticket"
	ReceiverNull      = "null"
	ReceiverHeartbeat = "heartbeat"
)

var teamName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Validate rejects routes Alertmanager would refuse or that lose pages.
func (r Routing) Validate() error {
	if r.Default.PageURL == "" && r.Default.PagerDutyRoutingKey == "" {
		return errors.New("alerts config: routing default needs a page_url or a pagerduty_routing_key")
	}
	if r.Default.TicketURL == "" || r.HeartbeatURL == "" {
		return errors.New("alerts config: routing default ticket_url and heartbeat_url are required")
	}
	if r.Page.GroupInterval <= 0 || r.Page.RepeatInterval <= 0 || r.HeartbeatInterval <= 0 {
		return errors.New("alerts config: routing page group_interval, repeat_interval and heartbeat_interval must be positive")
	}
	seen := map[string]bool{"default": true}
	for _, t := range r.Teams {
		if !teamName.MatchString(t.Name) || seen[t.Name] {
			return fmt.Errorf("alerts config: team name %q must be unique, lower case, digits, _ and -", t.Name)
		}
		seen[t.Name] = true
		if err := t.validate(); err != nil {
			return err
		}
	}
	return nil
}

// validate checks one team's claims and receivers.
func (t Team) validate() error {
	if len(t.Queues)+len(t.JobDefinitions) == 0 || (t.PageURL == "" && t.PagerDutyRoutingKey == "") || t.TicketURL == "" {
		return fmt.Errorf("alerts config: team %s needs queues or job_definitions, a page_url or pagerduty_routing_key, and a ticket_url", t.Name)
	}
	for _, q := range t.Queues {
		if _, err := regexp.Compile("^(?:" + q + ")$"); err != nil {
			return fmt.Errorf("alerts config: team %s queue %q: %w", t.Name, q, err)
		}
	}
	for _, jd := range t.JobDefinitions {
		re, err := regexp.Compile("^(?:" + jd + ")$")
		if err != nil {
			return fmt.Errorf("alerts config: team %s job definition %q: %w", t.Name, jd, err)
		}
		// An alert without the label has job_definition="": a pattern
		// matching it would take every queue's alerts.
		if re.MatchString("") {
			return fmt.Errorf("alerts config: team %s job definition %q matches the empty name (every alert without a job definition)", t.Name, jd)
		}
	}
	return nil
}

// The subset of Alertmanager's configuration batchwatch writes.
type amConfig struct {
	Global       *amGlobalConf `yaml:"global,omitempty"`
	Templates    []string      `yaml:"templates,omitempty"`
	Route        amRoute       `yaml:"route"`
	InhibitRules []amInhibit   `yaml:"inhibit_rules"`
	Receivers    []amReceiver  `yaml:"receivers"`
}

type amGlobalConf struct {
	ResolveTimeout string `yaml:"resolve_timeout,omitempty"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	Continue       bool      `yaml:"continue,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

type amInhibit struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal,omitempty"`
}

type amReceiver struct {
	Name             string        `yaml:"name"`
	WebhookConfigs   []amWebhook   `yaml:"webhook_configs,omitempty"`
	PagerDutyConfigs []amPagerDuty `yaml:"pagerduty_configs,omitempty"`
}

type amWebhook struct {
	URL          string `yaml:"url"`
	SendResolved bool   `yaml:"send_resolved"`
	MaxAlerts    int    `yaml:"max_alerts,omitempty"`
}

type amPagerDuty struct {
	URL          string            `yaml:"url"`
	RoutingKey   string            `yaml:"routing_key"`
	SendResolved bool              `yaml:"send_resolved"`
	Severity     string            `yaml:"severity"`
	Description  string            `yaml:"description"`
	Details      map[string]string `yaml:"details"`
	Links        []amLink          `yaml:"links"`
}

type amLink struct {
	Href string `yaml:"href"`
	Text string `yaml:"text"`
}

// TemplateFile is the name of the notification template Alertmanager loads
// from beside its configuration file.
const TemplateFile = "batchwatch.tmpl"

// RenderAlertmanager renders the Alertmanager configuration: the watchdog
// to the heartbeat, then per team (the default last) critical to its
// paging receiver grouped by alert name, warning to its tickets, info to
// nowhere; the inhibitions of inhibitRules.
func RenderAlertmanager(r Routing) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	hb := r.HeartbeatInterval.String()
	cfg := amConfig{
		Global:    &amGlobalConf{ResolveTimeout: "5m"},
		Templates: []string{TemplateFile},
		Route: amRoute{
			// Anything without a known severity still reaches a human.
			Receiver:       ReceiverTicket,
			GroupBy:        []string{"alertname", "region", "account", "job_queue"},
			GroupWait:      "30s",
			GroupInterval:  "5m",
			RepeatInterval: "12h",
			Routes: []amRoute{{Receiver: ReceiverHeartbeat, Matchers: []string{`alertname="BatchwatchWatchdog"`},
				GroupBy: []string{"alertname"}, GroupWait: "0s", GroupInterval: hb, RepeatInterval: hb}},
		},
		InhibitRules: inhibitRules(),
		Receivers: []amReceiver{
			{Name: ReceiverNull},
			{Name: ReceiverHeartbeat, WebhookConfigs: []amWebhook{{URL: r.HeartbeatURL}}},
		},
	}
	cfg.Route.Routes = append(cfg.Route.Routes, teamRoutes(r)...)
	for _, t := range r.Teams {
		cfg.Receivers = append(cfg.Receivers, teamReceivers(r, t, t.Name+"-")...)
	}
	cfg.Route.Routes = append(cfg.Route.Routes, severityRoutes(r.Page, "")...)
	cfg.Receivers = append(cfg.Receivers, teamReceivers(r, r.Default, "")...)
	var buf bytes.Buffer
	buf.WriteString("# Generated by `batchwatch dashboards generate` from alerts/alertmanager.go and the\n" +
		"# routing of deploy/alerts/config.yml. Replace the placeholder webhook URLs with your paging\n" +
		"# (PagerDuty, Opsgenie) and ticket integrations there, and regenerate.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("render alertmanager config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render alertmanager config: %w", err)
	}
	return buf.Bytes(), nil
}

// teamRoutes are the teams' claims. A queue's route first hands the
// alerts of other teams' job definitions to them, then keeps the rest,
// its own team's definitions included: the queue's and its definitions'
// spike alerts of one team share a route, hence a group and one page.
// Definition claims on queues no team claims come after every queue.
func teamRoutes(r Routing) []amRoute {
	claim := func(t Team, label string, names []string, first []amRoute) amRoute {
		return amRoute{
			Receiver: t.Name + "-" + ReceiverTicket,
			Matchers: []string{fmt.Sprintf("%s=~%q", label, strings.Join(names, "|"))},
			Routes:   append(first, severityRoutes(r.Page, t.Name+"-")...),
		}
	}
	var defs []amRoute
	for _, t := range r.Teams {
		if len(t.JobDefinitions) > 0 {
			defs = append(defs, claim(t, "job_definition", t.JobDefinitions, nil))
		}
	}
	var out []amRoute
	for _, t := range r.Teams {
		if len(t.Queues) == 0 {
			continue
		}
		var others []amRoute
		for _, u := range r.Teams {
			if u.Name != t.Name && len(u.JobDefinitions) > 0 {
				others = append(others, claim(u, "job_definition", u.JobDefinitions, nil))
			}
		}
		out = append(out, claim(t, "job_queue", t.Queues, others))
	}
	return append(out, defs...)
}

// severityRoutes sends one team's alerts by severity. Pages are grouped by
// alert name only, so that a spike of many queues (or of a queue and its
// job definitions) is one page.
func severityRoutes(g Grouping, prefix string) []amRoute {
	return []amRoute{
		{Receiver: prefix + ReceiverPage, Matchers: []string{`severity="critical"`}, GroupBy: []string{"alertname"},
			GroupWait: g.GroupWait.String(), GroupInterval: g.GroupInterval.String(), RepeatInterval: g.RepeatInterval.String()},
		{Receiver: prefix + ReceiverTicket, Matchers: []string{`severity="warning"`}},
		{Receiver: ReceiverNull, Matchers: []string{`severity="info"`}},
	}
}

// teamReceivers are a team's paging and ticket receivers.
func teamReceivers(r Routing, t Team, prefix string) []amReceiver {
	page := amReceiver{Name: prefix + ReceiverPage}
	if t.PageURL != "" {
		page.WebhookConfigs = []amWebhook{{URL: t.PageURL, SendResolved: true}}
	}
	if t.PagerDutyRoutingKey != "" {
		page.PagerDutyConfigs = []amPagerDuty{{
			URL: r.PagerDutyURL, RoutingKey: t.PagerDutyRoutingKey, SendResolved: true, Severity: "critical",
			Description: `{{ template "batchwatch.page.title" . }}`,
			Details:     map[string]string{"text": `{{ template "batchwatch.page.text" . }}`},
			Links:       []amLink{{Href: `{{ template "batchwatch.page.link" . }}`, Text: "Job history"}},
		}}
	}
	return []amReceiver{page, {Name: prefix + ReceiverTicket, WebhookConfigs: []amWebhook{{URL: t.TicketURL, SendResolved: true}}}}
}

// Alerts that say the exporter's numbers cannot be trusted, and those
// that read them.
const (
	exporterBlind  = "BatchwatchExporterDown|BatchwatchExporterResyncStale|BatchwatchExporterAWSDown"
	exporterStates = "BatchwatchJobsStuckRunnable|BatchwatchJobsStuckStarting|BatchwatchUnschedulableJobs"
)

// inhibitRules: a critical alert mutes the warnings and infos of the same
// alert and queue (the failure spike's ticket twin), and a warning the
// infos; while the exporter is down or stale, its queue-state alerts are
// muted (they would report frozen numbers), and its target-down ticket.
func inhibitRules() []amInhibit {
	return []amInhibit{
		{
			SourceMatchers: []string{`severity="critical"`},
			TargetMatchers: []string{`severity=~"warning|info"`},
			Equal:          []string{"alertname", "job_queue"},
		},
		{
			SourceMatchers: []string{`severity="warning"`},
			TargetMatchers: []string{`severity="info"`},
			Equal:          []string{"alertname", "job_queue"},
		},
		{
			SourceMatchers: []string{`alertname=~"` + exporterBlind + `"`},
			TargetMatchers: []string{`alertname=~"` + exporterStates + `"`},
		},
		{
			SourceMatchers: []string{`alertname="BatchwatchExporterDown"`},
			TargetMatchers: []string{`alertname="BatchwatchTargetDown"`},
			Equal:          []string{"job"},
		},
	}
}
