package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/backoff"
)

// QueueAttributesAPI is the part of SQS the queue collector calls.
type QueueAttributesAPI interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// watchedQueue is one SQS queue whose message counts are exported.
type watchedQueue struct {
	url, name  string
	deadLetter bool
}

// queueCounts are one queue's latest counts.
type queueCounts struct {
	visible, inFlight, delayed float64
	readAt                     time.Time
}

// sqsQueues reads the attributes of the pipeline's SQS queues (ingest's,
// the exporter's and their dead-letter queues) at a low rate, one
// GetQueueAttributes per queue and interval, and serves them at scrape
// time.
type sqsQueues struct {
	api      QueueAttributesAPI
	queues   []watchedQueue
	interval time.Duration
	now      func() time.Time
	log      *logrus.Entry
	result   func(kind string, err error)

	mu     sync.Mutex
	counts map[string]queueCounts

	messages, lastRead *prometheus.Desc
}

var errNoQueueAttributes = errors.New("no queue attributes read yet")

// queueName is the last path element of a queue URL (its name).
func queueName(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" || path.Base(p.Path) == "/" || path.Base(p.Path) == "." {
		return "", fmt.Errorf("SQS queue URL %q: want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", u)
	}
	return path.Base(p.Path), nil
}

// newSQSQueues watches sources and deadLetters; nil when there is none.
func newSQSQueues(api QueueAttributesAPI, sources, deadLetters []string, interval time.Duration, now func() time.Time, log *logrus.Entry, result func(string, error)) (*sqsQueues, error) {
	if len(sources)+len(deadLetters) == 0 {
		return nil, nil
	}
	if api == nil {
		return nil, errors.New("exporter: --exporter.sqs-attributes-queue needs an SQS client")
	}
	q := &sqsQueues{api: api, interval: interval, now: now, log: log, result: result, counts: map[string]queueCounts{},
		messages: prometheus.NewDesc("batchwatch_sqs_queue_messages",
			"Messages of an SQS queue of the pipeline by state (visible, in_flight, delayed): GetQueueAttributes' approximate counts.",
			[]string{"queue", "dead_letter", "state"}, nil),
		lastRead: prometheus.NewDesc("batchwatch_sqs_queue_last_read_timestamp_seconds",
			"When the queue's attributes were last read.", []string{"queue", "dead_letter"}, nil),
	}
	seen := map[string]bool{}
	for i, list := range [][]string{sources, deadLetters} {
		for _, u := range list {
			name, err := queueName(u)
			if err != nil {
				return nil, err
			}
			if seen[u] {
				continue
			}
			seen[u] = true
			q.queues = append(q.queues, watchedQueue{url: u, name: name, deadLetter: i == 1})
		}
	}
	return q, nil
}

// watchSQSQueues adds the collector of the configured SQS queues, if any.
func (x *Exporter) watchSQSQueues(deps Deps, collectors map[string]Collector) error {
	q, err := newSQSQueues(deps.QueueAttributes, x.cfg.SQSAttributesQueues, x.cfg.SQSAttributesDeadLetterQueues,
		x.cfg.SQSAttributesInterval, deps.Now, deps.Logger, x.awsResult)
	if err != nil || q == nil {
		return err
	}
	x.sqsQ, collectors["sqs"] = q, q
	return nil
}

var countAttributes = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// refresh reads every queue once; the first error is returned after the
// others were read.
func (q *sqsQueues) refresh(ctx context.Context) error {
	var first error
	for _, w := range q.queues {
		out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(w.url), AttributeNames: countAttributes})
		if err == nil {
			var c queueCounts
			c, err = parseCounts(out.Attributes)
			c.readAt = q.now()
			if err == nil {
				q.mu.Lock()
				q.counts[w.url] = c
				q.mu.Unlock()
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("get attributes of queue %s: %w", w.name, err)
		}
	}
	q.result(CallQueueAttributes, first)
	return first
}

func parseCounts(attrs map[string]string) (queueCounts, error) {
	var c queueCounts
	for _, f := range []struct {
		name types.QueueAttributeName
		dst  *float64
	}{
		{countAttributes[0], &c.visible}, {countAttributes[1], &c.inFlight}, {countAttributes[2], &c.delayed},
	} {
		v, err := strconv.ParseFloat(attrs[string(f.name)], 64)
		if err != nil {
			return c, fmt.Errorf("attribute %s: %w", f.name, err)
		}
		*f.dst = v
	}
	return c, nil
}

// loop refreshes every interval until ctx ends.
func (q *sqsQueues) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if err := q.refresh(ctx); err != nil && ctx.Err() == nil {
			q.log.WithError(err).Warn("reading SQS queue attributes failed")
		}
		_ = backoff.Sleep(ctx, q.interval)
	}
}

// Update implements Collector.
func (q *sqsQueues) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.counts) == 0 {
		return errNoQueueAttributes
	}
	for _, w := range q.queues {
		c, ok := q.counts[w.url]
		if !ok {
			continue
		}
		dl := strconv.FormatBool(w.deadLetter)
		ch <- prometheus.MustNewConstMetric(q.messages, prometheus.GaugeValue, c.visible, w.name, dl, "visible")
		ch <- prometheus.MustNewConstMetric(q.messages, prometheus.GaugeValue, c.inFlight, w.name, dl, "in_flight")
		ch <- prometheus.MustNewConstMetric(q.messages, prometheus.GaugeValue, c.delayed, w.name, dl, "delayed")
		ch <- prometheus.MustNewConstMetric(q.lastRead, prometheus.GaugeValue, float64(c.readAt.UnixMilli())/1000, w.name, dl)
	}
	return nil
}
