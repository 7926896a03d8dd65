package sqs

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// MessageFaults makes a queue behave as SQS's at-least-once delivery allows
// it to, more often than SQS does: duplicates, late messages and
// redeliveries after the visibility timeout. Shares are probabilities per
// message (0 = never, 1 = always).
type MessageFaults struct {
	// Queue is the queue name the faults apply to; "" or "*" means every
	// queue. The first entry that names a queue wins over "*".
	Queue string
	// Duplicate is the share of received messages of which a copy (same
	// MessageId, body and attributes) stays behind and is delivered again
	// after DuplicateDelay, whether or not the first one is deleted: SQS's
	// "a copy of the message on a server that was unavailable".
	Duplicate float64
	// DuplicateDelay is how long after the receive the copy turns visible
	// (drawn uniformly between its bounds; default 0 to 5 s).
	DuplicateDelay [2]time.Duration
	// Late is the share of sent messages that turn visible only after
	// LateDelay, behind messages sent after them.
	Late float64
	// LateDelay bounds the extra delay of a late message (default 5 to 30 s).
	LateDelay [2]time.Duration
	// LostDelete is the share of deletes (DeleteMessage and
	// DeleteMessageBatch entries) that answer success without deleting:
	// the message stays in flight and comes back when its visibility
	// timeout ends, as after a consumer that died before deleting.
	LostDelete float64
}

// Validate checks shares and delays.
func (f MessageFaults) Validate() error {
	for name, p := range map[string]float64{"duplicate": f.Duplicate, "late": f.Late, "lost_delete": f.LostDelete} {
		if p < 0 || p > 1 {
			return fmt.Errorf("sqs faults of queue %q: %s share %g is not between 0 and 1", f.Queue, name, p)
		}
	}
	for name, r := range map[string][2]time.Duration{"duplicate_delay": f.DuplicateDelay, "late_delay": f.LateDelay} {
		if r[0] < 0 || r[1] < r[0] {
			return fmt.Errorf("sqs faults of queue %q: %s %v..%v is not a range", f.Queue, name, r[0], r[1])
		}
	}
	return nil
}

// queueFaults is the fault plan of one queue. Its random source is shared by
// every queue of the server and guarded by its own mutex, so it may be
// used under a queue's lock.
type queueFaults struct {
	spec     MessageFaults
	rnd      *lockedRand
	injected *prometheus.CounterVec
	queue    string
}

type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64() < p
}

func (l *lockedRand) between(r [2]time.Duration) time.Duration {
	if r[1] <= r[0] {
		return r[0]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return r[0] + time.Duration(l.r.Int64N(int64(r[1]-r[0])))
}

// faultPlans resolves the MessageFaults of Options into one plan per queue.
type faultPlans struct {
	specs    []MessageFaults
	rnd      *lockedRand
	injected *prometheus.CounterVec
}

func newFaultPlans(o Options) *faultPlans {
	if len(o.Faults) == 0 {
		return nil
	}
	specs := make([]MessageFaults, len(o.Faults))
	for i, f := range o.Faults {
		if f.DuplicateDelay == [2]time.Duration{} {
			f.DuplicateDelay = [2]time.Duration{0, 5 * time.Second}
		}
		if f.LateDelay == [2]time.Duration{} {
			f.LateDelay = [2]time.Duration{5 * time.Second, 30 * time.Second}
		}
		specs[i] = f
	}
	return &faultPlans{
		specs: specs,
		rnd:   &lockedRand{r: rand.New(rand.NewPCG(o.FaultSeed, o.FaultSeed^0x5bd1e995))},
		injected: promauto.With(o.Registry).NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "sim_sqs", Name: "faults_injected_total",
			Help: "Message faults injected by the simulated SQS, per queue and kind (duplicate, late, lost_delete).",
		}, []string{"queue", "kind"}),
	}
}

// forQueue returns the plan of a queue, nil when no fault applies to it.
func (p *faultPlans) forQueue(name string) *queueFaults {
	if p == nil {
		return nil
	}
	var pick *MessageFaults
	for i := range p.specs {
		switch p.specs[i].Queue {
		case name:
			return &queueFaults{spec: p.specs[i], rnd: p.rnd, injected: p.injected, queue: name}
		case "", "*":
			if pick == nil {
				pick = &p.specs[i]
			}
		}
	}
	if pick == nil {
		return nil
	}
	return &queueFaults{spec: *pick, rnd: p.rnd, injected: p.injected, queue: name}
}

func (f *queueFaults) count(kind string) { f.injected.WithLabelValues(f.queue, kind).Inc() }

// lateBy returns the extra delay of a message being sent, 0 for most.
func (f *queueFaults) lateBy() time.Duration {
	if f == nil || !f.rnd.chance(f.spec.Late) {
		return 0
	}
	f.count("late")
	return max(f.rnd.between(f.spec.LateDelay), time.Millisecond)
}

// duplicateAfter tells whether a message just received leaves a copy
// behind, and when the copy turns visible.
func (f *queueFaults) duplicateAfter() (time.Duration, bool) {
	if f == nil || !f.rnd.chance(f.spec.Duplicate) {
		return 0, false
	}
	f.count("duplicate")
	return f.rnd.between(f.spec.DuplicateDelay), true
}

// loseDelete tells whether a delete is to be answered without effect.
func (f *queueFaults) loseDelete() bool {
	if f == nil || !f.rnd.chance(f.spec.LostDelete) {
		return false
	}
	f.count("lost_delete")
	return true
}

// duplicate queues a copy of m (same MessageId, body and attributes) that
// turns visible after d; the copy never duplicates itself.
func (q *queue) duplicate(m *message, d time.Duration, now int64) {
	c := &message{
		id: m.id, body: m.body, bodyJSON: m.bodyJSON, md5: m.md5, attrs: m.attrs, attrsMD5: m.attrsMD5,
		traceHeader: m.traceHeader, sentMs: m.sentMs, dlqSource: m.dlqSource, hidx: -1, isCopy: true,
	}
	q.nextSeq++
	c.seq = q.nextSeq
	q.msgs[c.seq] = c
	q.schedule(c, stateDelayed, now+max(int64(d), 1))
}
