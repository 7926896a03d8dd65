package exporter

import (
	"context"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// newConsumer builds the SQS consumer of job events: each received batch is
// applied to the state, then acknowledged. A crash between the two
// redelivers the batch, which the state takes as duplicates.
func (x *Exporter) newConsumer(api sqsconsumer.API, base sqsconsumer.Config, m *sqsconsumer.Metrics) *sqsconsumer.Consumer {
	cfg := base
	cfg.QueueURL, cfg.Receivers, cfg.WaitTime = x.cfg.SQSQueueURL, x.cfg.SQSReceivers, x.cfg.SQSWaitTime
	observe := cfg.Observe
	cfg.Observe = func(op string, err error) {
		if op == "ReceiveMessage" || op == "DeleteMessageBatch" {
			x.awsResult("sqs", err)
		}
		if observe != nil {
			observe(op, err)
		}
	}
	return sqsconsumer.New(api, cfg, x.applyMessages, sqsconsumer.Deps{Metrics: m, Logger: x.log, Now: x.now})
}

// applyMessages parses and applies a received batch, then acknowledges it.
func (x *Exporter) applyMessages(_ context.Context, msgs []*sqsconsumer.Message) {
	arrival := x.now().UnixMilli()
	for _, m := range msgs {
		ev, err := batch.Parse(m.Body)
		if err != nil {
			x.jm.events.WithLabelValues(resultIgnored).Inc()
			x.log.WithError(err).WithField("message_id", m.ID).Debug("message is no Batch event")
		} else {
			x.stateFor(ev).ApplyEvent(ev, arrival)
		}
		m.Done(true)
	}
}
