package exporter

import (
	"strings"
	"testing"
	"time"
)

func TestParseFileConfig(t *testing.T) {
	fc, err := ParseFileConfig([]byte(`
tier:
  tag: size
  values: [small, medium, large]
cost:
  tags: [product]
prices:
  spot: {vcpu_hour: 0.01, gib_hour: 0.001}
memory_reserve: {min_mib: 512, percent: 5}
instance_types:
  - {name: x9.huge, vcpus: 128, memory_mib: 1048576, gpus: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	if fc.Tier.Tag != "size" || len(fc.Tier.Values) != 3 || fc.Cost.Metric != "UnblendedCost" {
		t.Errorf("tier/cost: %+v", fc)
	}
	if p := fc.Prices[CapacitySpot]; p.VCPUHour != 0.01 || p.GPUHour != 0 {
		t.Errorf("spot price %+v", p)
	}
	if p := fc.Prices[CapacityFargate]; p != DefaultPrices()[CapacityFargate] {
		t.Errorf("fargate price not defaulted: %+v", p)
	}
	types, err := newInstanceTable(fc)
	if err != nil {
		t.Fatal(err)
	}
	got, unknown := types.resolve([]string{"x9", "optimal", "nope.large"})
	if len(unknown) != 1 || unknown[0] != "nope.large" {
		t.Errorf("unknown %v", unknown)
	}
	var x9 bool
	for _, it := range got {
		if it.Name == "x9.huge" {
			x9 = true
			if m := types.usableMemory(it); m != 1048576-52428 {
				t.Errorf("usable memory %d", m)
			}
		}
		if f, _, _ := strings.Cut(it.Name, "."); f != "x9" && f != "c4" && f != "m4" && f != "r4" && f != "c5" && f != "m5" && f != "r5" {
			t.Errorf("optimal resolved to %s", it.Name)
		}
	}
	if !x9 {
		t.Error("family x9 from the file not resolved")
	}

	for _, bad := range []string{"tier: {tagg: x}", "prices: {gpu: {vcpu_hour: 1}}", "prices: {spot: {vcpu_hour: -1}}",
		"instance_types: [{name: big, vcpus: 1, memory_mib: 1}]", "memory_reserve: {percent: 100}"} {
		if _, err := ParseFileConfig([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseFileConfig(nil); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestConfigPrepare(t *testing.T) {
	base := func() *Config {
		return &Config{ResyncInterval: time.Minute, BatchAPIRate: 2, PageSize: 1000, CapacityInterval: time.Minute,
			FinishedWindow: time.Hour, CostDailyCalls: 24, SQSWaitTime: 20 * time.Second}
	}
	c := base()
	c.Queues = []string{"a,b", " c "}
	c.CostTags = []string{"product, team"}
	fc, _ := ParseFileConfig([]byte("tier: {parameter: size}"))
	if err := c.Prepare(fc); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Queues, "|") != "a|b|c" || strings.Join(c.CostTags, "|") != "product|team" || c.TierParameter != "size" {
		t.Errorf("prepared %+v", c)
	}
	for name, mod := range map[string]func(*Config){
		"page size":      func(c *Config) { c.PageSize = 1001 },
		"rate":           func(c *Config) { c.BatchAPIRate = 0 },
		"three tags":     func(c *Config) { c.CostTags = []string{"a", "b", "c"} },
		"label clash":    func(c *Config) { c.CostTags = []string{"cost-center", "cost_center"} },
		"sqs wait":       func(c *Config) { c.SQSWaitTime = time.Minute },
		"finished":       func(c *Config) { c.FinishedWindow = 0 },
		"cost budget":    func(c *Config) { c.CostDailyCalls = 0 },
		"resync":         func(c *Config) { c.ResyncInterval = 0 },
		"capacity every": func(c *Config) { c.CapacityInterval = 0 },
	} {
		c := base()
		mod(c)
		if err := c.Prepare(nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The compute environment tag: the flag wins over the file.
	fc, _ = ParseFileConfig([]byte("cost: {compute_environment_tag: from-file}"))
	for flag, want := range map[string]string{"": "from-file", "from-flag": "from-flag"} {
		c := base()
		c.CostComputeEnvironmentTag = flag
		if err := c.Prepare(fc); err != nil || c.CostComputeEnvironmentTag != want {
			t.Errorf("flag %q, file from-file: %q (%v), want %q", flag, c.CostComputeEnvironmentTag, err, want)
		}
	}
	if got := TagLabel("cost-center.team"); got != "tag_cost_center_team" {
		t.Errorf("TagLabel %s", got)
	}
}
