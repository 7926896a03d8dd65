package sqs

import (
	"sync"
)

type msgState uint8

const (
	stateVisible msgState = iota
	stateInflight
	stateDelayed
)

// message is one SQS message. The first group of fields never changes once
// the message is queued, so responses can be built from it outside the
// queue's lock; the rest belongs to the queue's mutex.
type message struct {
	id          string
	body        string
	bodyJSON    []byte // body as a JSON string, escaped once when sent
	md5         string
	attrs       []msgAttr
	attrsMD5    string
	traceHeader string
	sentMs      int64
	dlqSource   string // ARN of the queue that redrove it here

	seq         uint64
	gen         uint32 // receive generation, part of the receipt handle
	recvCount   int32
	firstRecvMs int64
	recvAt      int64 // unix ns of the latest receive
	state       msgState
	due         int64 // unix ns: when an in-flight or delayed message turns visible
	hidx        int   // index in the timer heap, -1 when not in it
	noRedrive   bool  // its dead-letter queue was gone: deliver it instead
	isCopy      bool  // a duplicate left behind by a fault: never duplicated again
	prev, next  *message
}

// delivery is what one receive hands out: the message plus a snapshot of
// the fields that a later receive may change.
type delivery struct {
	m           *message
	seq         uint64
	gen         uint32
	recvCount   int32
	firstRecvMs int64
}

// waiter is one long-polling ReceiveMessage.
type waiter struct {
	ch    chan struct{}
	until int64 // unix ns when the poll ends
}

// queueCounters are the per-queue metric children, resolved once.
type queueCounters struct {
	sent, received, deleted, redriven interface{ Add(float64) }
}

// queue is one standard queue. Visible messages sit in an intrusive FIFO
// list, in-flight and delayed ones in a min-heap ordered by the time they
// turn visible, and every message in a map by sequence number, so sends,
// receives and deletes are O(1) or O(log n) and expiry needs no timer per
// message: it is applied lazily under the lock before each look at the queue.
type queue struct {
	name     string
	arn      string
	inc      uint64 // incarnation, part of receipt handles
	createdS int64
	counters queueCounters
	faults   *queueFaults // nil: no faults

	mu        sync.Mutex
	cfg       queueConfig
	modifiedS int64
	tags      map[string]string
	msgs      map[uint64]*message
	head      *message
	tail      *message
	nVisible  int
	nInflight int
	nDelayed  int
	timers    []*message
	nextSeq   uint64
	lastPurge int64
	waiters   []*waiter
	deleted   bool
}

func (q *queue) pushVisible(m *message) {
	m.state = stateVisible
	m.prev, m.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = m
	} else {
		q.head = m
	}
	q.tail = m
	q.nVisible++
}

func (q *queue) unlinkVisible(m *message) {
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		q.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		q.tail = m.prev
	}
	m.prev, m.next = nil, nil
	q.nVisible--
}

// schedule puts m in the timer heap as in-flight or delayed until due.
func (q *queue) schedule(m *message, st msgState, due int64) {
	m.state, m.due = st, due
	if st == stateInflight {
		q.nInflight++
	} else {
		q.nDelayed++
	}
	m.hidx = len(q.timers)
	q.timers = append(q.timers, m)
	q.up(m.hidx)
	if m.hidx == 0 {
		q.wakeBefore(due)
	}
}

// unschedule takes m out of the timer heap.
func (q *queue) unschedule(m *message) {
	if m.state == stateInflight {
		q.nInflight--
	} else {
		q.nDelayed--
	}
	i, last := m.hidx, len(q.timers)-1
	if i != last {
		q.swap(i, last)
	}
	q.timers[last] = nil
	q.timers = q.timers[:last]
	m.hidx = -1
	if i != last && !q.down(i) {
		q.up(i)
	}
}

func (q *queue) reschedule(m *message, due int64) {
	m.due = due
	if !q.down(m.hidx) {
		q.up(m.hidx)
	}
	if m.hidx == 0 {
		q.wakeBefore(due)
	}
}

func (q *queue) swap(i, j int) {
	q.timers[i], q.timers[j] = q.timers[j], q.timers[i]
	q.timers[i].hidx = i
	q.timers[j].hidx = j
}

func (q *queue) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if q.timers[i].due <= q.timers[j].due {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q *queue) down(i0 int) bool {
	i, n := i0, len(q.timers)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && q.timers[r].due < q.timers[j].due {
			j = r
		}
		if q.timers[i].due <= q.timers[j].due {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}

// advance turns every in-flight or delayed message that is due by now visible.
func (q *queue) advance(now int64) {
	n := 0
	for len(q.timers) > 0 && q.timers[0].due <= now {
		m := q.timers[0]
		q.unschedule(m)
		q.pushVisible(m)
		n++
	}
	if n > 0 {
		q.wake(n)
	}
}

// enqueue adds a new message, visible now or after delay seconds.
func (q *queue) enqueue(m *message, delay int, now int64) {
	q.nextSeq++
	m.seq = q.nextSeq
	m.hidx = -1
	q.msgs[m.seq] = m
	late := q.faults.lateBy()
	if delay > 0 || late > 0 {
		q.schedule(m, stateDelayed, now+int64(delay)*1e9+int64(late))
		return
	}
	q.pushVisible(m)
}

// take receives up to max visible messages for vis seconds. Messages past
// the retention period are dropped; messages already received
// maxReceiveCount times are removed and returned for the dead-letter queue.
func (q *queue) take(now int64, max, vis int) (out []delivery, dlq []*message) {
	q.advance(now)
	nowMs := now / 1e6
	retentionMs := int64(q.cfg.retention) * 1000
	for len(out) < max && q.head != nil {
		m := q.head
		q.unlinkVisible(m)
		if nowMs-m.sentMs > retentionMs {
			delete(q.msgs, m.seq)
			continue
		}
		if rp := q.cfg.redrive; rp != nil && int(m.recvCount) >= rp.maxReceive && !m.noRedrive {
			delete(q.msgs, m.seq)
			dlq = append(dlq, m)
			continue
		}
		m.recvCount++
		m.gen++
		if m.firstRecvMs == 0 {
			m.firstRecvMs = nowMs
		}
		m.recvAt = now
		q.schedule(m, stateInflight, now+int64(vis)*1e9)
		if !m.isCopy {
			if d, ok := q.faults.duplicateAfter(); ok {
				q.duplicate(m, d, now)
			}
		}
		if out == nil {
			out = make([]delivery, 0, max)
		}
		out = append(out, delivery{m: m, seq: m.seq, gen: m.gen, recvCount: m.recvCount, firstRecvMs: m.firstRecvMs})
	}
	return out, dlq
}

// remove deletes m from the queue whatever its state.
func (q *queue) remove(m *message) {
	switch m.state {
	case stateVisible:
		q.unlinkVisible(m)
	default:
		q.unschedule(m)
	}
	delete(q.msgs, m.seq)
}

// deleteReceipt deletes the message of a receipt handle. A handle of a
// message already deleted, or of an earlier receive, succeeds without
// effect, as in SQS.
func (q *queue) deleteReceipt(seq uint64, gen uint32) bool {
	m := q.msgs[seq]
	if m == nil || m.gen != gen {
		return false
	}
	if q.faults.loseDelete() {
		return false
	}
	q.remove(m)
	return true
}

// changeVisibility applies ChangeMessageVisibility to the message of a
// receipt handle; ok is false when that receive is no longer current.
func (q *queue) changeVisibility(seq uint64, gen uint32, timeout int, now int64) (ok, tooLong bool) {
	m := q.msgs[seq]
	if m == nil || m.gen != gen {
		return false, false
	}
	due := now + int64(timeout)*1e9
	if due-m.recvAt > maxVisibility*1e9 {
		return true, true
	}
	switch {
	case m.state == stateVisible && timeout > 0:
		q.unlinkVisible(m)
		q.schedule(m, stateInflight, due)
	case m.state == stateInflight && timeout == 0:
		q.unschedule(m)
		q.pushVisible(m)
		q.wake(1)
	case m.state == stateInflight:
		q.reschedule(m, due)
	}
	return true, false
}

func (q *queue) purge() {
	for _, m := range q.timers {
		m.hidx = -1
	}
	q.msgs = make(map[uint64]*message)
	q.head, q.tail = nil, nil
	q.timers = nil
	q.nVisible, q.nInflight, q.nDelayed = 0, 0, 0
}

func (q *queue) addWaiter(until int64) *waiter {
	w := &waiter{ch: make(chan struct{}, 1), until: until}
	q.waiters = append(q.waiters, w)
	return w
}

func (q *queue) removeWaiter(w *waiter) {
	for i, x := range q.waiters {
		if x == w {
			copy(q.waiters[i:], q.waiters[i+1:])
			q.waiters[len(q.waiters)-1] = nil
			q.waiters = q.waiters[:len(q.waiters)-1]
			return
		}
	}
}

// wake signals the n longest-waiting receivers.
func (q *queue) wake(n int) {
	for ; n > 0 && len(q.waiters) > 0; n-- {
		w := q.waiters[0]
		copy(q.waiters, q.waiters[1:])
		q.waiters[len(q.waiters)-1] = nil
		q.waiters = q.waiters[:len(q.waiters)-1]
		signal(w)
	}
}

// wakeBefore signals the receivers still polling at due, so that they
// re-arm their timers for a message turning visible earlier than they knew.
func (q *queue) wakeBefore(due int64) {
	if len(q.waiters) == 0 {
		return
	}
	kept := q.waiters[:0]
	for _, w := range q.waiters {
		if w.until > due {
			signal(w)
			continue
		}
		kept = append(kept, w)
	}
	for i := len(kept); i < len(q.waiters); i++ {
		q.waiters[i] = nil
	}
	q.waiters = kept
}

func (q *queue) wakeAll() {
	for _, w := range q.waiters {
		signal(w)
	}
	clear(q.waiters)
	q.waiters = q.waiters[:0]
}

func signal(w *waiter) {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}
