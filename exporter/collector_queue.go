package exporter

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// errNoResync is returned until the first resync completed: before it the
// counts would be wrong, and absent is better than wrong.
var errNoResync = errors.New("no resync completed yet")

// queueCollector exports the pre-aggregated queue state.
type queueCollector struct {
	state *State
	ready func() bool

	jobs, children, oldest, unsched, maxSched *prometheus.Desc
}

func newQueueCollector(state *State, ready func() bool) *queueCollector {
	return &queueCollector{
		state: state, ready: ready,
		jobs: prometheus.NewDesc("batchwatch_queue_jobs",
			"Jobs per queue and status, every status present: exact at each resync, then kept current by the job events. Array children are in batchwatch_queue_array_child_jobs; a multi-node job counts once. SUCCEEDED and FAILED count the jobs that stopped within --exporter.finished-window.",
			[]string{"job_queue", "status"}, nil),
		children: prometheus.NewDesc("batchwatch_queue_array_child_jobs",
			"Array children per queue and status (same definition as batchwatch_queue_jobs).",
			[]string{"job_queue", "status"}, nil),
		oldest: prometheus.NewDesc("batchwatch_queue_oldest_job_age_seconds",
			"Age of the oldest job in the status (since it entered it, else since its creation), array children included, array parents not; 0 when there is none.",
			[]string{"job_queue", "status"}, nil),
		unsched: prometheus.NewDesc("batchwatch_queue_unschedulable_jobs",
			"RUNNABLE jobs (array children included) whose request exceeds every instance type the queue's compute environments can launch, by the resource that does not fit (combination: each fits alone, never together).",
			[]string{"job_queue", "resource"}, nil),
		maxSched: prometheus.NewDesc("batchwatch_queue_max_schedulable",
			"Largest request that fits the queue's compute environments: vcpu in vCPUs, memory in MiB (after the ECS agent's reserve), gpu in GPUs. Absent when an instance type is unknown.",
			[]string{"job_queue", "resource"}, nil),
	}
}

// Update implements Collector.
func (c *queueCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	if !c.ready() {
		return errNoResync
	}
	for _, q := range c.state.Snapshot() {
		for st := range numStatus {
			name := statusName(st)
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(q.Jobs[st]), q.Name, string(name))
			ch <- prometheus.MustNewConstMetric(c.children, prometheus.GaugeValue, float64(q.Children[st]), q.Name, string(name))
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, q.OldestAgeSec[st], q.Name, string(name))
		}
		for r := resVCPU; r < numRes; r++ {
			ch <- prometheus.MustNewConstMetric(c.unsched, prometheus.GaugeValue, float64(q.Unsched[r]), q.Name, resourceNames[r])
		}
		if ft := q.Fit; ft != nil {
			ch <- prometheus.MustNewConstMetric(c.maxSched, prometheus.GaugeValue, ft.max.vcpus, q.Name, resourceNames[resVCPU])
			ch <- prometheus.MustNewConstMetric(c.maxSched, prometheus.GaugeValue, float64(ft.max.memMiB), q.Name, resourceNames[resMemory])
			ch <- prometheus.MustNewConstMetric(c.maxSched, prometheus.GaugeValue, float64(ft.max.gpus), q.Name, resourceNames[resGPU])
		}
	}
	return nil
}
