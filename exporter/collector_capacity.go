package exporter

import (
	"context"
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// errNoCapacity is returned until queues and compute environments were
// described once.
var errNoCapacity = errors.New("queues and compute environments not described yet")

// States and statuses of compute environments, for the state set.
var (
	ceStates   = []string{"ENABLED", "DISABLED"}
	ceStatuses = []string{"CREATING", "UPDATING", "DELETING", "DELETED", "VALID", "INVALID"}
)

// capacityCollector exports the latest description of queues and compute
// environments.
type capacityCollector struct {
	snapshot func() *CapacitySnapshot

	desired, minV, maxV, state, ceInfo, queueInfo, priority, queueCE, lastRefresh *prometheus.Desc
}

func newCapacityCollector(snapshot func() *CapacitySnapshot) *capacityCollector {
	ce := []string{"compute_environment"}
	return &capacityCollector{
		snapshot: snapshot,
		desired:  prometheus.NewDesc("batchwatch_compute_environment_desired_vcpus", "Desired vCPUs of a managed EC2 compute environment.", ce, nil),
		minV:     prometheus.NewDesc("batchwatch_compute_environment_min_vcpus", "Minimum vCPUs of a managed EC2 compute environment.", ce, nil),
		maxV:     prometheus.NewDesc("batchwatch_compute_environment_max_vcpus", "Maximum vCPUs of a managed compute environment.", ce, nil),
		state: prometheus.NewDesc("batchwatch_compute_environment_state",
			"State set of a compute environment: 1 for its current state and status, 0 for the others.",
			[]string{"compute_environment", "state", "status"}, nil),
		ceInfo: prometheus.NewDesc("batchwatch_compute_environment_info",
			"Static properties of a compute environment (capacity empty for unmanaged ones).",
			[]string{"compute_environment", "type", "capacity"}, nil),
		queueInfo: prometheus.NewDesc("batchwatch_queue_info", "Static properties of a job queue.",
			[]string{"job_queue", "state", "status"}, nil),
		priority: prometheus.NewDesc("batchwatch_queue_priority", "Priority of a job queue (0-1000, higher first).",
			[]string{"job_queue"}, nil),
		queueCE: prometheus.NewDesc("batchwatch_queue_compute_environment_info",
			"The compute environments of a job queue; order is the position, from 1.",
			[]string{"job_queue", "compute_environment", "order"}, nil),
		lastRefresh: prometheus.NewDesc("batchwatch_exporter_last_capacity_refresh_timestamp_seconds",
			"When queues and compute environments were last described.", nil, nil),
	}
}

// Update implements Collector.
func (c *capacityCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	snap := c.snapshot()
	if snap == nil {
		return errNoCapacity
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, ce := range snap.CEs {
		if ce.DesiredVCPUs != nil {
			gauge(c.desired, float64(*ce.DesiredVCPUs), ce.Name)
		}
		if ce.MinVCPUs != nil {
			gauge(c.minV, float64(*ce.MinVCPUs), ce.Name)
		}
		if ce.MaxVCPUs != nil {
			gauge(c.maxV, float64(*ce.MaxVCPUs), ce.Name)
		}
		for _, s := range ceStates {
			for _, st := range ceStatuses {
				v := 0.0
				if s == ce.State && st == ce.Status {
					v = 1
				}
				gauge(c.state, v, ce.Name, s, st)
			}
		}
		gauge(c.ceInfo, 1, ce.Name, ce.Type, ce.Capacity)
	}
	for _, q := range snap.Queues {
		gauge(c.queueInfo, 1, q.Name, q.State, q.Status)
		gauge(c.priority, float64(q.Priority), q.Name)
		for i, ce := range q.ComputeEnvironments {
			gauge(c.queueCE, 1, q.Name, ce, strconv.Itoa(i+1))
		}
	}
	gauge(c.lastRefresh, float64(snap.At.UnixMilli())/1000)
	return nil
}
