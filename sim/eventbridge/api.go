package eventbridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// apiError is an EventBridge error: {"__type": code, "message": msg}.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *apiError {
	return &apiError{code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{code: "ResourceNotFoundException", msg: fmt.Sprintf(format, args...)}
}

func toAPIError(err error) (*apiError, int) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, http.StatusBadRequest
	}
	var pe *PatternError
	if errors.As(err, &pe) {
		return &apiError{code: "InvalidEventPatternException", msg: pe.Error()}, http.StatusBadRequest
	}
	return &apiError{code: "InternalException", msg: err.Error()}, http.StatusInternalServerError
}

// ServeHTTP serves EventBridge's JSON protocol: X-Amz-Target: AWSEvents.<Operation>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSEvents.")
	var body bytes.Buffer
	var out any
	var err error
	if _, rerr := body.ReadFrom(r.Body); rerr != nil {
		err = &apiError{code: "SerializationException", msg: rerr.Error()}
	} else if !ok {
		err = &apiError{code: "UnknownOperationException", msg: "Unknown operation " + target}
	} else {
		out, err = s.dispatch(op, body.Bytes())
	}
	mop := op
	var ae *apiError
	if !ok || (errors.As(err, &ae) && ae.code == "UnknownOperationException") {
		mop = "unknown" // keeps the label's values bounded
	}
	s.m.calls.WithLabelValues(mop).Inc()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
	if err != nil {
		ae, status := toAPIError(err)
		s.m.errors.WithLabelValues(mop, ae.code).Inc()
		s.log.WithFields(logrus.Fields{"operation": op, "code": ae.code, "error": ae.msg}).Debug("request failed")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.code, "message": ae.msg})
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, merr := json.Marshal(out)
	if merr != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{code: "SerializationException", msg: err.Error()}
	}
	return nil
}

func (s *Server) dispatch(op string, body []byte) (any, error) {
	switch op {
	case "PutEvents":
		return s.apiPutEvents(body)
	case "PutRule":
		return s.apiPutRule(body)
	case "DescribeRule":
		return s.apiDescribeRule(body)
	case "ListRules":
		return s.apiListRules(body)
	case "DeleteRule":
		return s.apiDeleteRule(body)
	case "EnableRule", "DisableRule":
		return s.apiSetRuleState(body, op == "EnableRule")
	case "PutTargets":
		return s.apiPutTargets(body)
	case "RemoveTargets":
		return s.apiRemoveTargets(body)
	case "ListTargetsByRule":
		return s.apiListTargets(body)
	case "CreateEventBus":
		return s.apiCreateEventBus(body)
	case "DescribeEventBus":
		return s.apiDescribeEventBus(body)
	case "ListEventBuses":
		return s.apiListEventBuses(body)
	case "DeleteEventBus":
		return s.apiDeleteEventBus(body)
	case "TestEventPattern":
		return s.apiTestEventPattern(body)
	}
	return nil, &apiError{code: "UnknownOperationException", msg: "Unknown operation AWSEvents." + op}
}

// ---- rules ----

type putRuleInput struct {
	Name               string `json:"Name"`
	ScheduleExpression string `json:"ScheduleExpression"`
	EventPattern       string `json:"EventPattern"`
	State              string `json:"State"`
	Description        string `json:"Description"`
	RoleArn            string `json:"RoleArn"`
	EventBusName       string `json:"EventBusName"`
}

func (s *Server) apiPutRule(body []byte) (any, error) {
	var in putRuleInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	r, err := s.putRule(ruleSpec{bus: in.EventBusName, name: in.Name, pattern: in.EventPattern, schedule: in.ScheduleExpression,
		state: in.State, description: in.Description, roleARN: in.RoleArn}, false)
	if err != nil {
		return nil, err
	}
	return map[string]string{"RuleArn": r.arn}, nil
}

type ruleRef struct {
	Name         string `json:"Name"`
	Rule         string `json:"Rule"`
	EventBusName string `json:"EventBusName"`
	NamePrefix   string `json:"NamePrefix"`
	NextToken    string `json:"NextToken"`
	Limit        *int   `json:"Limit"`
	Force        bool   `json:"Force"`
}

// ruleOutput is Rule / DescribeRuleResponse on the wire.
type ruleOutput struct {
	Name               string `json:"Name"`
	Arn                string `json:"Arn"`
	EventPattern       string `json:"EventPattern,omitempty"`
	ScheduleExpression string `json:"ScheduleExpression,omitempty"`
	State              string `json:"State"`
	Description        string `json:"Description,omitempty"`
	RoleArn            string `json:"RoleArn,omitempty"`
	EventBusName       string `json:"EventBusName"`
	CreatedBy          string `json:"CreatedBy,omitempty"`
}

func (s *Server) ruleOutput(r *rule) ruleOutput {
	o := ruleOutput{Name: r.name, Arn: r.arn, ScheduleExpression: r.schedule, State: r.state,
		Description: r.description, RoleArn: r.roleARN, EventBusName: r.bus}
	if r.pattern != nil {
		o.EventPattern = r.pattern.String()
	}
	return o
}

// findRule returns a rule; s.mu must be held.
func (s *Server) findRule(busNameOrARN, name string) (*bus, *rule, error) {
	bn := busName(busNameOrARN)
	b := s.buses[bn]
	if b == nil {
		return nil, nil, notFound("Event bus %s does not exist.", bn)
	}
	r := b.rules[name]
	if r == nil {
		return b, nil, notFound("Rule %s does not exist on EventBus %s.", name, bn)
	}
	return b, r, nil
}

func (s *Server) apiDescribeRule(body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, r, err := s.findRule(in.EventBusName, in.Name)
	if err != nil {
		return nil, err
	}
	o := s.ruleOutput(r)
	o.CreatedBy = s.accountID
	return o, nil
}

// page applies Limit/NextToken to names sorted ascending.
func page(names []string, limit *int, token string) ([]string, string, error) {
	n := 100
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return nil, "", validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *limit)
		}
		n = *limit
	}
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", validation("The nextToken is invalid.")
		}
		i := sort.SearchStrings(names, string(after))
		if i < len(names) && names[i] == string(after) {
			i++
		}
		names = names[i:]
	}
	next := ""
	if len(names) > n {
		names = names[:n]
		next = base64.RawURLEncoding.EncodeToString([]byte(names[n-1]))
	}
	return names, next, nil
}

func (s *Server) apiListRules(body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bn := busName(in.EventBusName)
	b := s.buses[bn]
	if b == nil {
		return nil, notFound("Event bus %s does not exist.", bn)
	}
	var names []string
	for _, r := range b.ordered {
		if strings.HasPrefix(r.name, in.NamePrefix) {
			names = append(names, r.name)
		}
	}
	names, next, err := page(names, in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	rules := make([]ruleOutput, 0, len(names))
	for _, n := range names {
		rules = append(rules, s.ruleOutput(b.rules[n]))
	}
	return struct {
		Rules     []ruleOutput `json:"Rules"`
		NextToken string       `json:"NextToken,omitempty"`
	}{rules, next}, nil
}

func (s *Server) apiDeleteRule(body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, r, err := s.findRule(in.EventBusName, in.Name)
	if b == nil {
		return nil, err
	}
	if r == nil {
		// "If you call delete rule multiple times for the same rule, all
		// calls will succeed."
		return nil, nil
	}
	if len(r.targets) > 0 {
		return nil, validation("Rule can't be deleted since it has targets.")
	}
	delete(b.rules, in.Name)
	b.reorder()
	return nil, nil
}

func (s *Server) apiSetRuleState(body []byte, enable bool) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, r, err := s.findRule(in.EventBusName, in.Name)
	if err != nil {
		return nil, err
	}
	cp := *r
	cp.state = "DISABLED"
	if enable {
		cp.state = "ENABLED"
	}
	b.rules[in.Name] = &cp
	b.reorder()
	return nil, nil
}

// ---- targets ----

type targetJSON struct {
	ID        string `json:"Id"`
	Arn       string `json:"Arn"`
	Input     string `json:"Input,omitempty"`
	InputPath string `json:"InputPath,omitempty"`
}

type failedEntry struct {
	TargetID     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

type failedOutput struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	FailedEntries    []failedEntry `json:"FailedEntries"`
}

func (s *Server) apiPutTargets(body []byte) (any, error) {
	var in struct {
		Rule         string       `json:"Rule"`
		EventBusName string       `json:"EventBusName"`
		Targets      []targetJSON `json:"Targets"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 || len(in.Targets) > 10 {
		return nil, validation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	var ts []Target
	failed := []failedEntry{}
	for _, t := range in.Targets {
		// Only SQS queues are simulated targets: arn:aws:sqs:<region>:<account>:<name>.
		parts := strings.Split(t.Arn, ":")
		if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
			failed = append(failed, failedEntry{TargetID: t.ID, ErrorCode: "ValidationException",
				ErrorMessage: fmt.Sprintf("Target %s: only SQS queue targets are simulated, not %s.", t.ID, t.Arn)})
			continue
		}
		if t.Input != "" && !json.Valid([]byte(t.Input)) {
			return nil, validation("Input for target %s is not valid JSON text.", t.ID)
		}
		ts = append(ts, Target{ID: t.ID, QueueName: parts[5], Input: t.Input, InputPath: t.InputPath})
	}
	more, err := s.putTargets(in.EventBusName, in.Rule, ts)
	if err != nil {
		return nil, err
	}
	failed = append(failed, more...)
	return failedOutput{FailedEntryCount: len(failed), FailedEntries: failed}, nil
}

func (s *Server) apiRemoveTargets(body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Ids          []string `json:"Ids"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, r, err := s.findRule(in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	for _, id := range in.Ids {
		drop[id] = true
	}
	cp := *r
	cp.targets = nil
	for _, t := range r.targets {
		if !drop[t.ID] {
			cp.targets = append(cp.targets, t)
		}
	}
	b.rules[in.Rule] = &cp
	b.reorder()
	return failedOutput{FailedEntries: []failedEntry{}}, nil
}

func (s *Server) apiListTargets(body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, r, err := s.findRule(in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	out := struct {
		Targets []targetJSON `json:"Targets"`
	}{Targets: []targetJSON{}}
	for _, t := range r.targets {
		out.Targets = append(out.Targets, targetJSON{ID: t.ID, Arn: t.arn, Input: t.Input, InputPath: t.InputPath})
	}
	return out, nil
}

// ---- buses ----

type busOutput struct {
	Name             string  `json:"Name"`
	Arn              string  `json:"Arn"`
	CreationTime     float64 `json:"CreationTime"`
	LastModifiedTime float64 `json:"LastModifiedTime"`
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *Server) apiCreateEventBus(body []byte) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !busNameRE.MatchString(in.Name) || strings.HasPrefix(in.Name, "aws.") {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+", in.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buses[in.Name] != nil {
		return nil, &apiError{code: "ResourceAlreadyExistsException", msg: fmt.Sprintf("Event bus %s already exists.", in.Name)}
	}
	b := s.newBus(in.Name)
	s.buses[in.Name] = b
	return map[string]string{"EventBusArn": b.arn}, nil
}

func (s *Server) apiDescribeEventBus(body []byte) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	bn := busName(in.Name)
	b := s.buses[bn]
	if b == nil {
		return nil, notFound("Event bus %s does not exist.", bn)
	}
	return busOutput{Name: b.name, Arn: b.arn, CreationTime: epochSeconds(b.created), LastModifiedTime: epochSeconds(b.created)}, nil
}

func (s *Server) apiListEventBuses(body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var names []string
	for n := range s.buses {
		if strings.HasPrefix(n, in.NamePrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	names, next, err := page(names, in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := struct {
		EventBuses []busOutput `json:"EventBuses"`
		NextToken  string      `json:"NextToken,omitempty"`
	}{EventBuses: []busOutput{}, NextToken: next}
	for _, n := range names {
		b := s.buses[n]
		out.EventBuses = append(out.EventBuses, busOutput{Name: b.name, Arn: b.arn, CreationTime: epochSeconds(b.created), LastModifiedTime: epochSeconds(b.created)})
	}
	return out, nil
}

func (s *Server) apiDeleteEventBus(body []byte) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if busName(in.Name) == "default" {
		return nil, validation("Cannot delete event bus default.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buses, busName(in.Name))
	return nil, nil
}

// ---- events ----

type putEventsEntry struct {
	Time         *float64 `json:"Time"`
	Source       *string  `json:"Source"`
	Resources    []string `json:"Resources"`
	DetailType   *string  `json:"DetailType"`
	Detail       *string  `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
}

type putEventsResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (s *Server) apiPutEvents(body []byte) (any, error) {
	var in struct {
		Entries []putEventsEntry `json:"Entries"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case len(in.Entries) == 0:
		return nil, validation("1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.Entries) > 10:
		return nil, validation("1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	out := struct {
		FailedEntryCount int               `json:"FailedEntryCount"`
		Entries          []putEventsResult `json:"Entries"`
	}{Entries: make([]putEventsResult, len(in.Entries))}
	for i, e := range in.Entries {
		envelope, id, res := s.buildEnvelope(e)
		if res != nil {
			out.Entries[i] = *res
			out.FailedEntryCount++
			continue
		}
		if _, err := s.Publish(e.EventBusName, envelope); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.code == "ResourceNotFoundException" {
				out.Entries[i] = putEventsResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: ae.msg}
				out.FailedEntryCount++
				continue
			}
			// A delivery failure is the target's problem, not the caller's:
			// EventBridge accepted the event (FailedInvocations counts it).
		}
		out.Entries[i] = putEventsResult{EventID: id}
	}
	return out, nil
}

// buildEnvelope makes the event EventBridge delivers for one PutEvents entry.
func (s *Server) buildEnvelope(e putEventsEntry) ([]byte, string, *putEventsResult) {
	invalid := func(param string) *putEventsResult {
		return &putEventsResult{ErrorCode: "InvalidArgument", ErrorMessage: fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", param, param)}
	}
	switch {
	case e.Source == nil || *e.Source == "":
		return nil, "", invalid("Source")
	case e.DetailType == nil || *e.DetailType == "":
		return nil, "", invalid("DetailType")
	case e.Detail == nil || *e.Detail == "":
		return nil, "", invalid("Detail")
	}
	var detail bytes.Buffer
	if err := json.Compact(&detail, []byte(*e.Detail)); err != nil || detail.Len() == 0 || detail.Bytes()[0] != '{' {
		return nil, "", &putEventsResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}
	}
	t := s.now()
	if e.Time != nil {
		sec, frac := math.Modf(*e.Time)
		t = time.Unix(int64(sec), int64(frac*1e9))
	}
	id := uuid.NewString()
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Version    string   `json:"version"`
		ID         string   `json:"id"`
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Account    string   `json:"account"`
		Time       string   `json:"time"`
		Region     string   `json:"region"`
		Resources  []string `json:"resources"`
	}{"0", id, *e.DetailType, *e.Source, s.accountID, t.UTC().Format("2006-01-02T15:04:05Z"), s.region, resources})
	if err != nil {
		return nil, "", &putEventsResult{ErrorCode: "InternalFailure", ErrorMessage: err.Error()}
	}
	h := bytes.TrimRight(head.Bytes(), "\n")
	envelope := append(h[:len(h)-1:len(h)-1], `,"detail":`...)
	envelope = append(envelope, detail.Bytes()...)
	return append(envelope, '}'), id, nil
}

func (s *Server) apiTestEventPattern(body []byte) (any, error) {
	var in struct {
		EventPattern string `json:"EventPattern"`
		Event        string `json:"Event"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	p, err := CompilePattern(in.EventPattern)
	if err != nil {
		return nil, err
	}
	ok, err := p.Match([]byte(in.Event))
	if err != nil {
		return nil, validation("Parameter Event is not valid.")
	}
	return map[string]bool{"Result": ok}, nil
}
