// Package alerts renders batchwatch's Prometheus alerting rules and its
// Alertmanager configuration from one Go configuration, following the
// monitoring-mixin guidelines (kubernetes-mixin): CamelCase names with the
// Batchwatch prefix, a severity of critical (pages), warning (tickets) or
// info, a static summary, a templated description and a runbook_url into
// docs/runbooks.md.
//
// Every threshold, window and selector lives in Config; DefaultConfig is
// what deploy/prometheus/rules/batchwatch.rules.yml is generated from, and
// alerts/tests/*.yml test that file with promtool on both sides of every
// alert's `for`.
package alerts

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// Config holds every threshold, window and selector of the rules.
type Config struct {
	// RunbookURL is the base of runbook links; the alert's name in lower
	// case is appended as the anchor (#batchwatchjobfailurespike).
	RunbookURL string
	// ExporterSelector and IngestSelector select the exporter's and
	// ingest's series: the scrape jobs of your Prometheus configuration.
	ExporterSelector string
	IngestSelector   string

	FailureSpike  FailureSpike
	StuckRunnable Threshold
	StuckStarting Threshold
	Unschedulable Threshold
	QueueBlocked  WindowThreshold
	SpotReclaims  WindowThreshold
	ResyncStale   Threshold
	AWSDown       Threshold
	Throttling    WindowThreshold
	IngestLag     WindowThreshold
	IngestStalled Threshold
	Quarantine    WindowThreshold
	InsertErrors  WindowThreshold
	Collector     Threshold
	TargetDown    Threshold
	Budget        Budget
}

// Threshold is a value that must hold for a while.
type Threshold struct {
	Value float64
	For   model.Duration
}

// WindowThreshold is a threshold on a rate or increase over a window.
type WindowThreshold struct {
	Window model.Duration
	Value  float64
	For    model.Duration
}

// Budget is the daily cost budget: a warning when the estimated spend rate
// over EstimateWindow, projected over a day, exceeds it; an info alert when
// Cost Explorer's actual cost of yesterday did.
type Budget struct {
	DailyUSD       float64
	EstimateWindow model.Duration
	EstimateFor    model.Duration
	ActualFor      model.Duration
}

// FailureSpike pages when a queue's failure ratio over Window is above
// Ratio with at least MinFailures failures; Warning is the same check at
// lower thresholds that opens a ticket (inhibited while the page fires).
type FailureSpike struct {
	Window   model.Duration
	Critical SpikeLevel
	Warning  SpikeLevel
}

// SpikeLevel is one severity of the failure spike.
type SpikeLevel struct {
	Ratio       float64
	MinFailures float64
	For         model.Duration
}

func d(x time.Duration) model.Duration { return model.Duration(x) }

// DefaultConfig is the configuration the committed rules are generated
// from. The numbers come from DOMAIN.md's field reports: jobs of minutes,
// bursts of thousands, a 50 requests/s Batch API budget.
func DefaultConfig() Config {
	return Config{
		RunbookURL:       "https://github.com/batchwatch/batchwatch/blob/main/docs/runbooks.md",
		ExporterSelector: `job="batchwatch-exporter"`,
		IngestSelector:   `job="batchwatch-ingest"`,
		FailureSpike: FailureSpike{
			Window:   d(10 * time.Minute),
			Critical: SpikeLevel{Ratio: 0.25, MinFailures: 20, For: d(5 * time.Minute)},
			Warning:  SpikeLevel{Ratio: 0.10, MinFailures: 5, For: d(15 * time.Minute)},
		},
		StuckRunnable: Threshold{Value: 1800, For: d(5 * time.Minute)},
		StuckStarting: Threshold{Value: 900, For: d(5 * time.Minute)},
		Unschedulable: Threshold{Value: 0, For: d(5 * time.Minute)},
		QueueBlocked:  WindowThreshold{Window: d(15 * time.Minute), Value: 0, For: d(5 * time.Minute)},
		SpotReclaims:  WindowThreshold{Window: d(15 * time.Minute), Value: 10, For: d(5 * time.Minute)},
		ResyncStale:   Threshold{Value: 900, For: d(5 * time.Minute)},
		AWSDown:       Threshold{Value: 0, For: d(10 * time.Minute)},
		Throttling:    WindowThreshold{Window: d(10 * time.Minute), Value: 0.05, For: d(15 * time.Minute)},
		IngestLag:     WindowThreshold{Window: d(10 * time.Minute), Value: 300, For: d(10 * time.Minute)},
		IngestStalled: Threshold{Value: 600, For: d(5 * time.Minute)},
		Quarantine:    WindowThreshold{Window: d(time.Hour), Value: 10, For: d(5 * time.Minute)},
		InsertErrors:  WindowThreshold{Window: d(5 * time.Minute), Value: 0, For: d(10 * time.Minute)},
		Collector:     Threshold{Value: 0, For: d(15 * time.Minute)},
		TargetDown:    Threshold{Value: 0, For: d(5 * time.Minute)},
		Budget: Budget{
			DailyUSD:       500,
			EstimateWindow: d(time.Hour),
			EstimateFor:    d(time.Hour),
			ActualFor:      d(time.Hour),
		},
	}
}

// Validate rejects configurations that would render broken rules.
func (c Config) Validate() error {
	if c.RunbookURL == "" {
		return errors.New("alerts config: RunbookURL is empty")
	}
	if c.ExporterSelector == "" || c.IngestSelector == "" {
		return errors.New("alerts config: exporter and ingest selectors are required")
	}
	for name, w := range map[string]model.Duration{
		"FailureSpike": c.FailureSpike.Window, "QueueBlocked": c.QueueBlocked.Window,
		"SpotReclaims": c.SpotReclaims.Window, "Throttling": c.Throttling.Window,
		"IngestLag": c.IngestLag.Window, "Quarantine": c.Quarantine.Window,
		"InsertErrors": c.InsertErrors.Window, "Budget": c.Budget.EstimateWindow,
	} {
		if w <= 0 {
			return fmt.Errorf("alerts config: %s window must be positive", name)
		}
	}
	if c.FailureSpike.Critical.Ratio <= c.FailureSpike.Warning.Ratio {
		return errors.New("alerts config: the critical failure ratio must be above the warning one")
	}
	if c.Budget.DailyUSD <= 0 {
		return errors.New("alerts config: the daily budget must be positive")
	}
	return nil
}
