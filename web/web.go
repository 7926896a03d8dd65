// Package web serves a component's HTTP endpoints (/metrics, /-/healthy,
// /-/ready, a landing page and component-specific handlers) through
// prometheus/exporter-toolkit, so TLS and basic auth come from the same
// --web.config.file everywhere.
package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/buildinfo"
	"github.com/batchwatch/batchwatch/flags"
	"github.com/batchwatch/batchwatch/logging"
)

// FlagGroup is satisfied by *kingpin.Application and *kingpin.CmdClause.
type FlagGroup = flags.Group

// Flags are the web flags of one component: exporter-toolkit's
// --web.listen-address and --web.config.file, and --web.enable-pprof.
type Flags struct {
	*web.FlagConfig
	// EnablePprof serves /debug/pprof. Off by default: the profiles show
	// the command line (a password given as a flag) and cost CPU on demand.
	EnablePprof *bool
}

// AddFlags registers --web.listen-address, --web.config.file and
// --web.enable-pprof.
func AddFlags(fg FlagGroup, defaultAddress string) *Flags {
	return &Flags{
		FlagConfig:  kingpinflag.AddFlags(fg, defaultAddress),
		EnablePprof: fg.Flag("web.enable-pprof", "Serve /debug/pprof (behind the same TLS and basic auth): it shows the command line and loads the process on demand.").Bool(),
	}
}

// Server is one component's HTTP server.
type Server struct {
	mux   *http.ServeMux
	flags *Flags
	log   *logrus.Entry
	ready atomic.Bool

	listeners []net.Listener
}

// Options describes the landing page and the metrics to serve.
type Options struct {
	Name        string // e.g. "batchwatch ingest"
	Description string
	// Gatherer serves /metrics; nil serves no /metrics.
	Gatherer prometheus.Gatherer
	// Links are extra landing page links (path → text).
	Links map[string]string
	// Build is shown on the landing page and served as
	// batchwatch_build_info beside the Gatherer's metrics (zero: the
	// running binary's, buildinfo.Read).
	Build buildinfo.Info
}

// New builds a server; handlers may be added with Handle before Serve.
func New(flags *Flags, opts Options, log *logrus.Entry) (*Server, error) {
	s := &Server{mux: http.NewServeMux(), flags: flags, log: log}
	links := []web.LandingLinks{}
	if opts.Build == (buildinfo.Info{}) {
		opts.Build = buildinfo.Read()
	}
	if opts.Gatherer != nil {
		build := prometheus.NewRegistry()
		build.MustRegister(opts.Build.Collector())
		s.mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{opts.Gatherer, build}, promhttp.HandlerOpts{
			ErrorLog:          logrusPrinter{log},
			EnableOpenMetrics: true,
		}))
		links = append(links, web.LandingLinks{Address: "/metrics", Text: "Metrics"})
	}
	for addr, text := range opts.Links {
		links = append(links, web.LandingLinks{Address: addr, Text: text})
	}
	links = append(links,
		web.LandingLinks{Address: "/-/healthy", Text: "Health"},
		web.LandingLinks{Address: "/-/ready", Text: "Readiness"})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        opts.Name,
		Description: opts.Description,
		Version:     opts.Build.Version + " (revision " + opts.Build.Revision + ", " + opts.Build.GoVersion + ")",
		Links:       links,
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	s.mux.Handle("/", landing)
	if flags.EnablePprof != nil && *flags.EnablePprof {
		// Profiling, as Prometheus serves it: behind the same TLS and auth.
		s.mux.HandleFunc("/debug/pprof/", pprof.Index)
		s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	s.mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("Not ready.\n"))
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("Ready.\n"))
	})
	return s, nil
}

// Handle registers a component-specific handler.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// SetReady flips /-/ready.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Listen opens the listeners named by --web.listen-address, so callers learn
// the bound addresses (":0" in tests) before serving.
func (s *Server) Listen() error {
	for _, addr := range *s.flags.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range s.listeners {
				_ = o.Close()
			}
			s.listeners = nil
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// Addrs returns the bound addresses after Listen.
func (s *Server) Addrs() []string {
	out := make([]string, 0, len(s.listeners))
	for _, l := range s.listeners {
		out = append(out, l.Addr().String())
	}
	return out
}

// Serve serves until ctx is done, then shuts down gracefully. It calls Listen
// if that was not done yet.
func (s *Server) Serve(ctx context.Context) error {
	if s.listeners == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		errc <- web.ServeMultiple(s.listeners, srv, s.flags.FlagConfig, logging.Slog(s.log))
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		return nil
	}
}

type logrusPrinter struct{ e *logrus.Entry }

func (p logrusPrinter) Println(v ...interface{}) { p.e.Error(fmt.Sprint(v...)) }
