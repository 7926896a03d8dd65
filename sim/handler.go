package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves every simulated service on one address, routed as AWS's
// own endpoints would route the SDKs' requests: Batch by its REST paths
// (/v1/…), SQS (X-Amz-Target AmazonSQS.*), EventBridge (AWSEvents.*) and
// Cost Explorer (AWSInsightsIndexService.*) by their JSON protocol target,
// plus /sim/truth, /metrics and /-/healthy. The scenario's request faults
// apply to the simulated services' calls only.
func (s *Sim) Handler() http.Handler {
	var metricsHandler http.Handler
	if s.cfg.Gatherer != nil {
		metricsHandler = promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/"):
			s.serveBatch(w, r)
		case strings.HasPrefix(target, "AmazonSQS."):
			s.sqs.ServeHTTP(w, r)
		case strings.HasPrefix(target, "AWSEvents."):
			s.bus.ServeHTTP(w, r)
		case strings.HasPrefix(target, "AWSInsightsIndexService."):
			s.serveCostExplorer(w, r)
		case r.URL.Path == "/sim/truth":
			s.serveTruth(w, r)
		case r.URL.Path == "/metrics" && metricsHandler != nil:
			metricsHandler.ServeHTTP(w, r)
		case r.URL.Path == "/-/healthy" || r.URL.Path == "/-/ready":
			handleHealthy(w, r)
		default:
			http.Error(w, "batchwatch sim: no simulated service answers this request", http.StatusNotFound)
		}
	})
	if s.faults != nil {
		return s.faults.wrap(h)
	}
	return h
}

func secondsDuration(n int32) time.Duration { return time.Duration(n) * time.Second }

// Serve builds a simulator, serves it on a local test server and runs it in
// the background: for tests in other packages, whose SDK clients take url
// as their endpoint. stop ends the run and the server; after it, Truth and
// the metrics still answer.
func Serve(ctx context.Context, cfg Config) (s *Sim, url string, stop func(), err error) {
	s, err = New(cfg)
	if err != nil {
		return nil, "", nil, err
	}
	srv := httptest.NewServer(s.Handler())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			s.log.WithError(err).Error("simulator run failed")
		}
	}()
	return s, srv.URL, func() {
		cancel()
		<-done
		srv.Close()
		s.Close()
	}, nil
}
