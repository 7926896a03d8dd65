package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/buildinfo"
	"github.com/batchwatch/batchwatch/sim"
)

// simFlags are the sim command's flags.
type simFlags struct {
	scenario, listen, start, out         *string
	speed, scale, apiRate                *float64
	seed                                 *uint64
	exitWhenDone, noWorkload, noDelivery *bool
	faults                               *[]string
	hostile                              *int
	hostileQueue                         *string
}

func simCommand(app *kingpin.Application) *command {
	cmd := app.Command("sim", "Simulate AWS Batch (with SQS, EventBridge and Cost Explorer) on one local endpoint, for demos and load tests.")
	awsCfg := awsclient.AddFlags(cmd)
	f := simFlags{
		scenario:     cmd.Flag("scenario", "Built-in scenario ("+strings.Join(sim.BuiltinScenarios(), ", ")+") or a scenario YAML file.").Default("smoke").String(),
		listen:       cmd.Flag("listen", "Address serving every simulated service (point the SDKs' endpoint URL here).").Default("127.0.0.1:4566").String(),
		speed:        cmd.Flag("speed", "Simulated seconds per real second; 0 runs as fast as possible on virtual time.").Default("1").Float64(),
		seed:         cmd.Flag("seed", "Seed of every random choice; the same seed at --speed 0 reproduces a run.").Default("1").Uint64(),
		scale:        cmd.Flag("scale", "Multiply the workload's job counts and the compute environments' vCPUs (e.g. 0.01 for CI).").Default("1").Float64(),
		start:        cmd.Flag("start", "Simulated start time (RFC 3339); default now.").String(),
		out:          cmd.Flag("out", "Write every emitted event envelope to this file as JSON lines (- for stdout).").String(),
		exitWhenDone: cmd.Flag("exit-when-done", "Exit once no job can progress any more and every event is delivered.").Bool(),
		noWorkload:   cmd.Flag("no-workload", "Serve the scenario's environment only; jobs come through the Batch API.").Bool(),
		noDelivery:   cmd.Flag("no-delivery", "Deliver events nowhere but --out (not to the scenario's queues, buses or endpoints).").Bool(),
		faults:       cmd.Flag("fault", "Inject faults (repeatable; before the scenario's): SERVICE[/OPERATION]:error_500=P,error_503=P,reset_before=P,reset_after=P,slow=P,latency=MIN-MAX with SERVICE batch, sqs, events, ce or *; or queue/NAME:duplicate=P,late=P,lost_delete=P,late_delay=MIN-MAX. See sim/README.md.").Strings(),
		hostile:      cmd.Flag("hostile", "Mix this many bad messages (invalid JSON and UTF-8, wrong types, deep nesting, 256 KiB strings, SQL and control characters, malformed SNS envelopes) into --hostile.queue over the simulated day.").Default("0").Int(),
		hostileQueue: cmd.Flag("hostile.queue", "Queue of the simulator that receives the --hostile messages.").Default("batchwatch-ingest").String(),
		apiRate:      cmd.Flag("api-rate", "Batch API calls per second, shared by all callers, before HTTP 429 (AWS: about 50); 0 disables throttling.").Default("50").Float64(),
	}
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "sim")
			cfg, err := f.config(l, awsCfg)
			if err != nil {
				return err
			}
			if len(cfg.Scenario.Fleet) > 0 {
				return runFleet(ctx, cfg, f, l)
			}
			outBuf, closeOut, err := openSimOut(*f.out)
			if err != nil {
				return err
			}
			defer closeOut()
			if outBuf != nil {
				cfg.Out = outBuf
			}
			s, err := sim.New(cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			began := time.Now()
			runErr := serveSim(ctx, s, f, cfg.Scenario.Name, l)
			if outBuf != nil {
				if err := outBuf.Flush(); err != nil && runErr == nil {
					runErr = fmt.Errorf("--out: %w", err)
				}
			}
			logSimStopped(s, began, l)
			return runErr
		},
	}
}

// config turns the flags into the simulator's configuration.
func (f simFlags) config(l *logrus.Entry, awsCfg *awsclient.Config) (sim.Config, error) {
	sc, err := loadSimScenario(*f.scenario, *f.scale, *f.faults)
	if err != nil {
		return sim.Config{}, err
	}
	startAt := time.Now().UTC()
	if *f.start != "" {
		if startAt, err = time.Parse(time.RFC3339, *f.start); err != nil {
			return sim.Config{}, fmt.Errorf("--start: %w", err)
		}
	}
	cfg := sim.Config{
		Scenario: sc, Speed: *f.speed, Seed: *f.seed, Logger: l, ExitWhenDone: *f.exitWhenDone,
		NoWorkload: *f.noWorkload, NoDelivery: *f.noDelivery, AWS: awsCfg, Now: func() time.Time { return startAt },
		APIRate: *f.apiRate, Hostile: sim.HostileConfig{Count: *f.hostile, Queue: *f.hostileQueue},
	}
	if *f.apiRate == 0 {
		cfg.APIRate = -1
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildinfo.Read().Collector())
	cfg.Registry = reg
	return cfg, nil
}

// openSimOut opens --out: nothing, stdout ("-") or a file, buffered.
func openSimOut(out string) (*bufio.Writer, func(), error) {
	switch out {
	case "":
		return nil, func() {}, nil
	case "-":
		return bufio.NewWriterSize(os.Stdout, 1<<20), func() {}, nil
	}
	file, err := os.Create(out)
	if err != nil {
		return nil, nil, fmt.Errorf("--out: %w", err)
	}
	return bufio.NewWriterSize(file, 1<<20), func() { file.Close() }, nil
}

// runFleet serves a scenario with fleet members (several accounts and
// regions on one endpoint) until it ends.
func runFleet(ctx context.Context, cfg sim.Config, f simFlags, l *logrus.Entry) error {
	if *f.out != "" {
		return errors.New("--out: not supported for a scenario with fleet members")
	}
	fl, err := sim.NewFleet(cfg)
	if err != nil {
		return err
	}
	defer fl.Close()
	return serveSim(ctx, fl, f, cfg.Scenario.Name, l)
}

// simulator is one simulator or a fleet of them.
type simulator interface {
	Handler() http.Handler
	Run(ctx context.Context) error
}

// serveSim serves the simulator on --listen while it runs.
func serveSim(ctx context.Context, s simulator, f simFlags, scenario string, l *logrus.Entry) error {
	ln, err := net.Listen("tcp", *f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *f.listen, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	l.WithField("listen", ln.Addr().String()).WithField("scenario", scenario).WithField("speed", *f.speed).
		WithField("seed", *f.seed).WithField("scale", *f.scale).Info("simulator serving")

	runErr := s.Run(ctx)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if err := <-srvErr; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	return runErr
}

// logSimStopped logs how many of the run's jobs finished.
func logSimStopped(s *sim.Sim, began time.Time, l *logrus.Entry) {
	truth := s.Truth()
	done := 0
	for _, t := range truth {
		if t.Status == "SUCCEEDED" || t.Status == "FAILED" {
			done++
		}
	}
	l.WithField("jobs", len(truth)).WithField("finished", done).
		WithField("seconds", fmt.Sprintf("%.2f", time.Since(began).Seconds())).Info("simulator stopped")
}

// loadSimScenario loads a scenario, scales it and adds the --fault rules.
func loadSimScenario(name string, scale float64, faults []string) (*sim.Scenario, error) {
	sc, err := sim.LoadScenario(name)
	if err != nil {
		return nil, err
	}
	if scale <= 0 {
		return nil, errors.New("--scale must be positive")
	}
	sc = sc.Scaled(scale)
	if len(faults) > 0 {
		c := *sc
		sc = &c
	}
	for _, f := range faults {
		if err := sim.ParseFaultFlag(&sc.Faults, f); err != nil {
			return nil, fmt.Errorf("--fault: %w", err)
		}
	}
	return sc, nil
}
