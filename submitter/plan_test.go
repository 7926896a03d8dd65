package submitter

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

const minimalPlan = `product: builds
job_definition: build
tiers:
  - {name: small, vcpus: 1, memory_mib: 2048, timeout: 30m}
  - {name: medium, vcpus: 2, memory_mib: 8192}
  - {name: large, vcpus: 4, memory_mib: 30720, gpus: 1}
sizes:
  - {max: 1000, tier: small}
  - {min: 1000, max: 100000, tier: medium}
  - {min: 100000, tier: large}
queues:
  - {priority: high, queue: q-high}
  - {tier: large, queue: q-large}
  - {queue: q-default}
`

func mustPlan(t *testing.T, text string) *Plan {
	t.Helper()
	p, err := ParsePlan("plan.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse plan: %v", err)
	}
	return p
}

func TestParsePlanDefaults(t *testing.T) {
	p := mustPlan(t, minimalPlan)
	if p.JobNamePrefix != "builds" {
		t.Errorf("prefix = %q, want the product", p.JobNamePrefix)
	}
	if got := strings.Join(p.Priorities, ","); got != "low,medium,high" || p.DefaultPriority != "low" {
		t.Errorf("priorities = %s default %s", got, p.DefaultPriority)
	}
	if p.RetryStrategy.Attempts != 3 || p.RetryStrategy.EvaluateOnExit[0].OnStatusReason != "Host EC2*" ||
		p.RetryStrategy.EvaluateOnExit[0].Action != "RETRY" || p.RetryStrategy.EvaluateOnExit[1].Action != "EXIT" {
		t.Errorf("default retry strategy = %+v", p.RetryStrategy)
	}
	if p.Prices != DefaultPrices() {
		t.Errorf("prices = %+v", p.Prices)
	}
	if p.Tiers[0].Timeout != 30*time.Minute || p.Tiers[0].Estimate() != 30*time.Minute || p.Tiers[1].Estimate() != time.Hour {
		t.Errorf("durations: %+v", p.Tiers)
	}
	if !math.IsInf(p.Sizes[0].Min, -1) || !math.IsInf(p.Sizes[2].Max, 1) {
		t.Errorf("open ranges: %+v", p.Sizes)
	}
	for _, c := range []struct {
		size float64
		tier int
	}{{-5, 0}, {0, 0}, {999.5, 0}, {1000, 1}, {99999, 1}, {100000, 2}, {1e12, 2}} {
		if got := p.TierFor(c.size); got != c.tier {
			t.Errorf("TierFor(%g) = %d, want %d", c.size, got, c.tier)
		}
	}
	for _, c := range []struct{ tier, prio, queue string }{
		{"small", "high", "q-high"}, {"large", "high", "q-high"}, {"large", "low", "q-large"}, {"medium", "medium", "q-default"},
	} {
		if q, _ := p.Queue(c.tier, c.prio); q != c.queue {
			t.Errorf("Queue(%s, %s) = %s, want %s", c.tier, c.prio, q, c.queue)
		}
	}
}

func TestParsePlanExample(t *testing.T) {
	data, err := os.ReadFile("testdata/zendesk-day/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan("plan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tiers) != 3 || p.FanIn == nil || p.FanIn.Name != "nightly-report" || p.Definition(1) != "model-build-medium" {
		t.Errorf("example plan: %+v", p)
	}
}

func TestParsePlanErrors(t *testing.T) {
	cases := []struct {
		name string
		plan string
		want []string // each must appear in the error
	}{
		{"empty", "", []string{"plan.yaml: the plan is empty"}},
		{"syntax", "product: [x\n", []string{"plan.yaml:"}},
		{"unknown field", minimalPlan + "sise_parameter: x\n", []string{"plan.yaml:15: field sise_parameter not found"}},
		{"unknown tier in sizes", strings.Replace(minimalPlan, "{min: 100000, tier: large}", "{min: 100000, tier: xl}", 1),
			[]string{`plan.yaml:10: size range: unknown tier "xl"`}},
		{"unknown tier in queues", strings.Replace(minimalPlan, "{tier: large, queue: q-large}", "{tier: huge, queue: q-large}", 1),
			[]string{`plan.yaml:13: queue rule: unknown tier "huge"`}},
		{"unknown priority in queues", strings.Replace(minimalPlan, "{priority: high, queue: q-high}", "{priority: urgent, queue: q-high}", 1),
			[]string{`plan.yaml:12: queue rule: unknown priority "urgent"`}},
		{"overlap", strings.Replace(minimalPlan, "{min: 1000, max: 100000, tier: medium}", "{min: 500, max: 100000, tier: medium}", 1),
			[]string{"plan.yaml:9: size range [500, 100000) overlaps the range at line 8"}},
		{"empty range", strings.Replace(minimalPlan, "{min: 100000, tier: large}", "{min: 100000, max: 100000, tier: large}", 1),
			[]string{"plan.yaml:10: size range [100000, 100000) is empty"}},
		{"no queue", strings.Replace(minimalPlan, "  - {queue: q-default}\n", "", 1),
			[]string{`no rule gives a queue to tier "small" at priority "low"`, `tier "medium" at priority "medium"`}},
		{"bad tier", strings.Replace(minimalPlan, "{name: medium, vcpus: 2, memory_mib: 8192}", "{name: medium, vcpus: 0, memory_mib: -1, timeout: 30s}", 1),
			[]string{"plan.yaml:5: tier \"medium\": vcpus must be positive", "memory_mib must be positive", "timeout must be at least 60s"}},
		{"duplicate tier", strings.Replace(minimalPlan, "{name: medium,", "{name: small,", 1),
			[]string{`plan.yaml:5: tier "small" is defined twice`}},
		{"no product", strings.Replace(minimalPlan, "product: builds\n", "", 1), []string{"plan.yaml:1: product is required"}},
		{"no definition", strings.Replace(minimalPlan, "job_definition: build\n", "", 1),
			[]string{`tier "small" has no job definition`}},
		{"reserved tag", minimalPlan + "tags: {tier: x, team: a}\n", []string{`plan.yaml:15: tag "tier" is set by batchwatch`}},
		{"bad retry", minimalPlan + "retry_strategy:\n  attempts: 11\n  evaluate_on_exit:\n    - {on_reason: '*', action: retry-later}\n",
			[]string{"plan.yaml:16: retry_strategy: attempts must be between 1 and 10", "plan.yaml:18: evaluate_on_exit: action must be RETRY or EXIT"}},
		{"fan-in without definition", minimalPlan + "fan_in: {queue: q}\n", []string{"plan.yaml:15: fan_in: job_definition is required"}},
		{"bad default priority", minimalPlan + "default_priority: urgent\n", []string{`default_priority "urgent" is not one of`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePlan("plan.yaml", []byte(c.plan))
			if err == nil {
				t.Fatal("no error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a ValidationError", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRetryStrategyNormalized(t *testing.T) {
	p := mustPlan(t, minimalPlan+"retry_strategy:\n  attempts: 2\n  evaluate_on_exit:\n    - {on_exit_code: '137', action: exit}\n")
	if p.RetryStrategy.Attempts != 2 || p.RetryStrategy.EvaluateOnExit[0].Action != "EXIT" || p.RetryStrategy.EvaluateOnExit[0].OnExitCode != "137" {
		t.Errorf("retry = %+v", p.RetryStrategy)
	}
}
