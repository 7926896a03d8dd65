package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	toolkit "github.com/prometheus/exporter-toolkit/web"

	"github.com/batchwatch/batchwatch/buildinfo"
	"github.com/batchwatch/batchwatch/logging"
)

// TestVersionServed: the landing page shows the build and /metrics serves
// batchwatch_build_info beside the component's metrics.
func TestVersionServed(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "batchwatch_test_total", Help: "A component metric."}))
	addrs, cfgFile := []string{"127.0.0.1:0"}, ""
	build := buildinfo.Info{Version: "v9.8.7", Revision: "f00d", GoVersion: "go1.26.0"}
	pprof := false
	s, err := New(&Flags{FlagConfig: &toolkit.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &cfgFile}, EnablePprof: &pprof},
		Options{Name: "batchwatch test", Gatherer: reg, Build: build}, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	defer func() {
		cancel()
		<-served
	}()
	get := func(path string) string {
		resp, err := http.Get("http://" + s.Addrs()[0] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if page := get("/"); !strings.Contains(page, "Version: v9.8.7 (revision f00d, go1.26.0)") {
		t.Errorf("landing page lacks the version:\n%s", page)
	}
	metrics := get("/metrics")
	for _, want := range []string{`batchwatch_build_info{goversion="go1.26.0",revision="f00d",version="v9.8.7"} 1`, "batchwatch_test_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
}
