package sqs

import (
	"time"

	"github.com/sirupsen/logrus"
)

// ---- send ----

type sendMessageInput struct {
	QueueURL                *string                  `json:"QueueUrl"`
	MessageBody             *string                  `json:"MessageBody"`
	DelaySeconds            *int                     `json:"DelaySeconds"`
	MessageAttributes       map[string]attrValueJSON `json:"MessageAttributes"`
	MessageSystemAttributes map[string]attrValueJSON `json:"MessageSystemAttributes"`
	// MessageGroupId and MessageDeduplicationId are FIFO (and fair queue)
	// parameters; standard queues here ignore them.
}

type sendMessageOutput struct {
	MD5OfMessageBody             string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty"`
	MessageID                    string `json:"MessageId"`
}

// prepared is a validated message waiting to be queued.
type prepared struct {
	m       *message
	delay   int
	sysMD5  string
	apiErr  *apiError
	entryID string
}

// prepare validates one SendMessage(-BatchEntry) against the queue's
// limits and builds the message. cfg is a snapshot of the queue's settings.
func (s *Server) prepare(cfg queueConfig, body *string, delay *int, attrs, sys map[string]attrValueJSON, nowMs int64) prepared {
	if body == nil || *body == "" {
		return prepared{apiErr: errMissingParameter("MessageBody")}
	}
	if r, bad := invalidRune(*body); bad {
		return prepared{apiErr: errInvalidMessageContents(r)}
	}
	d := cfg.delay
	if delay != nil {
		if *delay < 0 || *delay > maxDelay {
			return prepared{apiErr: errInvalidParameterValue("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *delay)}
		}
		d = *delay
	}
	parsed, size, err := parseMessageAttributes(attrs)
	if err != nil {
		return prepared{apiErr: asAPIError(err)}
	}
	if len(*body)+size > cfg.maxSize {
		return prepared{apiErr: errInvalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", cfg.maxSize)}
	}
	p := prepared{m: s.newMessage(*body, parsed, nowMs), delay: d}
	if len(sys) > 0 {
		// AWSTraceHeader is the only message system attribute SQS takes.
		for name, v := range sys {
			if name != "AWSTraceHeader" || v.DataType != "String" || v.StringValue == nil {
				return prepared{apiErr: errInvalidParameterValue("Message system attribute '%s' is invalid.", name)}
			}
			p.m.traceHeader = *v.StringValue
		}
		p.sysMD5 = attributesMD5([]msgAttr{{name: "AWSTraceHeader", dataType: "String", str: p.m.traceHeader}})
	}
	return p
}

func (q *queue) config() queueConfig {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cfg
}

// put queues prepared messages and wakes long polls.
func (q *queue) put(ps []prepared, now int64) (n int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.deleted {
		return 0, errQueueDoesNotExist()
	}
	visible := 0
	for _, p := range ps {
		if p.apiErr != nil {
			continue
		}
		q.enqueue(p.m, p.delay, now)
		if p.m.state == stateVisible {
			visible++
		}
		n++
	}
	q.wake(visible)
	return n, nil
}

func (s *Server) sendMessage(body []byte) ([]byte, error) {
	var in sendMessageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p := s.prepare(q.config(), in.MessageBody, in.DelaySeconds, in.MessageAttributes, in.MessageSystemAttributes, now.UnixMilli())
	if p.apiErr != nil {
		return nil, p.apiErr
	}
	if _, err := q.put([]prepared{p}, now.UnixNano()); err != nil {
		return nil, err
	}
	q.counters.sent.Add(1)
	return marshal(sendMessageOutput{
		MD5OfMessageBody:             p.m.md5,
		MD5OfMessageAttributes:       p.m.attrsMD5,
		MD5OfMessageSystemAttributes: p.sysMD5,
		MessageID:                    p.m.id,
	})
}

type sendBatchEntry struct {
	ID                      *string                  `json:"Id"`
	MessageBody             *string                  `json:"MessageBody"`
	DelaySeconds            *int                     `json:"DelaySeconds"`
	MessageAttributes       map[string]attrValueJSON `json:"MessageAttributes"`
	MessageSystemAttributes map[string]attrValueJSON `json:"MessageSystemAttributes"`
}

type sendMessageBatchInput struct {
	QueueURL *string          `json:"QueueUrl"`
	Entries  []sendBatchEntry `json:"Entries"`
}

type sendBatchResult struct {
	ID                           string `json:"Id"`
	MessageID                    string `json:"MessageId"`
	MD5OfMessageBody             string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty"`
}

type batchError struct {
	ID          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message,omitempty"`
}

type sendMessageBatchOutput struct {
	Successful []sendBatchResult `json:"Successful"`
	Failed     []batchError      `json:"Failed"`
}

// checkBatchIDs applies the checks every *Batch operation makes to its entries.
func checkBatchIDs(kind string, ids []*string) error {
	if len(ids) == 0 {
		return errEmptyBatchRequest(kind)
	}
	if len(ids) > maxBatchEntries {
		return errTooManyEntries(len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == nil {
			return errMissingParameter("Id")
		}
		if !batchEntryIDRE.MatchString(*id) {
			return errInvalidBatchEntryID()
		}
		if seen[*id] {
			return errBatchEntryIdsNotDistinct(*id)
		}
		seen[*id] = true
	}
	return nil
}

func (s *Server) sendMessageBatch(body []byte) ([]byte, error) {
	var in sendMessageBatchInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]*string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.ID
		if e.MessageBody != nil {
			total += len(*e.MessageBody)
		}
	}
	if err := checkBatchIDs("SendMessageBatch", ids); err != nil {
		return nil, err
	}
	if total > defaultMaxSize {
		return nil, errBatchRequestTooLong(total, defaultMaxSize)
	}
	cfg := q.config()
	now := time.Now()
	ps := make([]prepared, len(in.Entries))
	for i, e := range in.Entries {
		ps[i] = s.prepare(cfg, e.MessageBody, e.DelaySeconds, e.MessageAttributes, e.MessageSystemAttributes, now.UnixMilli())
		ps[i].entryID = *e.ID
	}
	n, err := q.put(ps, now.UnixNano())
	if err != nil {
		return nil, err
	}
	q.counters.sent.Add(float64(n))
	out := sendMessageBatchOutput{Successful: []sendBatchResult{}, Failed: []batchError{}}
	for _, p := range ps {
		if p.apiErr != nil {
			out.Failed = append(out.Failed, batchError{ID: p.entryID, SenderFault: true, Code: p.apiErr.query, Message: p.apiErr.msg})
			continue
		}
		out.Successful = append(out.Successful, sendBatchResult{
			ID: p.entryID, MessageID: p.m.id, MD5OfMessageBody: p.m.md5,
			MD5OfMessageAttributes: p.m.attrsMD5, MD5OfMessageSystemAttributes: p.sysMD5,
		})
	}
	return marshal(out)
}

// ---- receive ----

type receiveMessageInput struct {
	QueueURL                    *string  `json:"QueueUrl"`
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MessageAttributeNames       []string `json:"MessageAttributeNames"`
	MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
}

// sysAttrs selects the message system attributes ReceiveMessage returns.
type sysAttrs uint8

const (
	saSenderID sysAttrs = 1 << iota
	saSentTimestamp
	saReceiveCount
	saFirstReceive
	saDLQSource
	saTraceHeader
	saAll = saSenderID | saSentTimestamp | saReceiveCount | saFirstReceive | saDLQSource | saTraceHeader
)

func parseSysAttrs(lists ...[]string) sysAttrs {
	var s sysAttrs
	for _, l := range lists {
		for _, n := range l {
			switch n {
			case "All":
				s |= saAll
			case "SenderId":
				s |= saSenderID
			case "SentTimestamp":
				s |= saSentTimestamp
			case "ApproximateReceiveCount":
				s |= saReceiveCount
			case "ApproximateFirstReceiveTimestamp":
				s |= saFirstReceive
			case "DeadLetterQueueSourceArn":
				s |= saDLQSource
			case "AWSTraceHeader":
				s |= saTraceHeader
			}
		}
	}
	return s
}

func (s *Server) receiveMessage(rc *reqCtx, body, dst []byte) ([]byte, error) {
	var in receiveMessageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
		if max < 1 || max > 10 {
			return nil, errInvalidParameterValue("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
		}
	}
	if v := in.WaitTimeSeconds; v != nil && (*v < 0 || *v > maxWait) {
		return nil, errInvalidParameterValue("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *v)
	}
	if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > maxVisibility) {
		return nil, errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *v)
	}
	ds := s.receive(rc, q, max, in.VisibilityTimeout, in.WaitTimeSeconds)
	if len(ds) == 0 {
		return []byte(emptyJSON), nil
	}
	q.counters.received.Add(float64(len(ds)))
	return s.appendReceive(dst, q, ds,
		parseSysAttrs(in.AttributeNames, in.MessageSystemAttributeNames), newAttrFilter(in.MessageAttributeNames)), nil
}

// receive takes messages, long-polling up to the wait time until at least
// one is there. Each wait is woken by sends, by messages turning visible,
// by the end of the poll, by the client going away, or by Close.
func (s *Server) receive(rc *reqCtx, q *queue, max int, vis, wait *int) []delivery {
	q.mu.Lock()
	v, w := q.cfg.visibility, q.cfg.wait
	q.mu.Unlock()
	if vis != nil {
		v = *vis
	}
	if wait != nil {
		w = *wait
	}
	until := time.Now().UnixNano() + int64(w)*1e9
	for {
		now := time.Now().UnixNano()
		q.mu.Lock()
		if q.deleted {
			q.mu.Unlock()
			return nil
		}
		out, dlq := q.take(now, max, v)
		var rp *redrivePolicy
		if len(dlq) > 0 {
			rp = q.cfg.redrive
		}
		if len(out) > 0 || now >= until || s.closed() {
			q.mu.Unlock()
			s.redrive(q, rp, dlq)
			return out
		}
		if len(dlq) > 0 {
			// Look again at once: more messages may be behind the ones moved.
			q.mu.Unlock()
			s.redrive(q, rp, dlq)
			continue
		}
		wt := q.addWaiter(until)
		next := until
		if len(q.timers) > 0 && q.timers[0].due < next {
			next = q.timers[0].due
		}
		q.mu.Unlock()
		timer := time.NewTimer(time.Duration(next - now))
		select {
		case <-wt.ch:
		case <-timer.C:
		case <-rc.ctx.Done():
			timer.Stop()
			q.mu.Lock()
			q.removeWaiter(wt)
			q.mu.Unlock()
			return nil
		case <-s.done:
		}
		timer.Stop()
		q.mu.Lock()
		q.removeWaiter(wt)
		q.mu.Unlock()
	}
}

// redrive moves messages that exceeded maxReceiveCount to the dead-letter
// queue. It runs after the source queue's lock is released, so queues that
// name each other as dead-letter queues cannot deadlock.
func (s *Server) redrive(src *queue, rp *redrivePolicy, ms []*message) {
	if len(ms) == 0 {
		return
	}
	now := time.Now().UnixNano()
	dlq, err := s.queue(rp.dlqName)
	if err == nil {
		dlq.mu.Lock()
		if dlq.deleted {
			err = errQueueDoesNotExist()
		} else {
			for _, m := range ms {
				moved := &message{
					id: m.id, body: m.body, bodyJSON: m.bodyJSON, md5: m.md5, attrs: m.attrs, attrsMD5: m.attrsMD5,
					traceHeader: m.traceHeader, sentMs: m.sentMs, dlqSource: src.arn,
					recvCount: m.recvCount, firstRecvMs: m.firstRecvMs,
				}
				dlq.enqueue(moved, 0, now)
			}
			dlq.wake(len(ms))
		}
		dlq.mu.Unlock()
	}
	if err != nil {
		// SQS keeps messages whose dead-letter queue is gone; so do we.
		s.log.WithFields(logrus.Fields{"queue": src.name, "dlq": rp.dlqName}).Warn("dead-letter queue missing, message kept")
		src.mu.Lock()
		for _, m := range ms {
			if !src.deleted {
				m.noRedrive = true
				src.enqueue(m, 0, now)
			}
		}
		src.mu.Unlock()
		return
	}
	src.counters.redriven.Add(float64(len(ms)))
	dlq.counters.sent.Add(float64(len(ms)))
}

// appendReceive encodes a ReceiveMessage result by hand: it is the hot
// path, and message bodies dominate its size.
func (s *Server) appendReceive(dst []byte, q *queue, ds []delivery, sys sysAttrs, af attrFilter) []byte {
	dst = append(dst, `{"Messages":[`...)
	for i, d := range ds {
		m := d.m
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if sys != 0 {
			dst = appendKey(dst, "Attributes")
			dst = append(dst, '{')
			n := 0
			kv := func(k string, num int64, str string, isNum bool) {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = appendKey(dst, k)
				if isNum {
					dst = append(dst, '"')
					dst = appendInt(dst, num)
					dst = append(dst, '"')
				} else {
					dst = appendString(dst, str)
				}
			}
			if sys&saSenderID != 0 {
				kv("SenderId", 0, s.accountID, false)
			}
			if sys&saSentTimestamp != 0 {
				kv("SentTimestamp", m.sentMs, "", true)
			}
			if sys&saReceiveCount != 0 {
				kv("ApproximateReceiveCount", int64(d.recvCount), "", true)
			}
			if sys&saFirstReceive != 0 {
				kv("ApproximateFirstReceiveTimestamp", d.firstRecvMs, "", true)
			}
			if sys&saDLQSource != 0 && m.dlqSource != "" {
				kv("DeadLetterQueueSourceArn", 0, m.dlqSource, false)
			}
			if sys&saTraceHeader != 0 && m.traceHeader != "" {
				kv("AWSTraceHeader", 0, m.traceHeader, false)
			}
			dst = append(dst, '}', ',')
		}
		dst = appendKey(dst, "Body")
		if m.bodyJSON != nil {
			dst = append(dst, m.bodyJSON...)
		} else {
			dst = appendString(dst, m.body)
		}
		dst = append(dst, ',')
		dst = appendKey(dst, "MD5OfBody")
		dst = appendString(dst, m.md5)
		dst = append(dst, ',')
		if !af.empty() {
			if attrs := af.apply(m.attrs); len(attrs) > 0 {
				dst = appendKey(dst, "MD5OfMessageAttributes")
				dst = appendString(dst, attributesMD5(attrs))
				dst = append(dst, ',')
				dst = appendKey(dst, "MessageAttributes")
				dst = appendAttrs(dst, attrs)
				dst = append(dst, ',')
			}
		}
		dst = appendKey(dst, "MessageId")
		dst = appendString(dst, m.id)
		dst = append(dst, ',')
		dst = appendKey(dst, "ReceiptHandle")
		dst = appendString(dst, encodeReceipt(q.inc, d.seq, d.gen))
		dst = append(dst, '}')
	}
	return append(dst, ']', '}')
}

func appendAttrs(dst []byte, attrs []msgAttr) []byte {
	dst = append(dst, '{')
	for i, a := range attrs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, a.name)
		dst = append(dst, ':', '{')
		if a.binary {
			dst = appendKey(dst, "BinaryValue")
			dst = append(dst, '"')
			dst = base64Append(dst, a.bin)
			dst = append(dst, '"', ',')
		}
		dst = appendKey(dst, "DataType")
		dst = appendString(dst, a.dataType)
		if !a.binary {
			dst = append(dst, ',')
			dst = appendKey(dst, "StringValue")
			dst = appendString(dst, a.str)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// ---- delete and change visibility ----

type receiptInput struct {
	QueueURL          *string `json:"QueueUrl"`
	ReceiptHandle     *string `json:"ReceiptHandle"`
	VisibilityTimeout *int    `json:"VisibilityTimeout"`
}

// resolveReceipt checks a receipt handle's form and that it belongs to q.
func resolveReceipt(q *queue, h *string) (seq uint64, gen uint32, err error) {
	if h == nil || *h == "" {
		return 0, 0, errMissingParameter("ReceiptHandle")
	}
	inc, seq, gen, ok := decodeReceipt(*h)
	if !ok || inc != q.inc {
		return 0, 0, errReceiptHandleIsInvalid(*h)
	}
	return seq, gen, nil
}

func (s *Server) deleteMessage(body []byte) ([]byte, error) {
	var in receiptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	seq, gen, err := resolveReceipt(q, in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	deleted := q.deleteReceipt(seq, gen)
	q.mu.Unlock()
	if deleted {
		q.counters.deleted.Add(1)
	}
	return []byte(emptyJSON), nil
}

type receiptBatchEntry struct {
	ID                *string `json:"Id"`
	ReceiptHandle     *string `json:"ReceiptHandle"`
	VisibilityTimeout *int    `json:"VisibilityTimeout"`
}

type receiptBatchInput struct {
	QueueURL *string             `json:"QueueUrl"`
	Entries  []receiptBatchEntry `json:"Entries"`
}

func (s *Server) deleteMessageBatch(body, out []byte) ([]byte, error) {
	var in receiptBatchInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]*string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if err := checkBatchIDs("DeleteMessageBatch", ids); err != nil {
		return nil, err
	}
	type target struct {
		seq uint64
		gen uint32
		err *apiError
	}
	ts := make([]target, len(in.Entries))
	for i, e := range in.Entries {
		seq, gen, err := resolveReceipt(q, e.ReceiptHandle)
		ts[i] = target{seq: seq, gen: gen}
		if err != nil {
			ts[i].err = asAPIError(err)
		}
	}
	deleted := 0
	q.mu.Lock()
	for _, t := range ts {
		if t.err == nil && q.deleteReceipt(t.seq, t.gen) {
			deleted++
		}
	}
	q.mu.Unlock()
	if deleted > 0 {
		q.counters.deleted.Add(float64(deleted))
	}
	// Encoded by hand: with ReceiveMessage, the other half of every consumer loop.
	out = append(out, `{"Successful":[`...)
	n := 0
	for i, t := range ts {
		if t.err != nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = append(out, '{')
		out = appendKey(out, "Id")
		out = appendString(out, *in.Entries[i].ID)
		out = append(out, '}')
	}
	out = append(out, `],"Failed":[`...)
	n = 0
	for i, t := range ts {
		if t.err == nil {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = appendBatchError(out, *in.Entries[i].ID, t.err)
	}
	return append(out, ']', '}'), nil
}

func appendBatchError(dst []byte, id string, e *apiError) []byte {
	dst = append(dst, '{')
	dst = appendKey(dst, "Id")
	dst = appendString(dst, id)
	dst = append(dst, ',')
	dst = appendKey(dst, "SenderFault")
	dst = append(dst, "true,"...)
	dst = appendKey(dst, "Code")
	dst = appendString(dst, e.query)
	dst = append(dst, ',')
	dst = appendKey(dst, "Message")
	dst = appendString(dst, e.msg)
	return append(dst, '}')
}

// visibility applies one ChangeMessageVisibility.
func (s *Server) visibility(q *queue, h *string, timeout *int) error {
	seq, gen, err := resolveReceipt(q, h)
	if err != nil {
		return err
	}
	if timeout == nil {
		return errMissingParameter("VisibilityTimeout")
	}
	if *timeout < 0 || *timeout > maxVisibility {
		return errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *timeout)
	}
	q.mu.Lock()
	ok, tooLong := q.changeVisibility(seq, gen, *timeout, time.Now().UnixNano())
	q.mu.Unlock()
	switch {
	case !ok:
		return errInvalidParameterValue("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", *h)
	case tooLong:
		return errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]", *timeout)
	}
	return nil
}

func (s *Server) changeMessageVisibility(body []byte) ([]byte, error) {
	var in receiptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if err := s.visibility(q, in.ReceiptHandle, in.VisibilityTimeout); err != nil {
		return nil, err
	}
	return []byte(emptyJSON), nil
}

type idResult struct {
	ID string `json:"Id"`
}

type batchIDsOutput struct {
	Successful []idResult   `json:"Successful"`
	Failed     []batchError `json:"Failed"`
}

func (s *Server) changeMessageVisibilityBatch(body []byte) ([]byte, error) {
	var in receiptBatchInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]*string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.ID
	}
	if err := checkBatchIDs("ChangeMessageVisibilityBatch", ids); err != nil {
		return nil, err
	}
	out := batchIDsOutput{Successful: []idResult{}, Failed: []batchError{}}
	for _, e := range in.Entries {
		if err := s.visibility(q, e.ReceiptHandle, e.VisibilityTimeout); err != nil {
			ae := asAPIError(err)
			out.Failed = append(out.Failed, batchError{ID: *e.ID, SenderFault: true, Code: ae.query, Message: ae.msg})
			continue
		}
		out.Successful = append(out.Successful, idResult{ID: *e.ID})
	}
	return marshal(out)
}
