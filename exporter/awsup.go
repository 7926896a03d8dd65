package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// AWS call kinds of batchwatch_exporter_aws_call_up (and of
// batchwatch_exporter_aws_up, which is their minimum).
const (
	CallResync          = "resync"
	CallCapacity        = "capacity"
	CallSQS             = "sqs"
	CallCost            = "cost"
	CallQueueAttributes = "queue_attributes"
)

// newAWSCallUp is batchwatch_exporter_aws_call_up: aws_up per kind of
// call, so that an alert can tell a missing Cost Explorer permission
// (dashboards lose actual costs) from failing Batch or SQS calls (job
// alerts go blind).
func newAWSCallUp(f promauto.Factory) *prometheus.GaugeVec {
	return f.NewGaugeVec(prometheus.GaugeOpts{Namespace: "batchwatch", Subsystem: "exporter", Name: "aws_call_up",
		Help: "1 when the latest AWS call of the kind (resync, capacity, sqs, cost, queue_attributes) succeeded; a kind appears with its first call."},
		[]string{"kind"})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
