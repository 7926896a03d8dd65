package sqs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// reqCtx carries what handlers need from the HTTP request.
type reqCtx struct {
	ctx    context.Context
	scheme string
	host   string
}

// ServeHTTP serves SQS's JSON protocol: requests with X-Amz-Target: AmazonSQS.<Operation>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSQS.")
	buf := s.getBuf()
	defer s.putBuf(buf)
	var out []byte
	var err error
	if _, rerr := buf.ReadFrom(r.Body); rerr != nil {
		err = errSerialization(rerr)
	} else if !ok {
		err = errUnknownOperation(target)
	} else {
		rc := &reqCtx{ctx: r.Context(), scheme: "http", host: r.Host}
		if r.TLS != nil {
			rc.scheme = "https"
		}
		outp := s.getOut()
		defer s.putOut(outp)
		out, err = s.dispatch(rc, op, buf.Bytes(), (*outp)[:0])
		*outp = out
	}
	mop := metricOperation(op, ok)
	s.metrics.calls.WithLabelValues(mop).Inc()
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", s.ids.next())
	if err != nil {
		e := asAPIError(err)
		s.metrics.errors.WithLabelValues(mop, e.query).Inc()
		s.log.WithFields(logrus.Fields{"operation": op, "code": e.query, "error": e.msg}).Debug("request failed")
		body := appendErrorBody(nil, e)
		h.Set("X-Amzn-Query-Error", e.query+";"+e.fault)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(e.status)
		_, _ = w.Write(body)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// metricOperation bounds the operation label to SQS's operations.
func metricOperation(op string, ok bool) string {
	switch op {
	case "ReceiveMessage", "DeleteMessageBatch", "DeleteMessage", "SendMessage", "SendMessageBatch",
		"ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "CreateQueue", "GetQueueUrl", "ListQueues",
		"DeleteQueue", "PurgeQueue", "GetQueueAttributes", "SetQueueAttributes", "TagQueue", "UntagQueue",
		"ListQueueTags", "ListDeadLetterSourceQueues", "AddPermission", "RemovePermission",
		"StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks":
		if ok {
			return op
		}
	}
	return "unknown"
}

func appendErrorBody(dst []byte, e *apiError) []byte {
	dst = append(dst, '{')
	dst = appendKey(dst, "__type")
	dst = appendString(dst, e.typeName())
	dst = append(dst, ',')
	dst = appendKey(dst, "message")
	dst = appendString(dst, e.msg)
	return append(dst, '}')
}

func (s *Server) getBuf() *bytes.Buffer {
	if b, ok := s.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (s *Server) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		s.bufs.Put(b)
	}
}

func (s *Server) getOut() *[]byte {
	if p, ok := s.outs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 32<<10)
	return &b
}

func (s *Server) putOut(p *[]byte) {
	if cap(*p) <= 4<<20 {
		*p = (*p)[:0]
		s.outs.Put(p)
	}
}

// dispatch runs one operation. The hot operations append their response
// to dst, a pooled buffer; the others return their own.
func (s *Server) dispatch(rc *reqCtx, op string, body, dst []byte) ([]byte, error) {
	switch op {
	case "ReceiveMessage":
		return s.receiveMessage(rc, body, dst)
	case "DeleteMessageBatch":
		return s.deleteMessageBatch(body, dst)
	case "DeleteMessage":
		return s.deleteMessage(body)
	case "SendMessage":
		return s.sendMessage(body)
	case "SendMessageBatch":
		return s.sendMessageBatch(body)
	case "ChangeMessageVisibility":
		return s.changeMessageVisibility(body)
	case "ChangeMessageVisibilityBatch":
		return s.changeMessageVisibilityBatch(body)
	case "CreateQueue":
		return s.apiCreateQueue(rc, body)
	case "GetQueueUrl":
		return s.getQueueURL(rc, body)
	case "ListQueues":
		return s.listQueues(rc, body)
	case "DeleteQueue":
		return s.apiDeleteQueue(body)
	case "PurgeQueue":
		return s.purgeQueue(body)
	case "GetQueueAttributes":
		return s.getQueueAttributes(body)
	case "SetQueueAttributes":
		return s.setQueueAttributes(body)
	case "TagQueue":
		return s.tagQueue(body)
	case "UntagQueue":
		return s.untagQueue(body)
	case "ListQueueTags":
		return s.listQueueTags(body)
	case "ListDeadLetterSourceQueues":
		return s.listDeadLetterSourceQueues(rc, body)
	case "AddPermission", "RemovePermission", "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks":
		return nil, errUnsupportedOperation(op + " is not supported by the simulator.")
	}
	return nil, errUnknownOperation("AmazonSQS." + op)
}

func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errSerialization(err)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// emptyJSON is the body of operations that return nothing.
const emptyJSON = "{}"

// parseQueueURL accepts a queue URL with any scheme and host (clients may
// reach the simulator under other names), a path, or a bare queue name.
func parseQueueURL(u string) (account, name string) {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "", ""
		}
		u = rest[j:]
	}
	parts := strings.Split(strings.Trim(u, "/"), "/")
	switch len(parts) {
	case 1:
		return "", parts[0]
	default:
		return parts[len(parts)-2], parts[len(parts)-1]
	}
}

func (s *Server) queueFromURL(u *string) (*queue, error) {
	if u == nil || *u == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	account, name := parseQueueURL(*u)
	if account != "" && account != s.accountID {
		return nil, errQueueDoesNotExist()
	}
	return s.queue(name)
}

// ---- queues ----

type createQueueInput struct {
	QueueName  *string           `json:"QueueName"`
	Attributes map[string]string `json:"Attributes"`
	Tags       map[string]string `json:"tags"`
}

type queueURLOutput struct {
	QueueURL string `json:"QueueUrl"`
}

func (s *Server) apiCreateQueue(rc *reqCtx, body []byte) ([]byte, error) {
	var in createQueueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == nil {
		return nil, errMissingParameter("QueueName")
	}
	q, err := s.createQueue(*in.QueueName, in.Attributes, in.Tags)
	if err != nil {
		return nil, err
	}
	return marshal(queueURLOutput{QueueURL: s.queueURL(rc.scheme, rc.host, q.name)})
}

type getQueueURLInput struct {
	QueueName              *string `json:"QueueName"`
	QueueOwnerAWSAccountID *string `json:"QueueOwnerAWSAccountId"`
}

func (s *Server) getQueueURL(rc *reqCtx, body []byte) ([]byte, error) {
	var in getQueueURLInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == nil || *in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	if in.QueueOwnerAWSAccountID != nil && *in.QueueOwnerAWSAccountID != s.accountID {
		return nil, errQueueDoesNotExist()
	}
	q, err := s.queue(*in.QueueName)
	if err != nil {
		return nil, err
	}
	return marshal(queueURLOutput{QueueURL: s.queueURL(rc.scheme, rc.host, q.name)})
}

type listQueuesInput struct {
	QueueNamePrefix *string `json:"QueueNamePrefix"`
	MaxResults      *int    `json:"MaxResults"`
	NextToken       *string `json:"NextToken"`
}

type listQueuesOutput struct {
	QueueUrls []string `json:"QueueUrls,omitempty"`
	NextToken string   `json:"NextToken,omitempty"`
}

// page applies MaxResults/NextToken to sorted names. Tokens are the
// base64 of the last name returned.
func page(names []string, maxResults *int, token *string) ([]string, string, error) {
	limit := 1000
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return nil, "", errInvalidParameterValue("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *maxResults)
		}
		limit = *maxResults
	}
	if token != nil && *token != "" {
		after, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil {
			return nil, "", errInvalidParameterValue("Invalid NextToken value.")
		}
		i := sort.SearchStrings(names, string(after))
		if i < len(names) && names[i] == string(after) {
			i++
		}
		names = names[i:]
	}
	next := ""
	if len(names) > limit {
		names = names[:limit]
		if maxResults != nil {
			next = base64.RawURLEncoding.EncodeToString([]byte(names[limit-1]))
		}
	}
	return names, next, nil
}

func (s *Server) listQueues(rc *reqCtx, body []byte) ([]byte, error) {
	var in listQueuesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range s.queueNames() {
		if in.QueueNamePrefix == nil || strings.HasPrefix(n, *in.QueueNamePrefix) {
			names = append(names, n)
		}
	}
	names, next, err := page(names, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := listQueuesOutput{NextToken: next}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, s.queueURL(rc.scheme, rc.host, n))
	}
	return marshal(out)
}

type queueURLInput struct {
	QueueURL *string `json:"QueueUrl"`
}

func (s *Server) apiDeleteQueue(body []byte) ([]byte, error) {
	var in queueURLInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if err := s.deleteQueue(q.name); err != nil {
		return nil, err
	}
	return []byte(emptyJSON), nil
}

func (s *Server) purgeQueue(body []byte) ([]byte, error) {
	var in queueURLInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.lastPurge != 0 && now-q.lastPurge < purgeIntervalSecond*1e9 {
		return nil, errPurgeQueueInProgress(q.name)
	}
	q.lastPurge = now
	q.purge()
	return []byte(emptyJSON), nil
}

type getQueueAttributesInput struct {
	QueueURL       *string  `json:"QueueUrl"`
	AttributeNames []string `json:"AttributeNames"`
}

type attributesOutput struct {
	Attributes map[string]string `json:"Attributes,omitempty"`
}

func (s *Server) getQueueAttributes(body []byte) ([]byte, error) {
	var in getQueueAttributesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	all := false
	for _, n := range in.AttributeNames {
		if n == "All" {
			all = true
		} else if !readable(n) {
			return nil, errInvalidAttributeName(n)
		}
	}
	q.mu.Lock()
	q.advance(time.Now().UnixNano())
	attrs := q.attributes()
	q.mu.Unlock()
	out := attributesOutput{}
	if all {
		out.Attributes = attrs
	} else {
		for _, n := range in.AttributeNames {
			if v, ok := attrs[n]; ok {
				if out.Attributes == nil {
					out.Attributes = map[string]string{}
				}
				out.Attributes[n] = v
			}
		}
	}
	return marshal(out)
}

// attributes returns every attribute GetQueueAttributes shows for the queue.
func (q *queue) attributes() map[string]string {
	c := q.cfg
	a := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(q.nVisible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(q.nInflight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(q.nDelayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.createdS, 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modifiedS, 10),
		"VisibilityTimeout":                     strconv.Itoa(c.visibility),
		"MaximumMessageSize":                    strconv.Itoa(c.maxSize),
		"MessageRetentionPeriod":                strconv.Itoa(c.retention),
		"DelaySeconds":                          strconv.Itoa(c.delay),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(c.wait),
	}
	if c.kmsKey != "" {
		a["KmsMasterKeyId"] = c.kmsKey
		a["KmsDataKeyReusePeriodSeconds"] = strconv.Itoa(c.kmsReuse)
	} else {
		a["SqsManagedSseEnabled"] = c.sseEnabled
	}
	if c.policy != "" {
		a["Policy"] = c.policy
	}
	if c.redrive != nil {
		a["RedrivePolicy"] = c.redrive.String()
	}
	if c.redriveAllow != "" {
		a["RedriveAllowPolicy"] = c.redriveAllow
	}
	return a
}

type setQueueAttributesInput struct {
	QueueURL   *string           `json:"QueueUrl"`
	Attributes map[string]string `json:"Attributes"`
}

func (s *Server) setQueueAttributes(body []byte) ([]byte, error) {
	var in setQueueAttributesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, errMissingParameter("Attributes")
	}
	// Lock order everywhere: server, then queue.
	s.mu.RLock()
	defer s.mu.RUnlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	cfg := q.cfg
	if err := applyAttributes(&cfg, in.Attributes, s.dlqLookupLocked); err != nil {
		return nil, err
	}
	q.cfg = cfg
	q.modifiedS = time.Now().Unix()
	return []byte(emptyJSON), nil
}

type tagQueueInput struct {
	QueueURL *string           `json:"QueueUrl"`
	Tags     map[string]string `json:"Tags"`
	TagKeys  []string          `json:"TagKeys"`
}

func (s *Server) tagQueue(body []byte) ([]byte, error) {
	var in tagQueueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, errMissingParameter("Tags")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.tags == nil {
		q.tags = map[string]string{}
	}
	for k, v := range in.Tags {
		q.tags[k] = v
	}
	return []byte(emptyJSON), nil
}

func (s *Server) untagQueue(body []byte) ([]byte, error) {
	var in tagQueueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range in.TagKeys {
		delete(q.tags, k)
	}
	return []byte(emptyJSON), nil
}

type tagsOutput struct {
	Tags map[string]string `json:"Tags,omitempty"`
}

func (s *Server) listQueueTags(body []byte) ([]byte, error) {
	var in queueURLInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return marshal(tagsOutput{Tags: q.tags})
}

type listDLQSourcesInput struct {
	QueueURL   *string `json:"QueueUrl"`
	MaxResults *int    `json:"MaxResults"`
	NextToken  *string `json:"NextToken"`
}

type listDLQSourcesOutput struct {
	QueueUrls []string `json:"queueUrls"`
	NextToken string   `json:"NextToken,omitempty"`
}

func (s *Server) listDeadLetterSourceQueues(rc *reqCtx, body []byte) ([]byte, error) {
	var in listDLQSourcesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	dlq, err := s.queueFromURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range s.queueNames() {
		q, err := s.queue(n)
		if err != nil {
			continue
		}
		q.mu.Lock()
		if q.cfg.redrive != nil && q.cfg.redrive.dlqName == dlq.name {
			names = append(names, n)
		}
		q.mu.Unlock()
	}
	names, next, err := page(names, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := listDLQSourcesOutput{QueueUrls: []string{}, NextToken: next}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, s.queueURL(rc.scheme, rc.host, n))
	}
	return marshal(out)
}
