// Package sqs is the simulator's Amazon SQS: an in-memory server of
// standard queues that speaks SQS's JSON protocol (application/x-amz-json-1.0,
// X-Amz-Target: AmazonSQS.<Operation>) to the real AWS SDKs, with SQS's
// semantics (visibility timeouts, delays, long polling, receipt handles,
// redrive to dead-letter queues, batch entry errors, MD5 checksums), fast
// enough to carry hundreds of thousands of Batch events in bursts.
//
// It plays AWS from AWS's documented shapes; moto is the independent
// reference it is compared with (see the differential test).
//
// Not simulated: FIFO queues (FifoQueue=true is refused), permissions and
// message move tasks (UnsupportedOperation), the 60 s QueueDeletedRecently
// wait, KMS. Message retention is applied when a message would be
// received, so approximate counts may include expired messages until then.
package sqs

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Options configures a Server.
type Options struct {
	Registry  prometheus.Registerer // metrics; nil = none
	AccountID string                // default "123456789012"
	Region    string                // default "us-east-1"
	Logger    *logrus.Entry         // nil = discard
	// Faults are message faults (duplicates, late messages, lost deletes)
	// per queue; none by default. Each entry should pass Validate.
	Faults []MessageFaults
	// FaultSeed seeds the faults' random choices.
	FaultSeed uint64
}

// Server is an SQS-compatible server. It is safe for concurrent use.
type Server struct {
	accountID string
	region    string
	log       *logrus.Entry
	ids       *idGen
	metrics   *metrics
	faults    *faultPlans
	done      chan struct{}
	closeOnce sync.Once
	bufs      sync.Pool // *bytes.Buffer for request bodies
	outs      sync.Pool // *[]byte for response bodies

	mu     sync.RWMutex
	queues map[string]*queue
}

// NewServer returns an empty server.
func NewServer(o Options) *Server {
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Logger = logrus.NewEntry(l)
	}
	s := &Server{
		accountID: o.AccountID,
		region:    o.Region,
		log:       o.Logger.WithField("component", "sim-sqs"),
		ids:       newIDGen(),
		done:      make(chan struct{}),
		queues:    make(map[string]*queue),
	}
	s.metrics = newMetrics(o.Registry, s)
	s.faults = newFaultPlans(o)
	return s
}

// AccountID is the account the server's queues belong to.
func (s *Server) AccountID() string { return s.accountID }

// Region is the region in the server's queue ARNs.
func (s *Server) Region() string { return s.region }

// QueueARN returns the ARN a queue of that name has (or would have).
func (s *Server) QueueARN(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", s.region, s.accountID, name)
}

// queueURL builds a queue URL for a request's scheme and host.
func (s *Server) queueURL(scheme, host, name string) string {
	return scheme + "://" + host + "/" + s.accountID + "/" + name
}

// CreateQueue creates a standard queue, or returns the existing one when
// its attributes match (SQS's idempotency). The URL's host is a
// placeholder; the HTTP API builds URLs from each request's Host.
func (s *Server) CreateQueue(name string, attrs map[string]string) (string, error) {
	q, err := s.createQueue(name, attrs, nil)
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return s.queueURL("http", "sqs.local", q.name), nil
}

func (s *Server) createQueue(name string, attrs, tags map[string]string) (*queue, error) {
	if !queueNameRE.MatchString(name) {
		return nil, errInvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[name]; q != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
		diff, err := configDiff(q.cfg, attrs, s.dlqLookupLocked)
		if err != nil {
			return nil, err
		}
		if diff != "" {
			return nil, errQueueNameExists(diff)
		}
		return q, nil
	}
	cfg := defaultConfig()
	if err := applyAttributes(&cfg, attrs, s.dlqLookupLocked); err != nil {
		return nil, err
	}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	now := time.Now().Unix()
	q := &queue{
		name:      name,
		arn:       s.QueueARN(name),
		inc:       binary.BigEndian.Uint64(inc[:]),
		createdS:  now,
		modifiedS: now,
		cfg:       cfg,
		msgs:      make(map[uint64]*message),
		counters:  s.metrics.forQueue(name),
		faults:    s.faults.forQueue(name),
	}
	if len(tags) > 0 {
		q.tags = make(map[string]string, len(tags))
		for k, v := range tags {
			q.tags[k] = v
		}
	}
	s.queues[name] = q
	s.log.WithField("queue", name).Debug("queue created")
	return q, nil
}

// dlqLookupLocked resolves a dead-letter target ARN; s.mu must be held.
func (s *Server) dlqLookupLocked(arn string) (string, bool) {
	prefix := "arn:aws:sqs:" + s.region + ":" + s.accountID + ":"
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok {
		return "", false
	}
	_, exists := s.queues[name]
	return name, exists
}

func (s *Server) queue(name string) (*queue, error) {
	s.mu.RLock()
	q := s.queues[name]
	s.mu.RUnlock()
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

func (s *Server) deleteQueue(name string) error {
	s.mu.Lock()
	q := s.queues[name]
	delete(s.queues, name)
	s.mu.Unlock()
	if q == nil {
		return errQueueDoesNotExist()
	}
	q.mu.Lock()
	q.deleted = true
	q.wakeAll()
	q.mu.Unlock()
	s.log.WithField("queue", name).Debug("queue deleted")
	return nil
}

// queueNames returns the queue names in order.
func (s *Server) queueNames() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.queues))
	for n := range s.queues {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names
}

// newMessage builds a message ready to enqueue; it does the hashing so
// that callers can do it before taking the queue's lock.
func (s *Server) newMessage(body string, attrs []msgAttr, nowMs int64) *message {
	return &message{
		id:       s.ids.next(),
		body:     body,
		bodyJSON: appendString(nil, body),
		md5:      bodyMD5(body),
		attrs:    attrs,
		attrsMD5: attributesMD5(attrs),
		sentMs:   nowMs,
		hidx:     -1,
	}
}

// Send queues one message, as SendMessage with the queue's default delay.
func (s *Server) Send(queueName, body string) error {
	if body == "" {
		return fmt.Errorf("send to %s: %w", queueName, errMissingParameter("MessageBody"))
	}
	q, err := s.queue(queueName)
	if err != nil {
		return fmt.Errorf("send to %s: %w", queueName, err)
	}
	now := time.Now()
	m := s.newMessage(body, nil, now.UnixMilli())
	q.mu.Lock()
	if q.deleted {
		q.mu.Unlock()
		return fmt.Errorf("send to %s: %w", queueName, errQueueDoesNotExist())
	}
	q.enqueue(m, q.cfg.delay, now.UnixNano())
	if m.state == stateVisible {
		q.wake(1)
	}
	q.mu.Unlock()
	q.counters.sent.Add(1)
	return nil
}

// SendBatch queues many messages under one lock. Unlike SendMessageBatch
// it takes any number of bodies: it is the simulator's own fast path.
func (s *Server) SendBatch(queueName string, bodies []string) error {
	if len(bodies) == 0 {
		return nil
	}
	for _, b := range bodies {
		if b == "" {
			return fmt.Errorf("send batch to %s: %w", queueName, errMissingParameter("MessageBody"))
		}
	}
	q, err := s.queue(queueName)
	if err != nil {
		return fmt.Errorf("send batch to %s: %w", queueName, err)
	}
	now := time.Now()
	nowMs := now.UnixMilli()
	ms := make([]message, len(bodies))
	for i, b := range bodies {
		ms[i] = message{id: s.ids.next(), body: b, bodyJSON: appendString(nil, b), md5: bodyMD5(b), sentMs: nowMs, hidx: -1}
	}
	q.mu.Lock()
	if q.deleted {
		q.mu.Unlock()
		return fmt.Errorf("send batch to %s: %w", queueName, errQueueDoesNotExist())
	}
	delay := q.cfg.delay
	for i := range ms {
		q.enqueue(&ms[i], delay, now.UnixNano())
	}
	if delay == 0 {
		q.wake(len(ms))
	}
	q.mu.Unlock()
	q.counters.sent.Add(float64(len(ms)))
	return nil
}

// Stats returns the numbers of visible, in-flight and delayed messages.
func (s *Server) Stats(queueName string) (visible, inflight, delayed int, err error) {
	q, err := s.queue(queueName)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("stats of %s: %w", queueName, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(time.Now().UnixNano())
	return q.nVisible, q.nInflight, q.nDelayed, nil
}

// Close ends all long polls (they return what they have, usually nothing)
// and makes later ones return at once. Queues stay usable.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, q := range s.queues {
			q.mu.Lock()
			q.wakeAll()
			q.mu.Unlock()
		}
	})
}

func (s *Server) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
