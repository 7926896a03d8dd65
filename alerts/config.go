// Package alerts renders batchwatch's Prometheus alerting rules and its
// Alertmanager configuration from one configuration, following the
// monitoring-mixin guidelines (kubernetes-mixin): CamelCase names with the
// Batchwatch prefix, a severity of critical (pages), warning (tickets) or
// info, a static summary, a templated description and a runbook_url into
// docs/runbooks.md.
//
// Every threshold, window, selector and route lives in Config, the
// mixin's _config: DefaultConfig holds the defaults, and a YAML file
// (deploy/alerts/config.yml, read by LoadConfig) changes what it names.
// alerts/tests/*.yml test the generated rules with promtool on both sides
// of every alert's `for`.
package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/batchwatch/batchwatch/batch"
)

// Config holds every threshold, window, selector and route of the rules
// and of the Alertmanager configuration.
type Config struct {
	// RunbookURL is the base of runbook links; the alert's name in lower
	// case is appended as the anchor (#batchwatchjobfailurespike).
	RunbookURL string `yaml:"runbook_url"`
	// Dashboard is where pages link to.
	Dashboard Dashboard `yaml:"dashboard"`
	// ExporterSelector and IngestSelector select the exporter's and
	// ingest's series: the scrape jobs of your Prometheus configuration.
	// They must be equality matchers (absent() takes its labels from them).
	ExporterSelector string `yaml:"exporter_selector"`
	IngestSelector   string `yaml:"ingest_selector"`

	FailureSpike  FailureSpike    `yaml:"failure_spike"`
	StuckRunnable Threshold       `yaml:"stuck_runnable"`
	StuckStarting Threshold       `yaml:"stuck_starting"`
	Unschedulable Threshold       `yaml:"unschedulable"`
	QueueBlocked  WindowThreshold `yaml:"queue_blocked"`
	SpotReclaims  WindowThreshold `yaml:"spot_reclaims"`
	// ComputeEnvironmentInvalid, ComputeEnvironmentDisabled and
	// QueueDisabled fire when the state lasts For (Value is unused).
	ComputeEnvironmentInvalid  Threshold `yaml:"compute_environment_invalid"`
	ComputeEnvironmentDisabled Threshold `yaml:"compute_environment_disabled"`
	QueueDisabled              Threshold `yaml:"queue_disabled"`
	// SQSVisible and SQSInFlight are message counts of the ingest and
	// exporter queues; DeadLetter the messages of their dead-letter queues.
	SQSVisible  Threshold `yaml:"sqs_visible"`
	SQSInFlight Threshold `yaml:"sqs_in_flight"`
	DeadLetter  Threshold `yaml:"dead_letter"`

	ExporterDown Threshold       `yaml:"exporter_down"`
	ResyncStale  Threshold       `yaml:"resync_stale"`
	AWSDown      AWSDown         `yaml:"aws_down"`
	Throttling   WindowThreshold `yaml:"throttling"`
	Collector    Threshold       `yaml:"collector"`
	TargetDown   Threshold       `yaml:"target_down"`

	IngestLag     WindowThreshold `yaml:"ingest_lag"`
	IngestStalled Threshold       `yaml:"ingest_stalled"`
	Quarantine    WindowThreshold `yaml:"quarantine"`
	InsertErrors  WindowThreshold `yaml:"insert_errors"`
	Budget        Budget          `yaml:"budget"`

	Routing Routing `yaml:"routing"`
}

// Dashboard names the job-history dashboard pages link to.
type Dashboard struct {
	// GrafanaURL is Grafana's external URL.
	GrafanaURL string `yaml:"grafana_url"`
	// HistoryUID is the uid of the job-history dashboard; its variables
	// job_queue and job_definition and the time range are set by the link.
	HistoryUID string `yaml:"history_uid"`
}

// Threshold is a value that must hold for a while.
type Threshold struct {
	Value float64        `yaml:"value"`
	For   model.Duration `yaml:"for"`
}

// WindowThreshold is a threshold on a rate or increase over a window.
type WindowThreshold struct {
	Window model.Duration `yaml:"window"`
	Value  float64        `yaml:"value"`
	For    model.Duration `yaml:"for"`
}

// AWSDown pages when the exporter's AWS calls of a kind fail for For;
// IgnoredKinds are kinds whose failure blinds no alert (Cost Explorer).
type AWSDown struct {
	For          model.Duration `yaml:"for"`
	IgnoredKinds []string       `yaml:"ignored_kinds"`
}

// Budget is the daily cost budget: a warning when the estimated spend rate
// over EstimateWindow, projected over a day, exceeds it; an info alert when
// Cost Explorer's actual cost of yesterday did.
type Budget struct {
	DailyUSD       float64        `yaml:"daily_usd"`
	EstimateWindow model.Duration `yaml:"estimate_window"`
	EstimateFor    model.Duration `yaml:"estimate_for"`
	ActualFor      model.Duration `yaml:"actual_for"`
}

// FailureSpike pages when the actionable failures over Window of a queue,
// or of a job definition within it, are above Ratio of its finished jobs
// with at least MinFailures of them; Warning is the same check per queue
// at lower thresholds that opens a ticket (inhibited while the page
// fires). Failures of the NotPaging classes count neither as failures nor
// as finished jobs.
type FailureSpike struct {
	Window model.Duration `yaml:"window"`
	// KeepFiringFor keeps a firing spike alert firing this long after its
	// condition went away, so one burst with a lull pages once.
	KeepFiringFor model.Duration `yaml:"keep_firing_for"`
	NotPaging     []string       `yaml:"not_paging_failure_classes"`
	Critical      SpikeLevel     `yaml:"critical"`
	Warning       SpikeLevel     `yaml:"warning"`
}

// SpikeLevel is one severity of the failure spike.
type SpikeLevel struct {
	Ratio       float64        `yaml:"ratio"`
	MinFailures float64        `yaml:"min_failures"`
	For         model.Duration `yaml:"for"`
}

func d(x time.Duration) model.Duration { return model.Duration(x) }

// notPaging are the failure classes that are not actionable.
func notPaging() []string {
	var out []string
	for _, c := range batch.FailureClasses {
		if !c.Actionable() {
			out = append(out, string(c))
		}
	}
	return out
}

// DefaultConfig is the configuration the committed rules are generated
// from. The numbers come from DOMAIN.md's field reports: jobs of minutes,
// bursts of thousands, a 50 requests/s Batch API budget.
func DefaultConfig() Config {
	return Config{
		RunbookURL:       "https://github.com/batchwatch/batchwatch/blob/main/docs/runbooks.md",
		Dashboard:        Dashboard{GrafanaURL: "http://localhost:3000", HistoryUID: "batchwatch-job-history"},
		ExporterSelector: `job="batchwatch-exporter"`,
		IngestSelector:   `job="batchwatch-ingest"`,
		FailureSpike: FailureSpike{
			Window:        d(10 * time.Minute),
			KeepFiringFor: d(10 * time.Minute),
			NotPaging:     notPaging(),
			Critical:      SpikeLevel{Ratio: 0.25, MinFailures: 20, For: d(5 * time.Minute)},
			Warning:       SpikeLevel{Ratio: 0.10, MinFailures: 5, For: d(15 * time.Minute)},
		},
		StuckRunnable:              Threshold{Value: 1800, For: d(5 * time.Minute)},
		StuckStarting:              Threshold{Value: 900, For: d(5 * time.Minute)},
		Unschedulable:              Threshold{Value: 0, For: d(5 * time.Minute)},
		QueueBlocked:               WindowThreshold{Window: d(15 * time.Minute), Value: 0, For: d(5 * time.Minute)},
		SpotReclaims:               WindowThreshold{Window: d(15 * time.Minute), Value: 10, For: d(5 * time.Minute)},
		ComputeEnvironmentInvalid:  Threshold{For: d(5 * time.Minute)},
		ComputeEnvironmentDisabled: Threshold{For: d(30 * time.Minute)},
		QueueDisabled:              Threshold{For: d(30 * time.Minute)},
		SQSVisible:                 Threshold{Value: 10000, For: d(15 * time.Minute)},
		SQSInFlight:                Threshold{Value: 5000, For: d(15 * time.Minute)},
		DeadLetter:                 Threshold{Value: 0, For: d(5 * time.Minute)},
		ExporterDown:               Threshold{For: d(5 * time.Minute)},
		ResyncStale:                Threshold{Value: 900, For: d(5 * time.Minute)},
		AWSDown:                    AWSDown{For: d(10 * time.Minute), IgnoredKinds: []string{"cost"}},
		Throttling:                 WindowThreshold{Window: d(10 * time.Minute), Value: 0.05, For: d(15 * time.Minute)},
		Collector:                  Threshold{Value: 0, For: d(15 * time.Minute)},
		TargetDown:                 Threshold{Value: 0, For: d(5 * time.Minute)},
		IngestLag:                  WindowThreshold{Window: d(10 * time.Minute), Value: 300, For: d(10 * time.Minute)},
		IngestStalled:              Threshold{Value: 600, For: d(5 * time.Minute)},
		Quarantine:                 WindowThreshold{Window: d(time.Hour), Value: 10, For: d(5 * time.Minute)},
		InsertErrors:               WindowThreshold{Window: d(5 * time.Minute), Value: 0, For: d(10 * time.Minute)},
		Budget: Budget{
			DailyUSD:       500,
			EstimateWindow: d(time.Hour),
			EstimateFor:    d(time.Hour),
			ActualFor:      d(time.Hour),
		},
		Routing: DefaultRouting(),
	}
}

// LoadConfig reads a YAML configuration: DefaultConfig with what the file
// sets. Unknown keys are errors, so a typo cannot silently keep a default.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read alerts config: %w", err)
	}
	if err := ParseConfig(data, &c); err != nil {
		return c, fmt.Errorf("alerts config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig applies a YAML document on top of c and validates the result.
func ParseConfig(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse: %w", err)
	}
	return c.Validate()
}

// Validate rejects configurations that would render broken rules.
func (c Config) Validate() error {
	if c.RunbookURL == "" {
		return errors.New("alerts config: runbook_url is empty")
	}
	if c.ExporterSelector == "" || c.IngestSelector == "" {
		return errors.New("alerts config: exporter and ingest selectors are required")
	}
	for _, sel := range []string{c.ExporterSelector, c.IngestSelector} {
		if strings.ContainsAny(sel, "{}") || strings.Contains(sel, "=~") || strings.Contains(sel, "!") {
			return fmt.Errorf("alerts config: selector %q: equality matchers without braces only (BatchwatchExporterDown's absent() takes its labels from them)", sel)
		}
	}
	if c.Dashboard.GrafanaURL == "" || c.Dashboard.HistoryUID == "" {
		return errors.New("alerts config: dashboard grafana_url and history_uid are required")
	}
	for name, w := range map[string]model.Duration{
		"failure_spike": c.FailureSpike.Window, "queue_blocked": c.QueueBlocked.Window,
		"spot_reclaims": c.SpotReclaims.Window, "throttling": c.Throttling.Window,
		"ingest_lag": c.IngestLag.Window, "quarantine": c.Quarantine.Window,
		"insert_errors": c.InsertErrors.Window, "budget": c.Budget.EstimateWindow,
	} {
		if w <= 0 {
			return fmt.Errorf("alerts config: %s window must be positive", name)
		}
	}
	if c.FailureSpike.Critical.Ratio <= c.FailureSpike.Warning.Ratio {
		return errors.New("alerts config: the critical failure ratio must be above the warning one")
	}
	if c.FailureSpike.Critical.MinFailures < 1 {
		return errors.New("alerts config: failure_spike critical min_failures must be at least 1")
	}
	if err := validClasses(c.FailureSpike.NotPaging); err != nil {
		return err
	}
	if c.Budget.DailyUSD <= 0 {
		return errors.New("alerts config: the daily budget must be positive")
	}
	return c.Routing.Validate()
}

func validClasses(classes []string) error {
	known := map[string]bool{}
	for _, c := range batch.FailureClasses {
		known[string(c)] = true
	}
	for _, c := range classes {
		if !known[c] {
			return fmt.Errorf("alerts config: unknown failure class %q in not_paging_failure_classes (known: %v)", c, batch.FailureClasses)
		}
	}
	return nil
}
