package awsclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"
)

// Metrics counts AWS API use per service and operation.
type Metrics struct {
	Calls     *prometheus.CounterVec
	Requests  *prometheus.CounterVec
	Errors    *prometheus.CounterVec
	Throttles *prometheus.CounterVec
	Duration  *prometheus.HistogramVec
}

// NewMetrics registers <namespace>_aws_* metrics on reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	f := promauto.With(reg)
	labels := []string{"service", "operation"}
	return &Metrics{
		Calls: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "aws", Name: "calls_total",
			Help: "AWS API calls made, per service and operation (retries not counted).",
		}, labels),
		Requests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "aws", Name: "requests_total",
			Help: "HTTP requests sent to AWS APIs, retries included.",
		}, labels),
		Errors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "aws", Name: "call_errors_total",
			Help: "AWS API calls that failed after all retries.",
		}, labels),
		Throttles: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "aws", Name: "throttled_requests_total",
			Help: "HTTP requests answered with throttling (HTTP 429 or a throttling error code).",
		}, labels),
		Duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "aws", Name: "call_duration_seconds",
			Help:    "Duration of AWS API calls, retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, labels),
	}
}

var throttleCheck = retry.IsErrorThrottles(retry.DefaultThrottles)

func addMiddleware(s *middleware.Stack, m *Metrics, lim *rate.Limiter) error {
	if m != nil {
		err := s.Initialize.Add(middleware.InitializeMiddlewareFunc("batchwatchCallMetrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				m.Calls.WithLabelValues(svc, op).Inc()
				m.Duration.WithLabelValues(svc, op).Observe(time.Since(start).Seconds())
				if err != nil && !errors.Is(err, context.Canceled) {
					m.Errors.WithLabelValues(svc, op).Inc()
				}
				return out, md, err
			}), middleware.After)
		if err != nil {
			return fmt.Errorf("add call metrics middleware: %w", err)
		}
	}
	if m == nil && lim == nil {
		return nil
	}
	// Below the retry middleware: runs once per HTTP attempt.
	attempt := middleware.FinalizeMiddlewareFunc("batchwatchAttempt",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if lim != nil {
				if err := lim.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("client rate limit: %w", err)
				}
			}
			out, md, err := next.HandleFinalize(ctx, in)
			if m != nil {
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				m.Requests.WithLabelValues(svc, op).Inc()
				throttled := false
				if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil && resp.StatusCode == 429 {
					throttled = true
				}
				if err != nil && throttleCheck.IsErrorThrottle(err).Bool() {
					throttled = true
				}
				if throttled {
					m.Throttles.WithLabelValues(svc, op).Inc()
				}
			}
			return out, md, err
		})
	if _, ok := s.Finalize.Get("Retry"); ok {
		return s.Finalize.Insert(attempt, "Retry", middleware.After)
	}
	return s.Finalize.Add(attempt, middleware.After)
}
