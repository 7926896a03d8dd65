package exporter

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCapacityGolden(t *testing.T) {
	clock := newFakeClock()
	x, reg := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
	if err := x.RefreshCapacity(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP batchwatch_compute_environment_desired_vcpus Desired vCPUs of a managed EC2 compute environment.
# TYPE batchwatch_compute_environment_desired_vcpus gauge
batchwatch_compute_environment_desired_vcpus{compute_environment="ce-od"} 0
batchwatch_compute_environment_desired_vcpus{compute_environment="ce-spot"} 8
# HELP batchwatch_compute_environment_info Static properties of a compute environment (capacity empty for unmanaged ones).
# TYPE batchwatch_compute_environment_info gauge
batchwatch_compute_environment_info{capacity="EC2",compute_environment="ce-od",type="MANAGED"} 1
batchwatch_compute_environment_info{capacity="SPOT",compute_environment="ce-spot",type="MANAGED"} 1
# HELP batchwatch_compute_environment_max_vcpus Maximum vCPUs of a managed compute environment.
# TYPE batchwatch_compute_environment_max_vcpus gauge
batchwatch_compute_environment_max_vcpus{compute_environment="ce-od"} 16
batchwatch_compute_environment_max_vcpus{compute_environment="ce-spot"} 64
# HELP batchwatch_compute_environment_min_vcpus Minimum vCPUs of a managed EC2 compute environment.
# TYPE batchwatch_compute_environment_min_vcpus gauge
batchwatch_compute_environment_min_vcpus{compute_environment="ce-od"} 0
batchwatch_compute_environment_min_vcpus{compute_environment="ce-spot"} 0
# HELP batchwatch_queue_compute_environment_info The compute environments of a job queue; order is the position, from 1.
# TYPE batchwatch_queue_compute_environment_info gauge
batchwatch_queue_compute_environment_info{compute_environment="ce-od",job_queue="q1",order="2"} 1
batchwatch_queue_compute_environment_info{compute_environment="ce-spot",job_queue="q1",order="1"} 1
# HELP batchwatch_queue_info Static properties of a job queue.
# TYPE batchwatch_queue_info gauge
batchwatch_queue_info{job_queue="q1",state="ENABLED",status="VALID"} 1
# HELP batchwatch_queue_priority Priority of a job queue (0-1000, higher first).
# TYPE batchwatch_queue_priority gauge
batchwatch_queue_priority{job_queue="q1"} 10
`
	names := []string{"batchwatch_compute_environment_desired_vcpus", "batchwatch_compute_environment_info",
		"batchwatch_compute_environment_max_vcpus", "batchwatch_compute_environment_min_vcpus",
		"batchwatch_queue_compute_environment_info", "batchwatch_queue_info", "batchwatch_queue_priority"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	var state strings.Builder
	for _, s := range []string{"CREATING", "UPDATING", "DELETING", "DELETED", "VALID", "INVALID"} {
		for _, ce := range []string{"ce-od", "ce-spot"} {
			for _, st := range []string{"ENABLED", "DISABLED"} {
				v := "0"
				if st == "ENABLED" && s == "VALID" {
					v = "1"
				}
				state.WriteString(`batchwatch_compute_environment_state{compute_environment="` + ce + `",state="` + st + `",status="` + s + `"} ` + v + "\n")
			}
		}
	}
	want = "# HELP batchwatch_compute_environment_state State set of a compute environment: 1 for its current state and status, 0 for the others.\n" +
		"# TYPE batchwatch_compute_environment_state gauge\n" + state.String()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "batchwatch_compute_environment_state"); err != nil {
		t.Fatal(err)
	}
	lint(t, reg)
}

func TestScrapeCollectorSuccess(t *testing.T) {
	clock := newFakeClock()
	x, reg := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
	success := func() map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "batchwatch_scrape_collector_success" {
				continue
			}
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	if got := success(); got["queue"] != 0 || got["capacity"] != 0 || len(got) != 2 {
		t.Fatalf("before any AWS answer: %v", got)
	}
	if n, _ := testutil.GatherAndCount(reg, "batchwatch_queue_jobs"); n != 0 {
		t.Fatalf("%d queue series before the first resync", n)
	}
	started(t, x)
	if got := success(); got["queue"] != 1 || got["capacity"] != 1 {
		t.Fatalf("after the first resync: %v", got)
	}
	lint(t, reg)
}
