package submitter

import (
	"fmt"
	"io"
	"strings"
)

// DryRunRow is the plan for one tier and queue.
type DryRunRow struct {
	Tier  string `json:"tier"`
	Queue string `json:"queue"`
	Items int    `json:"items"`
	// Calls is the number of SubmitJob calls: arrays (and lone items) in
	// array mode, items in single mode.
	Calls          int     `json:"submit_job_calls"`
	VCPUs          float64 `json:"vcpus"`
	MemoryMiB      int     `json:"memory_mib"`
	GPUs           int     `json:"gpus"`
	HoursPerItem   float64 `json:"hours_per_item"`
	VCPUHours      float64 `json:"vcpu_hours"`
	MemoryGiBHours float64 `json:"memory_gib_hours"`
	GPUHours       float64 `json:"gpu_hours"`
	CostUSD        float64 `json:"estimated_cost_usd"`
}

// DryRun is what a run would submit, without calling AWS.
type DryRun struct {
	Mode      Mode        `json:"mode"`
	ArraySize int         `json:"array_size"`
	Rows      []DryRunRow `json:"rows"`
	Total     DryRunRow   `json:"total"`
	// FanInCalls counts the fan-in job and its barrier jobs.
	FanInCalls int    `json:"fan_in_calls"`
	Prices     Prices `json:"prices"`
	// Estimated says where run times come from.
	Estimated string `json:"estimated"`
	Invalid   int    `json:"invalid_lines"`
}

// PlanDryRun computes the per tier and queue plan: items, SubmitJob calls,
// vCPU-, GiB- and GPU-hours from each tier's expected duration, and the
// cost from the plan's price table.
func PlanDryRun(p *Plan, as []Assignment, mode Mode, arraySize int) DryRun {
	if arraySize <= 0 || arraySize > MaxArraySize {
		arraySize = MaxArraySize
	}
	d := DryRun{Mode: mode, ArraySize: arraySize, Prices: p.Prices, Total: DryRunRow{Tier: "total"}}
	for _, g := range GroupItems(as, 0) {
		t := p.Tiers[g.Key.Tier]
		h := t.Estimate().Hours()
		row := DryRunRow{Tier: t.Name, Queue: g.Key.Queue, Items: len(g.Items), VCPUs: t.VCPUs,
			MemoryMiB: t.MemoryMiB, GPUs: t.GPUs, HoursPerItem: h}
		if mode == ModeArray {
			row.Calls = len(Chunks(g.Items, arraySize))
		} else {
			row.Calls = len(g.Items)
		}
		n := float64(len(g.Items))
		row.VCPUHours = n * h * t.VCPUs
		row.MemoryGiBHours = n * h * float64(t.MemoryMiB) / 1024
		row.GPUHours = n * h * float64(t.GPUs)
		row.CostUSD = row.VCPUHours*p.Prices.VCPUHour + row.MemoryGiBHours*p.Prices.MemoryGiBHour + row.GPUHours*p.Prices.GPUHour
		d.Rows = append(d.Rows, row)
		d.Total.Items += row.Items
		d.Total.Calls += row.Calls
		d.Total.VCPUHours += row.VCPUHours
		d.Total.MemoryGiBHours += row.MemoryGiBHours
		d.Total.GPUHours += row.GPUHours
		d.Total.CostUSD += row.CostUSD
	}
	if p.FanIn != nil && d.Total.Calls > 0 {
		deps := d.Total.Calls
		for deps > MaxDependencies {
			deps = (deps + MaxDependencies - 1) / MaxDependencies
			d.FanInCalls += deps
		}
		d.FanInCalls++
	}
	var est []string
	for _, t := range p.Tiers {
		switch {
		case t.ExpectedDuration > 0:
			est = append(est, fmt.Sprintf("%s %s (expected_duration)", t.Name, t.ExpectedDuration))
		case t.Timeout > 0:
			est = append(est, fmt.Sprintf("%s %s (timeout: an upper bound)", t.Name, t.Timeout))
		default:
			est = append(est, fmt.Sprintf("%s 1h (no expected_duration nor timeout)", t.Name))
		}
	}
	d.Estimated = strings.Join(est, ", ")
	return d
}

// WriteText prints the dry run as a table.
func (d DryRun) WriteText(w io.Writer) {
	fmt.Fprintf(w, "dry run (%s mode, arrays of at most %d): nothing is submitted\n\n", d.Mode, d.ArraySize)
	fmt.Fprintf(w, "%-10s %-24s %8s %6s %6s %9s %5s %12s %12s %10s %12s\n",
		"TIER", "QUEUE", "ITEMS", "CALLS", "VCPUS", "MEM_MIB", "GPUS", "VCPU_HOURS", "GIB_HOURS", "GPU_HOURS", "COST_USD")
	for _, r := range append(d.Rows, d.Total) {
		vcpus, mem, gpus := fmt.Sprintf("%g", r.VCPUs), fmt.Sprint(r.MemoryMiB), fmt.Sprint(r.GPUs)
		if r.Tier == "total" {
			vcpus, mem, gpus = "", "", ""
		}
		fmt.Fprintf(w, "%-10s %-24s %8d %6d %6s %9s %5s %12.1f %12.1f %10.1f %12.2f\n",
			r.Tier, r.Queue, r.Items, r.Calls, vcpus, mem, gpus, r.VCPUHours, r.MemoryGiBHours, r.GPUHours, r.CostUSD)
	}
	fmt.Fprintln(w)
	if d.FanInCalls > 0 {
		fmt.Fprintf(w, "fan-in: %d more SubmitJob call(s) (the fan-in job and its barrier jobs)\n", d.FanInCalls)
	}
	fmt.Fprintf(w, "run time per item: %s\n", d.Estimated)
	fmt.Fprintf(w, "prices (USD/hour): vCPU %g, GiB %g, GPU %g\n", d.Prices.VCPUHour, d.Prices.MemoryGiBHour, d.Prices.GPUHour)
	if d.Invalid > 0 {
		fmt.Fprintf(w, "invalid lines skipped: %d\n", d.Invalid)
	}
}
