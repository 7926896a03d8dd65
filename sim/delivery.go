package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/batchwatch/batchwatch/awsclient"
)

// outboxHighWater is how many undelivered events make the scheduler wait
// for delivery (at --speed 0 it would otherwise outrun it).
const outboxHighWater = 20000

type outItem struct {
	body []byte
	at   int64 // simulated emission time, epoch ms
}

// outbox carries emitted events, in order, from the scheduler to the
// delivery targets.
type outbox struct {
	s     *Sim
	sinks []sink

	mu       sync.Mutex
	cond     *sync.Cond
	items    []outItem
	spare    []outItem
	inflight int
	closed   bool
}

func newOutbox(s *Sim, sinks []sink) *outbox {
	o := &outbox{s: s, sinks: sinks}
	o.cond = sync.NewCond(&o.mu)
	return o
}

func (o *outbox) push(it outItem) {
	o.mu.Lock()
	o.items = append(o.items, it)
	if len(o.items) == 1 {
		o.cond.Broadcast()
	}
	o.mu.Unlock()
}

// run delivers until the outbox is closed and empty, or ctx ends.
func (o *outbox) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, o.close)
	defer stop()
	for {
		o.mu.Lock()
		for len(o.items) == 0 && !o.closed {
			o.cond.Wait()
		}
		if len(o.items) == 0 || ctx.Err() != nil {
			o.mu.Unlock()
			o.flush()
			return
		}
		batch := o.items
		o.items = o.spare[:0]
		o.inflight = len(batch)
		o.mu.Unlock()

		o.deliver(ctx, batch)

		o.mu.Lock()
		clear(batch)
		o.spare = batch
		o.inflight = 0
		o.cond.Broadcast()
		o.mu.Unlock()
	}
}

// deliver hands a batch to every target, the targets in parallel, each in
// order.
func (o *outbox) deliver(ctx context.Context, batch []outItem) {
	var wg sync.WaitGroup
	for _, sk := range o.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < len(batch); start += sk.chunk() {
				part := batch[start:min(len(batch), start+sk.chunk())]
				if err := sk.deliver(ctx, part); err != nil {
					if ctx.Err() != nil {
						return
					}
					o.s.metrics.deliveryErrors.WithLabelValues(sk.name()).Inc()
					o.s.log.WithError(err).WithField("target", sk.name()).Warn("event delivery failed")
					continue
				}
				o.s.metrics.delivered.WithLabelValues(sk.name()).Add(float64(len(part)))
			}
		}()
	}
	wg.Wait()
	o.flush()
}

func (o *outbox) flush() {
	for _, sk := range o.sinks {
		if f, ok := sk.(interface{ flush() error }); ok {
			if err := f.flush(); err != nil {
				o.s.log.WithError(err).WithField("target", sk.name()).Warn("event delivery flush failed")
			}
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

func (o *outbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items) + o.inflight
}

// waitBelow blocks while more than n events wait for delivery.
func (o *outbox) waitBelow(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		o.mu.Lock()
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	defer stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.items)+o.inflight > n && !o.closed {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		o.cond.Wait()
	}
	if o.closed && len(o.items)+o.inflight > n {
		return errors.New("outbox closed")
	}
	return ctx.Err()
}

// drain blocks until every pushed event is delivered.
func (o *outbox) drain(ctx context.Context) error { return o.waitBelow(ctx, 0) }

// sink is one delivery target.
type sink interface {
	name() string
	chunk() int
	deliver(ctx context.Context, batch []outItem) error
}

func (s *Sim) buildSinks() ([]sink, error) {
	var out []sink
	if s.cfg.Out != nil {
		out = append(out, &fileSink{w: bufio.NewWriterSize(s.cfg.Out, 1<<20)})
	}
	if s.cfg.NoDelivery {
		return out, nil
	}
	// Batch events go to the default bus like in AWS, so rules created
	// through the EventBridge API see them too.
	if s.bus != nil {
		out = append(out, &busSink{s: s})
	}
	for i, d := range s.sc.Delivery {
		if (d.Type == "queue" || d.Type == "eventbridge") && s.sqs == nil {
			return nil, fmt.Errorf("delivery %d (%s): the simulator has no SQS server", i, d.Type)
		}
		if d.Type == "eventbridge" && s.bus == nil {
			return nil, fmt.Errorf("delivery %d: the simulator has no EventBridge server", i)
		}
		if d.SNSWrap && s.wrap == nil {
			return nil, fmt.Errorf("delivery %d: SNS wrapping is not available", i)
		}
		switch d.Type {
		case "queue":
			if _, err := s.sqs.CreateQueue(d.Queue, nil); err != nil {
				return nil, fmt.Errorf("delivery queue %s: %w", d.Queue, err)
			}
			topic := d.TopicARN
			if topic == "" {
				topic = fmt.Sprintf("arn:%s:sns:%s:%s:batch-events", s.arn.partition, s.sc.Region, s.sc.Account)
			}
			out = append(out, &queueSink{s: s, queue: d.Queue, wrap: d.SNSWrap, topic: topic})
		case "eventbridge":
			for _, q := range d.Queues {
				if _, err := s.sqs.CreateQueue(q, nil); err != nil {
					return nil, fmt.Errorf("delivery queue %s: %w", q, err)
				}
			}
			if err := s.bus.AddRule(d.Bus, d.Rule, d.Pattern, d.Queues...); err != nil {
				return nil, fmt.Errorf("delivery rule %s: %w", d.Rule, err)
			}
		case "external-eventbridge", "external-sqs":
			sk, err := s.externalSink(i, d)
			if err != nil {
				return nil, err
			}
			out = append(out, sk)
		}
	}
	return out, nil
}

func (s *Sim) externalSink(i int, d DeliverySpec) (sink, error) {
	ac := awsclient.Config{}
	if s.cfg.AWS != nil {
		ac = *s.cfg.AWS
	}
	if d.Region != "" {
		ac.Region = d.Region
	}
	awsCfg, err := awsclient.Load(context.Background(), &ac)
	if err != nil {
		return nil, fmt.Errorf("delivery %d: %w", i, err)
	}
	opts := awsclient.Options{EndpointURL: d.EndpointURL}
	if d.Type == "external-eventbridge" {
		return &extBusSink{client: ac.EventBridge(awsCfg, opts), bus: d.Bus, source: d.Source}, nil
	}
	topic := d.TopicARN
	if topic == "" {
		topic = fmt.Sprintf("arn:%s:sns:%s:%s:batch-events", s.arn.partition, s.sc.Region, s.sc.Account)
	}
	return &extQueueSink{s: s, client: ac.SQS(awsCfg, opts), url: d.QueueURL, wrap: d.SNSWrap, topic: topic}, nil
}

// fileSink writes JSON lines (--out).
type fileSink struct{ w *bufio.Writer }

func (f *fileSink) name() string { return "file" }
func (f *fileSink) chunk() int   { return 1 << 30 }
func (f *fileSink) deliver(_ context.Context, batch []outItem) error {
	for _, it := range batch {
		if _, err := f.w.Write(it.body); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		if err := f.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	return nil
}
func (f *fileSink) flush() error { return f.w.Flush() }

// busSink publishes to the simulator's own default event bus.
type busSink struct{ s *Sim }

func (b *busSink) name() string { return "eventbridge" }
func (b *busSink) chunk() int   { return 1 << 30 }
func (b *busSink) deliver(_ context.Context, batch []outItem) error {
	var errs []error
	for _, it := range batch {
		if _, err := b.s.bus.Publish("default", it.body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// queueSink sends to one of the simulator's own queues.
type queueSink struct {
	s     *Sim
	queue string
	wrap  bool
	topic string
}

func (q *queueSink) name() string { return "queue:" + q.queue }
func (q *queueSink) chunk() int   { return 500 }
func (q *queueSink) deliver(_ context.Context, batch []outItem) error {
	bodies := make([]string, len(batch))
	for i, it := range batch {
		if q.wrap {
			bodies[i] = string(q.s.wrap(q.topic, it.body, time.UnixMilli(it.at)))
		} else {
			bodies[i] = string(it.body)
		}
	}
	if err := q.s.sqs.SendBatch(q.queue, bodies); err != nil {
		return fmt.Errorf("send to queue %s: %w", q.queue, err)
	}
	return nil
}

// extBusSink sends PutEvents to an EventBridge endpoint.
type extBusSink struct {
	client *awseb.Client
	bus    string
	source string
}

func (e *extBusSink) name() string { return "external-eventbridge" }
func (e *extBusSink) chunk() int   { return 10 }
func (e *extBusSink) deliver(ctx context.Context, batch []outItem) error {
	entries := make([]ebtypes.PutEventsRequestEntry, 0, len(batch))
	for _, it := range batch {
		var env struct {
			DetailType string          `json:"detail-type"`
			Resources  []string        `json:"resources"`
			Time       string          `json:"time"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(it.body, &env); err != nil {
			return fmt.Errorf("decode own event: %w", err)
		}
		t := time.UnixMilli(it.at).UTC().Truncate(time.Second)
		entries = append(entries, ebtypes.PutEventsRequestEntry{
			EventBusName: aws.String(e.bus),
			Source:       aws.String(e.source),
			DetailType:   aws.String(env.DetailType),
			Detail:       aws.String(string(env.Detail)),
			Resources:    env.Resources,
			Time:         &t,
		})
	}
	out, err := e.client.PutEvents(ctx, &awseb.PutEventsInput{Entries: entries})
	if err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("put events: %d of %d entries failed", out.FailedEntryCount, len(entries))
	}
	return nil
}

// extQueueSink sends SendMessageBatch to an SQS queue URL.
type extQueueSink struct {
	s      *Sim
	client *awssqs.Client
	url    string
	wrap   bool
	topic  string
}

func (e *extQueueSink) name() string { return "external-sqs" }
func (e *extQueueSink) chunk() int   { return 10 }
func (e *extQueueSink) deliver(ctx context.Context, batch []outItem) error {
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, len(batch))
	for i, it := range batch {
		body := it.body
		if e.wrap {
			body = e.s.wrap(e.topic, it.body, time.UnixMilli(it.at))
		}
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)),
		})
	}
	out, err := e.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(e.url), Entries: entries})
	if err != nil {
		return fmt.Errorf("send message batch: %w", err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("send message batch: %d of %d entries failed", len(out.Failed), len(entries))
	}
	return nil
}
