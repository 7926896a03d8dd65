// Package eventbridge is the simulator's Amazon EventBridge: event buses,
// rules with event patterns, SQS targets (optionally through an SNS
// notification wrapper) and PutEvents, over EventBridge's JSON protocol
// (application/x-amz-json-1.1, X-Amz-Target: AWSEvents.<Operation>), plus a
// Go API the simulator's scenarios use to publish events at full speed.
package eventbridge

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/sim/sns"
	"github.com/batchwatch/batchwatch/sim/sqs"
)

// Options configures a Server.
type Options struct {
	Queues    *sqs.Server           // where SQS targets deliver; required
	Registry  prometheus.Registerer // metrics; nil = none
	AccountID string                // default: the queues' account
	Region    string                // default: the queues' region
	Logger    *logrus.Entry         // nil = discard
	Now       func() time.Time      // envelope times of PutEvents; default time.Now
}

// Target is where a rule sends matching events.
type Target struct {
	// ID names the target within its rule; default: the queue name.
	ID string
	// QueueName is the SQS queue that receives the events.
	QueueName string
	// SNSTopicARN, when set, wraps each event in an SNS notification, as a
	// queue subscribed to that topic (without raw delivery) receives it.
	SNSTopicARN string
	// Input replaces the event with this constant JSON text.
	Input string
	// InputPath sends only part of the event, e.g. "$.detail".
	InputPath string
}

// Server is an EventBridge-compatible server. It is safe for concurrent use.
type Server struct {
	queues    *sqs.Server
	accountID string
	region    string
	log       *logrus.Entry
	now       func() time.Time
	m         *metrics

	mu    sync.RWMutex
	buses map[string]*bus
}

type bus struct {
	name    string
	arn     string
	created time.Time
	rules   map[string]*rule
	ordered []*rule // rules by name, rebuilt on change: Publish reads it
}

type rule struct {
	name        string
	arn         string
	bus         string
	pattern     *Pattern
	schedule    string
	state       string
	description string
	roleARN     string
	targets     []*target
	m           ruleMetrics
}

type target struct {
	Target
	arn string
}

type metrics struct {
	events      *prometheus.CounterVec
	matched     *prometheus.CounterVec
	invocations *prometheus.CounterVec
	failed      *prometheus.CounterVec
	calls       *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

type ruleMetrics struct {
	matched, invocations, failed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "sim_eventbridge", Name: name, Help: help,
		}, labels)
	}
	return &metrics{
		events:      counter("events_total", "Events put on a simulated event bus (PutEvents entries and Go publishes).", "bus"),
		matched:     counter("matched_events_total", "Events that matched a rule (CloudWatch's MatchedEvents).", "bus", "rule"),
		invocations: counter("invocations_total", "Deliveries of matched events to targets (CloudWatch's Invocations).", "bus", "rule"),
		failed:      counter("failed_invocations_total", "Deliveries that failed, e.g. to a missing queue (CloudWatch's FailedInvocations).", "bus", "rule"),
		calls:       counter("api_calls_total", "EventBridge API calls served, per operation.", "operation"),
		errors:      counter("api_errors_total", "EventBridge API calls answered with an error, per operation and error code.", "operation", "code"),
	}
}

// NewServer returns a server with the default event bus.
func NewServer(o Options) *Server {
	if o.Queues == nil {
		o.Queues = sqs.NewServer(sqs.Options{AccountID: o.AccountID, Region: o.Region})
	}
	if o.AccountID == "" {
		o.AccountID = o.Queues.AccountID()
	}
	if o.Region == "" {
		o.Region = o.Queues.Region()
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Logger = logrus.NewEntry(l)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		queues:    o.Queues,
		accountID: o.AccountID,
		region:    o.Region,
		log:       o.Logger.WithField("component", "sim-eventbridge"),
		now:       o.Now,
		m:         newMetrics(o.Registry),
		buses:     map[string]*bus{},
	}
	s.buses["default"] = s.newBus("default")
	return s
}

func (s *Server) newBus(name string) *bus {
	return &bus{
		name:    name,
		arn:     fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", s.region, s.accountID, name),
		created: s.now(),
		rules:   map[string]*rule{},
	}
}

func (s *Server) ruleARN(busName, name string) string {
	if busName == "default" {
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", s.region, s.accountID, name)
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/%s", s.region, s.accountID, busName, name)
}

// busName accepts a bus name or ARN; "" is the default bus.
func busName(nameOrARN string) string {
	if nameOrARN == "" {
		return "default"
	}
	if i := strings.Index(nameOrARN, ":event-bus/"); i >= 0 && strings.HasPrefix(nameOrARN, "arn:") {
		return nameOrARN[i+len(":event-bus/"):]
	}
	return nameOrARN
}

var (
	nameRE    = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
	busNameRE = regexp.MustCompile(`^[/\.\-_A-Za-z0-9]{1,256}$`)
)

// reorder rebuilds b.ordered; s.mu must be held for writing.
func (b *bus) reorder() {
	b.ordered = b.ordered[:0:0]
	for _, r := range b.rules {
		b.ordered = append(b.ordered, r)
	}
	sort.Slice(b.ordered, func(i, j int) bool { return b.ordered[i].name < b.ordered[j].name })
}

// ruleSpec is a PutRule request.
type ruleSpec struct {
	bus, name, pattern, schedule, state, description, roleARN string
}

// putRule creates or updates a rule, keeping its targets.
func (s *Server) putRule(spec ruleSpec, createBus bool) (*rule, error) {
	if !nameRE.MatchString(spec.name) {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", spec.name)
	}
	if spec.pattern == "" && spec.schedule == "" {
		return nil, validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	switch spec.state {
	case "":
		spec.state = "ENABLED"
	case "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", spec.state)
	}
	var p *Pattern
	if spec.pattern != "" {
		var err error
		if p, err = CompilePattern(spec.pattern); err != nil {
			return nil, err
		}
	}
	bn := busName(spec.bus)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buses[bn]
	if b == nil {
		if !createBus {
			return nil, notFound("Event bus %s does not exist.", bn)
		}
		if !busNameRE.MatchString(bn) {
			return nil, validation("Event bus name %s is not valid.", bn)
		}
		b = s.newBus(bn)
		s.buses[bn] = b
	}
	if spec.schedule != "" && bn != "default" {
		return nil, validation("ScheduleExpression is supported only on the default event bus.")
	}
	r := b.rules[spec.name]
	if r == nil {
		r = &rule{name: spec.name, arn: s.ruleARN(bn, spec.name), bus: bn, m: ruleMetrics{
			matched:     s.m.matched.WithLabelValues(bn, spec.name),
			invocations: s.m.invocations.WithLabelValues(bn, spec.name),
			failed:      s.m.failed.WithLabelValues(bn, spec.name),
		}}
	} else {
		// Publish reads rules without the lock: replace, never mutate.
		cp := *r
		r = &cp
	}
	r.pattern, r.schedule, r.state, r.description, r.roleARN = p, spec.schedule, spec.state, spec.description, spec.roleARN
	b.rules[spec.name] = r
	b.reorder()
	s.log.WithFields(logrus.Fields{"bus": bn, "rule": spec.name}).Debug("rule put")
	return r, nil
}

// maxTargets is EventBridge's limit of targets per rule.
const maxTargets = 5

// putTargets adds or replaces targets of a rule; failed entries are
// reported per target, as PutTargets does.
func (s *Server) putTargets(busNameOrARN, ruleName string, ts []Target) ([]failedEntry, error) {
	bn := busName(busNameOrARN)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buses[bn]
	if b == nil {
		return nil, notFound("Event bus %s does not exist.", bn)
	}
	r := b.rules[ruleName]
	if r == nil {
		return nil, notFound("Rule %s does not exist on EventBus %s.", ruleName, bn)
	}
	cp := *r
	cp.targets = append([]*target(nil), r.targets...)
	var failed []failedEntry
	for _, t := range ts {
		if t.QueueName == "" {
			failed = append(failed, failedEntry{TargetID: t.ID, ErrorCode: "ValidationException", ErrorMessage: "Target has no queue."})
			continue
		}
		if !nameRE.MatchString(t.ID) {
			failed = append(failed, failedEntry{TargetID: t.ID, ErrorCode: "ValidationException", ErrorMessage: "Target id is not valid."})
			continue
		}
		nt := &target{Target: t, arn: s.queues.QueueARN(t.QueueName)}
		replaced := false
		for i, old := range cp.targets {
			if old.ID == t.ID {
				cp.targets[i] = nt
				replaced = true
			}
		}
		if !replaced {
			if len(cp.targets) >= maxTargets {
				return nil, &apiError{code: "LimitExceededException", msg: "The requested resource exceeds the maximum number allowed."}
			}
			cp.targets = append(cp.targets, nt)
		}
	}
	b.rules[ruleName] = &cp
	b.reorder()
	return failed, nil
}

// AddRule creates (or updates) an enabled rule on bus with an event
// pattern, and makes each named queue a target (target id = queue name).
// The bus is created if needed. Scenarios use it to wire the pipeline.
func (s *Server) AddRule(busNameOrARN, name, pattern string, targetQueueNames ...string) error {
	if _, err := s.putRule(ruleSpec{bus: busNameOrARN, name: name, pattern: pattern}, true); err != nil {
		return fmt.Errorf("add rule %s: %w", name, err)
	}
	ts := make([]Target, len(targetQueueNames))
	for i, q := range targetQueueNames {
		ts[i] = Target{ID: q, QueueName: q}
	}
	return s.AddTargets(busNameOrARN, name, ts...)
}

// AddTargets adds or replaces targets of an existing rule.
func (s *Server) AddTargets(busNameOrARN, ruleName string, targets ...Target) error {
	for i := range targets {
		if targets[i].ID == "" {
			targets[i].ID = targets[i].QueueName
		}
	}
	failed, err := s.putTargets(busNameOrARN, ruleName, targets)
	if err != nil {
		return fmt.Errorf("add targets to %s: %w", ruleName, err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("add target %s to %s: %s", failed[0].TargetID, ruleName, failed[0].ErrorMessage)
	}
	return nil
}

// Publish puts a complete event envelope (built by the simulator) on a bus:
// every enabled rule whose pattern matches delivers it to its targets. It
// returns the number of rules matched; delivery failures (a missing queue)
// are counted and returned, and do not stop other deliveries.
func (s *Server) Publish(busNameOrARN string, envelope []byte) (int, error) {
	bn := busName(busNameOrARN)
	s.mu.RLock()
	b := s.buses[bn]
	var rules []*rule
	if b != nil {
		rules = b.ordered
	}
	s.mu.RUnlock()
	if b == nil {
		return 0, fmt.Errorf("publish to %s: %w", bn, notFound("Event bus %s does not exist.", bn))
	}
	s.m.events.WithLabelValues(bn).Inc()
	if len(rules) == 0 {
		return 0, nil
	}
	ev, err := parseEvent(envelope)
	if err != nil {
		return 0, fmt.Errorf("publish to %s: %w", bn, err)
	}
	matched := 0
	var errs []error
	for _, r := range rules {
		if r.pattern == nil || r.state == "DISABLED" || !r.pattern.root.match(ev) {
			continue
		}
		matched++
		r.m.matched.Inc()
		for _, t := range r.targets {
			if err := s.deliver(t, envelope, ev); err != nil {
				r.m.failed.Inc()
				s.log.WithFields(logrus.Fields{"rule": r.name, "target": t.ID, "error": err}).Warn("delivery failed")
				errs = append(errs, fmt.Errorf("rule %s target %s: %w", r.name, t.ID, err))
				continue
			}
			r.m.invocations.Inc()
		}
	}
	return matched, errors.Join(errs...)
}

// parseEvent splits an envelope's top level. The envelope comes from the
// simulator, so it is not validated as a whole: malformed parts simply
// match nothing.
func parseEvent(envelope []byte) (*node, error) {
	ms, err := members(envelope)
	if err != nil {
		return nil, fmt.Errorf("event is not a JSON object: %w", err)
	}
	return &node{raw: envelope, members: ms, done: true}, nil
}

func (s *Server) deliver(t *target, envelope []byte, ev *node) error {
	body := envelope
	switch {
	case t.Input != "":
		body = []byte(t.Input)
	case t.InputPath != "" && t.InputPath != "$":
		n := ev
		for _, part := range strings.Split(strings.TrimPrefix(t.InputPath, "$."), ".") {
			if n = n.field(part); n == nil {
				break
			}
		}
		if n == nil {
			// EventBridge sends nothing it cannot extract; an empty value.
			body = []byte("null")
		} else {
			body = n.raw
		}
	}
	if t.SNSTopicARN != "" {
		body = sns.Wrap(t.SNSTopicARN, body, s.now())
	}
	return s.queues.Send(t.QueueName, string(body))
}
