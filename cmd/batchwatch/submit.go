package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/submitter"
	"github.com/batchwatch/batchwatch/web"
)

// submitCommand registers `batchwatch submit`.
func submitCommand(app *kingpin.Application) *command {
	cmd := app.Command("submit", "Submit tiered builds to AWS Batch from a plan and items, journaled in ClickHouse; or serve the same over HTTP (--serve).")
	var (
		planFile    = cmd.Flag("plan", "Plan (YAML): tiers, size ranges, queues, job definition, tags, retry strategy, fan-in, prices.").PlaceHolder("PLAN").String()
		itemsFile   = cmd.Flag("items", "Items: JSON lines or CSV ('-' reads stdin).").PlaceHolder("ITEMS").String()
		itemsFormat = cmd.Flag("items-format", "Items format: jsonl or csv (default: from the file name; .csv is CSV).").Enum("jsonl", "csv")
		runID       = cmd.Flag("run-id", "Run id; re-running an id submits only what is not yet submitted (default: a new id, printed).").String()
		mode        = cmd.Flag("mode", "array: arrays of up to --array-size children per tier and queue, each finding its item in a manifest; single: one job per item.").Default("array").Enum("array", "single")
		arraySize   = cmd.Flag("array-size", "Maximum children per array job (Batch allows 10,000).").Default("10000").Int()
		manifestURL = cmd.Flag("manifest-url", "Where array manifests go, readable by the jobs: s3://bucket/prefix or file:///dir (array mode).").PlaceHolder("URL").String()
		dryRun      = cmd.Flag("dry-run", "Print the plan per tier and queue (items, calls, vCPU-hours, estimated cost) and exit; calls neither AWS nor ClickHouse.").Bool()
		skipInvalid = cmd.Flag("skip-invalid", "Submit the valid items and report invalid lines, instead of stopping at the first run of errors.").Bool()
		ratePerSec  = cmd.Flag("rate", "Client-side budget of AWS Batch requests per second (retries included), below the account's ~50/s.").Default("40").Float64()
		concurrency = cmd.Flag("concurrency", "Batch calls in flight at most.").Default("16").Int()
		settleTime  = cmd.Flag("settle-time", "How long Batch may still create a job after its SubmitJob answer was lost; uncertain submissions are looked up by name only after it.").Default("15s").Duration()
		escalate    = cmd.Flag("escalate", "Watch the run's job events and resubmit items that ran out of memory one tier up (needs --events.queue-url).").Bool()
		eventsQueue = cmd.Flag("events.queue-url", "SQS queue receiving this run's Batch job events (EventBridge → SQS): after submitting, watch the jobs until every item has finished (the watcher empties the queue).").PlaceHolder("URL").String()
		watchTime   = cmd.Flag("watch.timeout", "Stop watching after this long (0: until every item has finished).").Default("0s").Duration()
		noProgress  = cmd.Flag("no-progress", "No progress bar (it is also off when stderr is not a terminal).").Bool()
		jsonSummary = cmd.Flag("summary.json", "Print the end-of-run summary as JSON.").Bool()
		serve       = cmd.Flag("serve", "Serve the submission API (POST /api/v1/runs, GET /api/v1/runs/{id}) instead of submitting once.").Bool()
	)
	awsCfg := awsclient.AddFlags(cmd)
	chCfg := store.AddFlags(cmd)
	webFlags := web.AddFlags(cmd, ":9824")

	run := func(ctx context.Context, logger *logrus.Logger) error {
		log := logger.WithField("component", "submitter")
		if *arraySize < 2 || *arraySize > submitter.MaxArraySize {
			return fmt.Errorf("--array-size must be between 2 and %d", submitter.MaxArraySize)
		}
		if *ratePerSec <= 0 || *concurrency <= 0 {
			return errors.New("--rate and --concurrency must be positive")
		}
		if *escalate && *eventsQueue == "" {
			return errors.New("--escalate needs --events.queue-url, an SQS queue receiving the run's Batch job events")
		}

		var prep *submitter.Prepared
		if !*serve {
			if *planFile == "" || *itemsFile == "" {
				return errors.New("--plan and --items are required (or --serve)")
			}
			var err error
			prep, err = prepare(*planFile, *itemsFile, *itemsFormat, *skipInvalid)
			var ve *submitter.ValidationError
			if errors.As(err, &ve) {
				for _, le := range ve.Errors {
					fmt.Fprintln(os.Stderr, le.Error())
				}
				if ve.Errors[0].File == *planFile {
					return fmt.Errorf("the plan has %d error(s); nothing submitted", len(ve.Errors))
				}
				return fmt.Errorf("%d invalid item line(s); nothing submitted (--skip-invalid submits the valid items)", len(ve.Errors))
			}
			if err != nil {
				return err
			}
			for _, le := range prep.Skipped {
				log.WithField("line", le.Error()).Warn("invalid line skipped")
			}
			if *dryRun {
				d := submitter.PlanDryRun(prep.Plan, prep.Assignments, submitter.Mode(*mode), *arraySize)
				d.Invalid = len(prep.Skipped)
				d.WriteText(os.Stdout)
				return nil
			}
		}
		if submitter.Mode(*mode) == submitter.ModeArray && *manifestURL == "" {
			return errors.New("array mode needs --manifest-url (s3://bucket/prefix or file:///dir)")
		}

		cfg, err := awsclient.Load(ctx, awsCfg)
		if err != nil {
			return err
		}
		reg := prometheus.NewRegistry()
		awsMetrics := awsclient.NewMetrics(reg, "batchwatch_submitter")
		limiter := submitter.NewAdaptiveLimiter(*ratePerSec, nil)
		batchClient := awsCfg.Batch(cfg, awsclient.Options{Metrics: awsMetrics, Limiter: limiter.Limiter()})
		var manifests submitter.ManifestStore
		if *manifestURL != "" {
			manifests, err = submitter.OpenManifests(*manifestURL, awsCfg.S3(cfg, awsclient.Options{Metrics: awsMetrics}))
			if err != nil {
				return err
			}
		}
		st, err := store.Open(chCfg, log)
		if err != nil {
			return err
		}
		defer st.Close()
		if _, err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate ClickHouse: %w", err)
		}
		var watch *submitter.WatchOptions
		if *eventsQueue != "" {
			watch = &submitter.WatchOptions{
				Queue:    awsCfg.SQS(cfg, awsclient.Options{Metrics: awsMetrics}),
				QueueURL: *eventsQueue, Escalate: *escalate, Timeout: *watchTime,
			}
		}
		base := submitter.Options{
			Mode: submitter.Mode(*mode), ArraySize: *arraySize, Concurrency: *concurrency,
			Batch: batchClient, Journal: submitter.NewClickHouseJournal(st), Manifests: manifests,
			Limiter: limiter, Metrics: submitter.NewMetrics(reg), Log: log, Now: time.Now,
			SettleTime: *settleTime,
		}

		if *serve {
			return serveSubmissions(ctx, base, watch, webFlags, reg, log)
		}

		id := *runID
		if id == "" {
			id = submitter.NewRunID(time.Now())
		}
		o := base
		o.Plan, o.RunID, o.DeferFanIn = prep.Plan, id, *escalate
		r, err := submitter.New(o)
		if err != nil {
			return err
		}
		log.WithField("run_id", id).WithField("items", len(prep.Assignments)).WithField("mode", *mode).Info("run starting (re-run with the same --run-id to resume)")

		progCtx, stopProgress := context.WithCancel(ctx)
		progDone := make(chan struct{})
		if !*noProgress && term.IsTerminal(int(os.Stderr.Fd())) {
			go func() {
				defer close(progDone)
				submitter.ShowProgress(progCtx, os.Stderr, r)
			}()
		} else {
			close(progDone)
		}
		_, runErr := r.Submit(ctx, prep.Assignments)
		if runErr == nil && watch != nil {
			runErr = r.Watch(ctx, *watch)
		}
		stopProgress()
		<-progDone

		sum := r.Summary()
		if *jsonSummary {
			if err := writeJSONSummary(os.Stdout, sum, prep.Skipped); err != nil {
				return err
			}
		} else {
			sum.WriteText(os.Stdout)
			if n := len(prep.Skipped); n > 0 {
				fmt.Fprintf(os.Stdout, "  invalid lines skipped: %d\n", n)
				for _, le := range prep.Skipped {
					fmt.Fprintf(os.Stdout, "    %s\n", le.Error())
				}
			}
		}
		if runErr != nil {
			return runErr
		}
		if sum.Failed+sum.Rejected > 0 {
			return fmt.Errorf("%d items failed to submit; re-run with --run-id %s to retry them", sum.Failed+sum.Rejected, id)
		}
		return nil
	}
	return &command{clause: cmd, run: run}
}

// prepare reads and validates the plan and the items.
func prepare(planFile, itemsFile, format string, skipInvalid bool) (*submitter.Prepared, error) {
	planData, err := os.ReadFile(planFile)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var items io.Reader
	if itemsFile == "-" {
		items = os.Stdin
	} else {
		f, err := os.Open(itemsFile)
		if err != nil {
			return nil, fmt.Errorf("read items: %w", err)
		}
		defer f.Close()
		items = f
	}
	return submitter.Prepare(planFile, planData, itemsFile, items, format, skipInvalid)
}

func writeJSONSummary(w io.Writer, s submitter.Summary, skipped []submitter.LineError) error {
	lines := make([]string, len(skipped))
	for i, le := range skipped {
		lines[i] = le.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"summary": s, "skipped_lines": lines}); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// serveSubmissions runs the HTTP submission service until ctx ends.
func serveSubmissions(ctx context.Context, base submitter.Options, watch *submitter.WatchOptions, flags *web.Flags, reg *prometheus.Registry, log *logrus.Entry) error {
	srv := submitter.NewServer(ctx, submitter.ServeConfig{Base: base, Watch: watch, Log: log})
	ws, err := web.New(flags, web.Options{
		Name:        "batchwatch submit",
		Description: "Tiered submission to AWS Batch: POST /api/v1/runs, GET /api/v1/runs/{id}.",
		Gatherer:    reg,
		Links:       map[string]string{"/api/v1/runs": "Runs"},
	}, log)
	if err != nil {
		return err
	}
	ws.Handle("/api/", srv.Handler())
	if err := ws.Listen(); err != nil {
		return err
	}
	ws.SetReady(true)
	log.WithField("addresses", ws.Addrs()).Info("submission service listening")
	err = ws.Serve(ctx)
	srv.Wait()
	return err
}
