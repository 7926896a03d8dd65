package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sirupsen/logrus"
)

// SQSAPI is the part of the SQS client the source uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// SQSConfig configures the SQS source.
type SQSConfig struct {
	QueueURL string
	// Receivers is the number of concurrent long-polling receivers.
	Receivers int
	// WaitTime is the long-poll wait (≤ 20 s).
	WaitTime time.Duration
	// Visibility is the visibility timeout requested on receive; messages
	// still waiting for their insert get it extended at half-time.
	Visibility time.Duration
	// Deleters send DeleteMessageBatch calls in parallel.
	Deleters int
}

func (c *SQSConfig) defaults() {
	if c.Receivers <= 0 {
		c.Receivers = 4
	}
	if c.WaitTime <= 0 || c.WaitTime > 20*time.Second {
		c.WaitTime = 20 * time.Second
	}
	if c.Visibility <= 0 {
		c.Visibility = 60 * time.Second
	}
	if c.Deleters <= 0 {
		c.Deleters = 4
	}
}

// SQSSource long-polls one queue and feeds the pipeline. Messages are
// deleted (in batches of 10) only after the pipeline wrote them; while they
// wait — ClickHouse slow or down — their visibility is extended, so SQS does
// not hand them to another consumer; if the process dies they come back
// after the visibility timeout and the idempotent store absorbs the repeat.
type SQSSource struct {
	api SQSAPI
	cfg SQSConfig
	m   *Metrics
	log *logrus.Entry
	now func() time.Time

	mu       sync.Mutex
	inflight map[string]time.Time // receipt handle → last visibility deadline set
	deletes  chan string
}

// NewSQSSource builds a source for cfg.QueueURL.
func NewSQSSource(api SQSAPI, cfg SQSConfig, m *Metrics, log *logrus.Entry, now func() time.Time) *SQSSource {
	cfg.defaults()
	return &SQSSource{
		api: api, cfg: cfg, m: m, log: log.WithField("queue_url", cfg.QueueURL), now: now,
		inflight: map[string]time.Time{},
		deletes:  make(chan string, 10_000),
	}
}

// Run receives until ctx is done, then waits until every received message
// was written or given up by the pipeline and its deletion was sent. Call
// it with the context that stops receiving (SIGTERM); the pipeline keeps
// running until Run returns.
func (s *SQSSource) Run(ctx context.Context, p *Pipeline) error {
	// Deleters and the visibility extender outlive ctx: they must finish
	// acknowledging what the pipeline flushes during shutdown.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var delWG sync.WaitGroup
	for i := 0; i < s.cfg.Deleters; i++ {
		delWG.Add(1)
		go func() {
			defer delWG.Done()
			s.deleteLoop(bg)
		}()
	}
	extDone := make(chan struct{})
	go func() {
		defer close(extDone)
		s.extendLoop(bg)
	}()

	var recvWG, pending sync.WaitGroup
	for i := 0; i < s.cfg.Receivers; i++ {
		recvWG.Add(1)
		go func() {
			defer recvWG.Done()
			s.receiveLoop(ctx, p, &pending)
		}()
	}
	recvWG.Wait()
	// Receiving stopped; wait for the pipeline to settle what we handed it.
	pending.Wait()
	close(s.deletes)
	delWG.Wait()
	stopBG()
	<-extDone
	return nil
}

func (s *SQSSource) receiveLoop(ctx context.Context, p *Pipeline, pending *sync.WaitGroup) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		out, err := s.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(s.cfg.QueueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(s.cfg.WaitTime / time.Second),
			VisibilityTimeout:   int32(s.cfg.Visibility / time.Second),
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.m.AWSErrors.WithLabelValues("ReceiveMessage").Inc()
			s.log.WithError(err).WithField("retry_in", backoff).Warn("receive failed")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(backoff*2, 20*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		now := s.now()
		for _, msg := range out.Messages {
			handle := aws.ToString(msg.ReceiptHandle)
			s.mu.Lock()
			s.inflight[handle] = now.Add(s.cfg.Visibility)
			s.mu.Unlock()
			pending.Add(1)
			m := Message{
				Body:       []byte(aws.ToString(msg.Body)),
				ID:         aws.ToString(msg.MessageId),
				Source:     "sqs",
				ReceivedAt: now,
				Done: func(ok bool) {
					defer pending.Done()
					s.mu.Lock()
					delete(s.inflight, handle)
					s.mu.Unlock()
					if ok {
						s.deletes <- handle
					}
				},
			}
			// Submit may block (backpressure). Use a context that is not
			// cancelled by shutdown: the message was received and must be
			// either written or given back.
			if err := p.Submit(context.WithoutCancel(ctx), m); err != nil {
				m.Done(false)
			}
		}
	}
}

func (s *SQSSource) deleteLoop(ctx context.Context) {
	batch := make([]string, 0, 10)
	flushTimer := time.NewTimer(time.Hour)
	flushTimer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		s.deleteBatch(ctx, batch)
		batch = batch[:0]
		flushTimer.Stop()
	}
	for {
		select {
		case h, ok := <-s.deletes:
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

func (s *SQSSource) deleteBatch(ctx context.Context, handles []string) {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(handles))
	for i, h := range handles {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)}
	}
	for attempt := 0; attempt < 5; attempt++ {
		out, err := s.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
		if err != nil {
			s.m.AWSErrors.WithLabelValues("DeleteMessageBatch").Inc()
			s.log.WithError(err).Warn("delete batch failed; retrying")
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
			continue
		}
		if len(out.Failed) == 0 {
			return
		}
		// Retry only the failed entries; a failed delete means a harmless
		// redelivery later, so give up after a few attempts.
		var retry []types.DeleteMessageBatchRequestEntry
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i >= 0 && i < len(entries) {
				retry = append(retry, entries[i])
			}
			s.m.AWSErrors.WithLabelValues("DeleteMessageBatchEntry").Inc()
		}
		entries = renumber(retry)
	}
	s.log.WithField("messages", len(entries)).Warn("giving up deleting messages; they will be redelivered and deduplicated")
}

func renumber(entries []types.DeleteMessageBatchRequestEntry) []types.DeleteMessageBatchRequestEntry {
	for i := range entries {
		entries[i].Id = aws.String(strconv.Itoa(i))
	}
	return entries
}

// extendLoop pushes back the visibility deadline of messages still waiting
// for their insert, at half of the visibility timeout.
func (s *SQSSource) extendLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Visibility / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.now()
		var due []string
		s.mu.Lock()
		for h, deadline := range s.inflight {
			if deadline.Sub(now) < s.cfg.Visibility/2 {
				due = append(due, h)
				s.inflight[h] = now.Add(s.cfg.Visibility)
			}
		}
		s.mu.Unlock()
		for i := 0; i < len(due); i += 10 {
			if err := s.extend(ctx, due[i:min(i+10, len(due))]); err != nil {
				s.m.AWSErrors.WithLabelValues("ChangeMessageVisibilityBatch").Inc()
				s.log.WithError(err).Warn("extend visibility failed")
			}
		}
	}
}

func (s *SQSSource) extend(ctx context.Context, handles []string) error {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(handles))
	for i, h := range handles {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h),
			VisibilityTimeout: int32(s.cfg.Visibility / time.Second),
		}
	}
	out, err := s.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.cfg.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	if len(out.Failed) > 0 {
		return errors.New("change visibility: " + strconv.Itoa(len(out.Failed)) + " entries failed")
	}
	return nil
}
