// Package sqsconsumer is the one SQS consumer of batchwatch: long-polling
// receivers hand messages to a component's handler; a message is deleted
// only after the handler says its effect is committed, its visibility is
// extended while that is pending, receive errors back off, and everything
// is counted per component. Ingest, the exporter and the submitter's watch
// use it; a new consumer should too.
package sqsconsumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/backoff"
)

// API is the part of the SQS client a consumer calls.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Message is one received message.
type Message struct {
	Body       []byte
	ID         string
	ReceivedAt time.Time
	done       func(ok bool)
	settled    atomic.Bool
}

// Done settles the message: ok once the handler's effect is committed (the
// message is then deleted), !ok to give it back (SQS hands it out again
// when its visibility timeout ends). Calls after the first are ignored.
func (m *Message) Done(ok bool) {
	if m.settled.CompareAndSwap(false, true) {
		m.done(ok)
	}
}

// Handler receives the messages of one ReceiveMessage call. It may return
// before settling them (ingest settles after its insert), but must settle
// every message eventually, also when ctx ends: Run waits for it.
type Handler func(ctx context.Context, msgs []*Message)

// Config configures a consumer of one queue.
type Config struct {
	QueueURL string
	// Receivers is the number of concurrent long-polling receivers
	// (default 1).
	Receivers int
	// WaitTime is the long-poll wait (default and maximum 20 s).
	WaitTime time.Duration
	// Visibility is the visibility timeout requested on receive (default
	// 60 s); messages still pending get it extended at half-time.
	Visibility time.Duration
	// Deleters send DeleteMessageBatch calls in parallel (default 1).
	Deleters int
	// Backoff paces receives after errors (default 1 s doubling to 30 s).
	Backoff backoff.Policy
	// Observe, when set, is told the outcome of every SQS call (op is the
	// API name; err is nil on success): components keep their own
	// metrics of AWS health with it.
	Observe func(op string, err error)
	// Intercept, when set, wraps the handler: the contract test holds and
	// fails work through it.
	Intercept func(Handler) Handler
	// Sleep waits between retries (default backoff.Sleep).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Config) defaults() {
	if c.Receivers <= 0 {
		c.Receivers = 1
	}
	if c.WaitTime <= 0 || c.WaitTime > 20*time.Second {
		c.WaitTime = 20 * time.Second
	}
	if c.Visibility <= 0 {
		c.Visibility = 60 * time.Second
	}
	if c.Deleters <= 0 {
		c.Deleters = 1
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff = backoff.Policy{Initial: time.Second, Max: 30 * time.Second}
	}
	if c.Sleep == nil {
		c.Sleep = backoff.Sleep
	}
}

// Deps are what a consumer is built with.
type Deps struct {
	// Metrics of the component (NewMetrics); nil counts into nothing.
	Metrics *Metrics
	Logger  *logrus.Entry
	Now     func() time.Time
}

// Consumer receives from one queue until its context ends. Messages are
// deleted (in batches of 10) only after the handler settled them ok; while
// they are pending their visibility is extended, so SQS does not hand them
// to another consumer; if the process dies they come back after the
// visibility timeout, and the component takes them as duplicates.
type Consumer struct {
	api     API
	cfg     Config
	handler Handler
	m       *Metrics
	log     *logrus.Entry
	now     func() time.Time

	mu       sync.Mutex
	inflight map[string]time.Time // receipt handle → last visibility deadline set
	deletes  chan string
}

// New builds a consumer of cfg.QueueURL that hands messages to h.
func New(api API, cfg Config, h Handler, d Deps) *Consumer {
	cfg.defaults()
	if cfg.Intercept != nil {
		h = cfg.Intercept(h)
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil, "")
	}
	if d.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		d.Logger = logrus.NewEntry(l)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Consumer{
		api: api, cfg: cfg, handler: h, m: d.Metrics, log: d.Logger.WithField("queue_url", cfg.QueueURL), now: d.Now,
		inflight: map[string]time.Time{},
		deletes:  make(chan string, 10_000),
	}
}

// Run receives until ctx is done, then waits until the handler settled
// every received message and their deletions were sent.
func (c *Consumer) Run(ctx context.Context) error {
	// Deleters and the visibility extender outlive ctx: they must finish
	// acknowledging what the handler settles during shutdown.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var delWG sync.WaitGroup
	for range c.cfg.Deleters {
		delWG.Go(func() { c.deleteLoop(bg) })
	}
	extDone := make(chan struct{})
	go func() {
		defer close(extDone)
		c.extendLoop(bg)
	}()

	var recvWG, pending sync.WaitGroup
	for range c.cfg.Receivers {
		recvWG.Go(func() { c.receiveLoop(ctx, &pending) })
	}
	recvWG.Wait()
	// Receiving stopped; wait for the handler to settle what it was given.
	pending.Wait()
	close(c.deletes)
	delWG.Wait()
	stopBG()
	<-extDone
	return nil
}

func (c *Consumer) observe(op string, err error) {
	if err != nil {
		c.m.errors.WithLabelValues(op).Inc()
	}
	if c.cfg.Observe != nil {
		c.cfg.Observe(op, err)
	}
}

func (c *Consumer) receiveLoop(ctx context.Context, pending *sync.WaitGroup) {
	failures := 0
	for ctx.Err() == nil {
		out, err := c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(c.cfg.QueueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(c.cfg.WaitTime / time.Second),
			VisibilityTimeout:   int32(c.cfg.Visibility / time.Second),
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.observe("ReceiveMessage", err)
			d := c.cfg.Backoff.Delay(failures)
			failures++
			c.log.WithError(err).WithField("retry_in", d).Warn("receive failed")
			if c.cfg.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		failures = 0
		c.observe("ReceiveMessage", nil)
		if len(out.Messages) > 0 {
			c.handler(ctx, c.track(out.Messages, pending))
		}
	}
}

// track records received messages as pending until they are settled.
func (c *Consumer) track(in []types.Message, pending *sync.WaitGroup) []*Message {
	now := c.now()
	msgs := make([]*Message, len(in))
	c.mu.Lock()
	for i, msg := range in {
		handle := aws.ToString(msg.ReceiptHandle)
		c.inflight[handle] = now.Add(c.cfg.Visibility)
		pending.Add(1)
		msgs[i] = &Message{
			Body: []byte(aws.ToString(msg.Body)), ID: aws.ToString(msg.MessageId), ReceivedAt: now,
			done: func(ok bool) { c.settle(handle, ok, pending) },
		}
	}
	c.mu.Unlock()
	c.m.received.Add(float64(len(in)))
	c.m.inFlight.Add(float64(len(in)))
	return msgs
}

func (c *Consumer) settle(handle string, ok bool, pending *sync.WaitGroup) {
	defer pending.Done()
	c.mu.Lock()
	delete(c.inflight, handle)
	c.mu.Unlock()
	c.m.inFlight.Dec()
	if ok {
		c.deletes <- handle
		return
	}
	c.m.released.Inc()
}

func (c *Consumer) deleteLoop(ctx context.Context) {
	batch := make([]string, 0, 10)
	flushTimer := time.NewTimer(time.Hour)
	flushTimer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		c.deleteBatch(ctx, batch)
		batch = batch[:0]
		flushTimer.Stop()
	}
	for {
		select {
		case h, ok := <-c.deletes:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				flushTimer.Reset(50 * time.Millisecond)
			}
			batch = append(batch, h)
			if len(batch) == 10 {
				flush()
			}
		case <-flushTimer.C:
			flush()
		}
	}
}

// deleteBatch deletes settled messages, retrying failed entries a few
// times: a message left undeleted is only a harmless redelivery later.
func (c *Consumer) deleteBatch(ctx context.Context, handles []string) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(handles))
	for i, h := range handles {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
	}
	for attempt := 0; attempt < 5; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := c.api.DeleteMessageBatch(callCtx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries})
		cancel()
		c.observe("DeleteMessageBatch", err)
		if err != nil {
			c.log.WithError(err).Warn("delete batch failed; retrying")
			_ = c.cfg.Sleep(ctx, time.Duration(attempt+1)*200*time.Millisecond)
			continue
		}
		c.m.deleted.Add(float64(len(entries) - len(out.Failed)))
		if len(out.Failed) == 0 {
			return
		}
		var retry []types.DeleteMessageBatchRequestEntry
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i >= 0 && i < len(entries) {
				retry = append(retry, entries[i])
			}
			c.observe("DeleteMessageBatchEntry", errors.New(aws.ToString(f.Code)))
		}
		entries = renumber(retry)
	}
	c.log.WithField("messages", len(entries)).Warn("giving up deleting messages; they will be redelivered and deduplicated")
}

func renumber(entries []types.DeleteMessageBatchRequestEntry) []types.DeleteMessageBatchRequestEntry {
	for i := range entries {
		entries[i].Id = aws.String(strconv.Itoa(i))
	}
	return entries
}

// extendLoop pushes back the visibility deadline of pending messages, at
// half of the visibility timeout.
func (c *Consumer) extendLoop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Visibility / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := c.now()
		var due []string
		c.mu.Lock()
		for h, deadline := range c.inflight {
			if deadline.Sub(now) < c.cfg.Visibility/2 {
				due = append(due, h)
				c.inflight[h] = now.Add(c.cfg.Visibility)
			}
		}
		c.mu.Unlock()
		for i := 0; i < len(due); i += 10 {
			err := c.extend(ctx, due[i:min(i+10, len(due))])
			c.observe("ChangeMessageVisibilityBatch", err)
			if err != nil {
				c.log.WithError(err).Warn("extend visibility failed")
			}
		}
	}
}

func (c *Consumer) extend(ctx context.Context, handles []string) error {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(handles))
	for i, h := range handles {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h),
			VisibilityTimeout: int32(c.cfg.Visibility / time.Second),
		}
	}
	out, err := c.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	c.m.extended.Add(float64(len(entries) - len(out.Failed)))
	if len(out.Failed) > 0 {
		return fmt.Errorf("change visibility: %d entries failed", len(out.Failed))
	}
	return nil
}
