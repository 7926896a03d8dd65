package sim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/batchwatch/batchwatch/sim/sqs"
)

// FaultsSpec is the scenario's fault injection: what goes wrong between the
// clients and the simulated services, and inside the simulated queues.
// Nothing is injected unless a rule says so.
type FaultsSpec struct {
	// Seed of the faults' random choices; 0 uses the run's seed.
	Seed uint64 `yaml:"seed"`
	// Requests are faults of API calls; for each call the first rule
	// matching its service and operation applies.
	Requests []RequestFaultSpec `yaml:"requests"`
	// Messages are faults of the simulated SQS queues.
	Messages []MessageFaultSpec `yaml:"messages"`
}

// RequestFaultSpec is a rule for API calls of one service and operation.
// The shares are probabilities per call; the error and reset shares are
// exclusive (one draw decides) and together at most 1.
type RequestFaultSpec struct {
	// Service is batch, sqs, events (EventBridge), ce (Cost Explorer) or
	// "*" for all.
	Service string `yaml:"service"`
	// Operation is the API operation (SubmitJob, ReceiveMessage, …); ""
	// or "*" for all of the service's.
	Operation string `yaml:"operation"`
	// Error500 and Error503 answer HTTP 500 / 503 with the service's own
	// error shape, without processing the call.
	Error500 float64 `yaml:"error_500"`
	Error503 float64 `yaml:"error_503"`
	// ResetBefore resets the connection before the call is processed;
	// ResetAfter processes the call, then resets the connection instead of
	// answering: the client cannot tell whether it happened.
	ResetBefore float64 `yaml:"reset_before"`
	ResetAfter  float64 `yaml:"reset_after"`
	// Slow is the share of calls delayed by Latency (uniform between its
	// bounds) before they are processed; independent of the other draws.
	Slow    float64 `yaml:"slow"`
	Latency Range   `yaml:"latency"`
}

// MessageFaultSpec is the scenario form of sqs.MessageFaults.
type MessageFaultSpec struct {
	Queue          string  `yaml:"queue"`
	Duplicate      float64 `yaml:"duplicate"`
	DuplicateDelay Range   `yaml:"duplicate_delay"`
	Late           float64 `yaml:"late"`
	LateDelay      Range   `yaml:"late_delay"`
	LostDelete     float64 `yaml:"lost_delete"`
}

func (m MessageFaultSpec) sqs() sqs.MessageFaults {
	return sqs.MessageFaults{
		Queue: m.Queue, Duplicate: m.Duplicate, Late: m.Late, LostDelete: m.LostDelete,
		DuplicateDelay: [2]time.Duration{m.DuplicateDelay.Min, m.DuplicateDelay.Max},
		LateDelay:      [2]time.Duration{m.LateDelay.Min, m.LateDelay.Max},
	}
}

// faultServices are the services a request rule may name.
func faultServices() []string { return []string{"batch", "sqs", "events", "ce", "*"} }

func (f *FaultsSpec) validate() error {
	for i, r := range f.Requests {
		if !containsString(faultServices(), r.Service) {
			return fmt.Errorf("faults.requests[%d]: service %q is not one of %s", i, r.Service, strings.Join(faultServices(), ", "))
		}
		shares := []float64{r.Error500, r.Error503, r.ResetBefore, r.ResetAfter, r.Slow}
		for _, p := range shares {
			if p < 0 || p > 1 {
				return fmt.Errorf("faults.requests[%d]: share %g is not between 0 and 1", i, p)
			}
		}
		if sum := r.Error500 + r.Error503 + r.ResetBefore + r.ResetAfter; sum > 1 {
			return fmt.Errorf("faults.requests[%d]: error and reset shares add up to %g, more than 1", i, sum)
		}
		if r.Latency.Min < 0 || r.Latency.Max < r.Latency.Min {
			return fmt.Errorf("faults.requests[%d]: latency %v..%v is not a range", i, r.Latency.Min, r.Latency.Max)
		}
	}
	for i, m := range f.Messages {
		if err := m.sqs().Validate(); err != nil {
			return fmt.Errorf("faults.messages[%d]: %w", i, err)
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseFaultFlag parses one --fault value and adds it to f:
// "SERVICE[/OPERATION]:key=value,…" for a request rule (keys error_500,
// error_503, reset_before, reset_after, slow, latency as MIN-MAX or one
// duration) or "queue/NAME:key=value,…" for message faults (duplicate,
// late, lost_delete, duplicate_delay, late_delay). Rules from flags come
// before the scenario's, so they win.
func ParseFaultFlag(f *FaultsSpec, v string) error {
	target, kvs, ok := strings.Cut(v, ":")
	if !ok || kvs == "" {
		return fmt.Errorf("fault %q: want TARGET:key=value,…", v)
	}
	svc, op, _ := strings.Cut(target, "/")
	if svc == "queue" {
		m := MessageFaultSpec{Queue: op}
		if err := parseFaultKVs(kvs, messageFaultFields(&m)); err != nil {
			return fmt.Errorf("fault %q: %w", v, err)
		}
		f.Messages = append([]MessageFaultSpec{m}, f.Messages...)
		return nil
	}
	r := RequestFaultSpec{Service: svc, Operation: op}
	if err := parseFaultKVs(kvs, requestFaultFields(&r)); err != nil {
		return fmt.Errorf("fault %q: %w", v, err)
	}
	f.Requests = append([]RequestFaultSpec{r}, f.Requests...)
	return nil
}

type faultField struct {
	share *float64
	rng   *Range
}

func requestFaultFields(r *RequestFaultSpec) map[string]faultField {
	return map[string]faultField{
		"error_500": {share: &r.Error500}, "error_503": {share: &r.Error503},
		"reset_before": {share: &r.ResetBefore}, "reset_after": {share: &r.ResetAfter},
		"slow": {share: &r.Slow}, "latency": {rng: &r.Latency},
	}
}

func messageFaultFields(m *MessageFaultSpec) map[string]faultField {
	return map[string]faultField{
		"duplicate": {share: &m.Duplicate}, "late": {share: &m.Late}, "lost_delete": {share: &m.LostDelete},
		"duplicate_delay": {rng: &m.DuplicateDelay}, "late_delay": {rng: &m.LateDelay},
	}
}

func parseFaultKVs(kvs string, fields map[string]faultField) error {
	for _, kv := range strings.Split(kvs, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		fld, known := fields[k]
		if !ok || !known {
			return fmt.Errorf("%q is not key=value with a known key", kv)
		}
		if fld.share != nil {
			p, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*fld.share = p
			continue
		}
		lo, hi, isRange := strings.Cut(v, "-")
		if !isRange {
			hi = lo
		}
		dlo, err := time.ParseDuration(lo)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		dhi, err := time.ParseDuration(hi)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		*fld.rng = Range{Min: dlo, Max: dhi}
	}
	return nil
}

// faultInjector wraps the simulator's handler with the request faults.
type faultInjector struct {
	rules    []RequestFaultSpec
	mu       sync.Mutex
	rnd      *rand.Rand
	injected *prometheus.CounterVec
}

func newFaultInjector(f FaultsSpec, seed uint64, reg prometheus.Registerer) *faultInjector {
	if f.Seed != 0 {
		seed = f.Seed
	}
	return &faultInjector{
		rules: f.Requests,
		rnd:   rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)),
		injected: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Namespace: "batchwatch", Subsystem: "sim", Name: "faults_injected_total",
			Help: "Request faults injected, per service, operation and kind (error_500, error_503, reset_before, reset_after, slow).",
		}, []string{"service", "operation", "kind"}),
	}
}

// requestService names the simulated service and operation of a request,
// "" for the simulator's own endpoints.
func requestService(r *http.Request) (service, op string) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		if bop, ok := batchOpFor(r.Method, r.URL.Path); ok {
			return "batch", bop.name
		}
		return "batch", "unknown"
	}
	target := r.Header.Get("X-Amz-Target")
	prefix, op, _ := strings.Cut(target, ".")
	switch prefix {
	case "AmazonSQS":
		return "sqs", op
	case "AWSEvents":
		return "events", op
	case "AWSInsightsIndexService":
		return "ce", op
	}
	return "", ""
}

func (fi *faultInjector) rule(service, op string) *RequestFaultSpec {
	for i := range fi.rules {
		r := &fi.rules[i]
		if (r.Service == service || r.Service == "*") && (r.Operation == op || r.Operation == "" || r.Operation == "*") {
			return r
		}
	}
	return nil
}

// draw decides the fault of one call: the kind ("" for none) and the added
// latency.
func (fi *faultInjector) draw(r *RequestFaultSpec) (kind string, delay time.Duration) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	u := fi.rnd.Float64()
	for _, k := range []struct {
		name string
		p    float64
	}{{"error_500", r.Error500}, {"error_503", r.Error503}, {"reset_before", r.ResetBefore}, {"reset_after", r.ResetAfter}} {
		if u < k.p {
			kind = k.name
			break
		}
		u -= k.p
	}
	if r.Slow > 0 && fi.rnd.Float64() < r.Slow {
		delay = r.Latency.Min
		if span := r.Latency.Max - r.Latency.Min; span > 0 {
			delay += time.Duration(fi.rnd.Int64N(int64(span)))
		}
	}
	return kind, delay
}

func (fi *faultInjector) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, op := requestService(r)
		rule := (*RequestFaultSpec)(nil)
		if service != "" {
			rule = fi.rule(service, op)
		}
		if rule == nil {
			next.ServeHTTP(w, r)
			return
		}
		kind, delay := fi.draw(rule)
		if delay > 0 {
			fi.injected.WithLabelValues(service, op, "slow").Inc()
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if kind != "" {
			fi.injected.WithLabelValues(service, op, kind).Inc()
		}
		switch kind {
		case "error_500":
			writeServiceError(w, service, http.StatusInternalServerError)
		case "error_503":
			writeServiceError(w, service, http.StatusServiceUnavailable)
		case "reset_before":
			resetConnection(w)
		case "reset_after":
			next.ServeHTTP(discardWriter{h: http.Header{}}, r)
			resetConnection(w)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// serviceError is the error shape a service answers a server-side failure
// with: Batch speaks REST-JSON (X-Amzn-ErrorType and a __type body);
// EventBridge and Cost Explorer JSON 1.1 (__type); SQS JSON 1.0 with the
// query-compatible code in x-amzn-query-error, which the SDKs read first.
// None of the simulated services speaks the XML query protocol (SNS only
// wraps messages).
func serviceError(service string, status int) (code, contentType string) {
	unavailable := status == http.StatusServiceUnavailable
	switch {
	case service == "batch" && unavailable:
		return "ServiceUnavailableException", "application/json"
	case service == "batch":
		return "ServerException", "application/json"
	case service == "sqs" && unavailable:
		return "com.amazon.coral.service#ServiceUnavailable", "application/x-amz-json-1.0"
	case service == "sqs":
		return "com.amazon.coral.service#InternalFailure", "application/x-amz-json-1.0"
	case unavailable:
		return "ServiceUnavailable", "application/x-amz-json-1.1"
	case service == "events":
		return "InternalException", "application/x-amz-json-1.1"
	}
	return "InternalFailure", "application/x-amz-json-1.1"
}

func writeServiceError(w http.ResponseWriter, service string, status int) {
	code, ctype := serviceError(service, status)
	msg := "We encountered an internal error. Please try again."
	if status == http.StatusServiceUnavailable {
		msg = "The service is unavailable. Please try again later."
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Amzn-Requestid", newRequestID())
	switch service {
	case "sqs":
		_, short, _ := strings.Cut(code, "#")
		h.Set("X-Amzn-Query-Error", short+";Receiver")
	case "batch":
		h.Set("X-Amzn-ErrorType", code)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// resetConnection drops the client's connection with a TCP RST instead of
// an answer. Connections that cannot be hijacked (HTTP/2) are aborted.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// discardWriter takes the answer of a call whose connection is reset after
// it was processed.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// Flush lets handlers that flush long answers run unchanged.
func (d discardWriter) Flush() {}
