package ingest

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/backoff"
	"github.com/batchwatch/batchwatch/sqsconsumer"
)

// SQSConfig configures the SQS source: the shared consumer's settings.
// Unset fields take ingest's defaults (4 receivers, 4 deleters, backoff
// from 100 ms to 20 s), then the consumer's.
type SQSConfig = sqsconsumer.Config

// SQSSource long-polls one queue and feeds the pipeline through the shared
// consumer: messages are deleted only after the pipeline wrote them; while
// they wait — ClickHouse slow or down — their visibility is extended; if
// the process dies they come back after the visibility timeout and the
// idempotent store absorbs the repeat.
type SQSSource struct {
	api sqsconsumer.API
	cfg SQSConfig
	m   *Metrics
	log *logrus.Entry
	now func() time.Time
}

// NewSQSSource builds a source for cfg.QueueURL.
func NewSQSSource(api sqsconsumer.API, cfg SQSConfig, m *Metrics, log *logrus.Entry, now func() time.Time) *SQSSource {
	if cfg.Receivers <= 0 {
		cfg.Receivers = 4
	}
	if cfg.Deleters <= 0 {
		cfg.Deleters = 4
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff = backoff.Policy{Initial: 100 * time.Millisecond, Max: 20 * time.Second}
	}
	observe := cfg.Observe
	cfg.Observe = func(op string, err error) {
		if err != nil {
			m.AWSErrors.WithLabelValues(op).Inc()
		}
		if observe != nil {
			observe(op, err)
		}
	}
	return &SQSSource{api: api, cfg: cfg, m: m, log: log, now: now}
}

// Run receives until ctx is done, then waits until every received message
// was written or given up by the pipeline and its deletion was sent. Call
// it with the context that stops receiving (SIGTERM); the pipeline keeps
// running until Run returns.
func (s *SQSSource) Run(ctx context.Context, p *Pipeline) error {
	c := sqsconsumer.New(s.api, s.cfg, func(ctx context.Context, msgs []*sqsconsumer.Message) {
		for _, msg := range msgs {
			m := Message{Body: msg.Body, ID: msg.ID, Source: "sqs", ReceivedAt: msg.ReceivedAt, Done: msg.Done}
			// Submit may block (backpressure). Use a context that is not
			// cancelled by shutdown: the message was received and must be
			// either written or given back.
			if err := p.Submit(context.WithoutCancel(ctx), m); err != nil {
				msg.Done(false)
			}
		}
	}, sqsconsumer.Deps{Metrics: s.m.SQS, Logger: s.log, Now: s.now})
	return c.Run(ctx)
}
