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

// submitFlags are the flags of `batchwatch submit`.
type submitFlags struct {
	planFile, itemsFile, itemsFormat, runID, mode, manifestURL *string
	arraySize, concurrency                                     *int
	dryRun, skipInvalid, escalate, noProgress, jsonSummary     *bool
	ratePerSec                                                 *float64
	settleTime, watchTime                                      *time.Duration
	eventsQueue                                                *string
	noMigrate                                                  *bool
	serve                                                      *bool
	serveCfg                                                   serveFlags
	sizing                                                     *sizingFlags

	aws *awsclient.Config
	ch  *store.Config
	web *web.Flags
}

// serveFlags are the --serve.* flags: exposure, allow-list and limits.
type serveFlags struct {
	insecure           *bool
	allow              submitter.AllowList
	maxActive, maxRuns *int
	maxBody            *int64
}

// submitCommand registers `batchwatch submit`.
func submitCommand(app *kingpin.Application) *command {
	cmd := app.Command("submit", "Submit tiered builds to AWS Batch from a plan and items, journaled in ClickHouse; or serve the same over HTTP (--serve).")
	f := addSubmitFlags(cmd)
	return &command{clause: cmd, run: func(ctx context.Context, logger *logrus.Logger) error {
		return runSubmit(ctx, logger.WithField("component", "submitter"), f)
	}}
}

func addSubmitFlags(cmd *kingpin.CmdClause) *submitFlags {
	f := &submitFlags{
		planFile:    cmd.Flag("plan", "Plan (YAML): tiers, size ranges, queues, job definition, tags, retry strategy, fan-in, prices.").PlaceHolder("PLAN").String(),
		itemsFile:   cmd.Flag("items", "Items: JSON lines or CSV ('-' reads stdin).").PlaceHolder("ITEMS").String(),
		itemsFormat: cmd.Flag("items-format", "Items format: jsonl or csv (default: from the file name; .csv is CSV).").Enum("jsonl", "csv"),
		runID:       cmd.Flag("run-id", "Run id; re-running an id submits only what is not yet submitted (default: a new id, printed).").String(),
		mode:        cmd.Flag("mode", "array: arrays of up to --array-size children per tier and queue, each finding its item in a manifest; single: one job per item.").Default("array").Enum("array", "single"),
		arraySize:   cmd.Flag("array-size", "Maximum children per array job (Batch allows 10,000).").Default("10000").Int(),
		manifestURL: cmd.Flag("manifest-url", "Where array manifests go, readable by the jobs: s3://bucket/prefix or file:///dir (array mode).").PlaceHolder("URL").String(),
		dryRun:      cmd.Flag("dry-run", "Print the plan per tier and queue (items, calls, vCPU-hours, estimated cost) and exit; calls neither AWS nor ClickHouse.").Bool(),
		skipInvalid: cmd.Flag("skip-invalid", "Submit the valid items and report invalid lines, instead of stopping at the first run of errors.").Bool(),
		ratePerSec:  cmd.Flag("rate", "Client-side budget of AWS Batch requests per second (retries included), below the account's ~50/s.").Default("40").Float64(),
		concurrency: cmd.Flag("concurrency", "Batch calls in flight at most.").Default("16").Int(),
		settleTime:  cmd.Flag("settle-time", "How long Batch may still create a job after its SubmitJob answer was lost; uncertain submissions are looked up by name only after it.").Default("15s").Duration(),
		escalate:    cmd.Flag("escalate", "Watch the run's job events and resubmit items that ran out of memory one tier up (needs --events.queue-url).").Bool(),
		eventsQueue: cmd.Flag("events.queue-url", "SQS queue receiving this run's Batch job events (EventBridge → SQS): after submitting, watch the jobs until every item has finished (the watcher empties the queue).").PlaceHolder("URL").String(),
		watchTime:   cmd.Flag("watch.timeout", "Stop watching after this long (0: until every item has finished).").Default("0s").Duration(),
		noProgress:  cmd.Flag("no-progress", "No progress bar (it is also off when stderr is not a terminal).").Bool(),
		jsonSummary: cmd.Flag("summary.json", "Print the end-of-run summary as JSON.").Bool(),
		noMigrate:   cmd.Flag("no-migrate", "Do not apply migrations at start (the ClickHouse user needs no DDL rights; run `batchwatch migrate` first).").Bool(),
		serve:       cmd.Flag("serve", "Serve the submission API (POST /api/v1/runs, GET /api/v1/runs/{id}) instead of submitting once.").Bool(),
	}
	f.serveCfg = addServeFlags(cmd)
	f.sizing = addSizingFlags(cmd)
	f.aws = awsclient.AddFlags(cmd)
	f.ch = store.AddFlags(cmd)
	f.web = web.AddFlags(cmd, ":9824")
	return f
}

func addServeFlags(cmd *kingpin.CmdClause) serveFlags {
	s := serveFlags{
		insecure:  cmd.Flag("serve.insecure", "Serve the submission API on a non-loopback address without --web.config.file (no TLS, no authentication): only behind a proxy that authenticates.").Bool(),
		maxActive: cmd.Flag("serve.max-active-runs", "Runs in progress at most; beyond, POST answers 429.").Default("4").Int(),
		maxRuns:   cmd.Flag("serve.max-runs", "Runs remembered in memory at most (the oldest finished are forgotten; their journal stays in ClickHouse).").Default("1000").Int(),
		maxBody:   cmd.Flag("serve.max-body-bytes", "Largest request body (plan and items).").Default("8388608").Int64(),
	}
	cmd.Flag("serve.allow-queue", "Job queue (name or ARN) plans may use; repeatable or comma-separated; at least one with --serve.").StringsVar(&s.allow.Queues)
	cmd.Flag("serve.allow-job-definition", "Job definition (name: every revision) plans may use; repeatable or comma-separated; at least one with --serve.").StringsVar(&s.allow.JobDefinitions)
	cmd.Flag("serve.max-vcpus", "Largest vCPUs of a tier or fan-in job.").Default("16").Float64Var(&s.allow.MaxVCPUs)
	cmd.Flag("serve.max-memory-mib", "Largest memory (MiB) of a tier or fan-in job.").Default("65536").IntVar(&s.allow.MaxMemoryMiB)
	cmd.Flag("serve.max-gpus", "Largest GPUs of a tier.").Default("0").IntVar(&s.allow.MaxGPUs)
	cmd.Flag("serve.allow-tag", "Tag key plans may set beyond batchwatch's own (product, tier, run_id); repeatable or comma-separated.").StringsVar(&s.allow.Tags)
	return s
}

// check validates the flags before anything is opened.
func (f *submitFlags) check() error {
	if *f.arraySize < 2 || *f.arraySize > submitter.MaxArraySize {
		return fmt.Errorf("--array-size must be between 2 and %d", submitter.MaxArraySize)
	}
	if *f.ratePerSec <= 0 || *f.concurrency <= 0 {
		return errors.New("--rate and --concurrency must be positive")
	}
	if *f.escalate && *f.eventsQueue == "" {
		return errors.New("--escalate needs --events.queue-url, an SQS queue receiving the run's Batch job events")
	}
	if *f.serve {
		if err := submitter.CheckExposure(*f.web.WebListenAddresses, *f.web.WebConfigFile, *f.serveCfg.insecure); err != nil {
			return err
		}
		f.serveCfg.allow.SplitLists()
		return f.serveCfg.allow.Validate()
	}
	if *f.planFile == "" || *f.itemsFile == "" {
		return errors.New("--plan and --items are required (or --serve)")
	}
	return nil
}

func runSubmit(ctx context.Context, log *logrus.Entry, f *submitFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	var prep *submitter.Prepared
	var sizing *submitter.SizingResult
	if !*f.serve {
		var err error
		if prep, sizing, err = f.prepareOnce(ctx, log); err != nil || prep == nil {
			return err // nil, nil: a dry run, printed
		}
	}
	if submitter.Mode(*f.mode) == submitter.ModeArray && *f.manifestURL == "" {
		return errors.New("array mode needs --manifest-url (s3://bucket/prefix or file:///dir)")
	}
	reg := prometheus.NewRegistry()
	base, watch, st, err := f.deps(ctx, reg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if *f.serve {
		return serveSubmissions(ctx, f, base, watch, reg, log)
	}
	return f.submitOnce(ctx, base, watch, prep, sizing, log)
}

// prepareOnce reads and validates the plan and items of a one-shot run and
// sizes the items (--sizing); a dry run prints its plan and returns nils.
func (f *submitFlags) prepareOnce(ctx context.Context, log *logrus.Entry) (*submitter.Prepared, *submitter.SizingResult, error) {
	prep, err := prepare(*f.planFile, *f.itemsFile, *f.itemsFormat, *f.skipInvalid)
	var ve *submitter.ValidationError
	if errors.As(err, &ve) {
		for _, le := range ve.Errors {
			fmt.Fprintln(os.Stderr, le.Error())
		}
		if ve.Errors[0].File == *f.planFile {
			return nil, nil, fmt.Errorf("the plan has %d error(s); nothing submitted", len(ve.Errors))
		}
		return nil, nil, fmt.Errorf("%d invalid item line(s); nothing submitted (--skip-invalid submits the valid items)", len(ve.Errors))
	}
	if err != nil {
		return nil, nil, err
	}
	for _, le := range prep.Skipped {
		log.WithField("line", le.Error()).Warn("invalid line skipped")
	}
	sizing, err := f.sizing.apply(ctx, f.ch, prep, log)
	if err != nil {
		return nil, nil, err
	}
	if *f.dryRun {
		d := submitter.PlanDryRun(prep.Plan, prep.Assignments, submitter.Mode(*f.mode), *f.arraySize)
		d.Invalid = len(prep.Skipped)
		d.WriteText(os.Stdout)
		return nil, nil, nil
	}
	return prep, sizing, nil
}

// deps opens AWS clients, the manifest store and ClickHouse (migrated
// unless --no-migrate) and returns the options every run starts from.
func (f *submitFlags) deps(ctx context.Context, reg *prometheus.Registry, log *logrus.Entry) (submitter.Options, *submitter.WatchOptions, *store.Store, error) {
	var none submitter.Options
	cfg, err := awsclient.Load(ctx, f.aws)
	if err != nil {
		return none, nil, nil, err
	}
	awsMetrics := awsclient.NewMetrics(reg, "batchwatch_submitter")
	limiter := submitter.NewAdaptiveLimiter(*f.ratePerSec, nil)
	batchClient := f.aws.Batch(cfg, awsclient.Options{Metrics: awsMetrics, Limiter: limiter.Limiter()})
	var manifests submitter.ManifestStore
	if *f.manifestURL != "" {
		if manifests, err = submitter.OpenManifests(*f.manifestURL, f.aws.S3(cfg, awsclient.Options{Metrics: awsMetrics})); err != nil {
			return none, nil, nil, err
		}
	}
	st, err := store.Open(f.ch, log)
	if err != nil {
		return none, nil, nil, err
	}
	if !*f.noMigrate {
		if _, err := st.Migrate(ctx); err != nil {
			st.Close()
			return none, nil, nil, fmt.Errorf("migrate ClickHouse: %w", err)
		}
	}
	var watch *submitter.WatchOptions
	if *f.eventsQueue != "" {
		watch = &submitter.WatchOptions{
			Queue:    f.aws.SQS(cfg, awsclient.Options{Metrics: awsMetrics}),
			QueueURL: *f.eventsQueue, Escalate: *f.escalate, Timeout: *f.watchTime,
		}
	}
	base := submitter.Options{
		Mode: submitter.Mode(*f.mode), ArraySize: *f.arraySize, Concurrency: *f.concurrency,
		Batch: batchClient, Journal: submitter.NewClickHouseJournal(st), Manifests: manifests,
		Limiter: limiter, Metrics: submitter.NewMetrics(reg), Log: log, Now: time.Now,
		SettleTime: *f.settleTime,
	}
	return base, watch, st, nil
}

// submitOnce runs one submission with a progress bar and prints its summary.
func (f *submitFlags) submitOnce(ctx context.Context, base submitter.Options, watch *submitter.WatchOptions, prep *submitter.Prepared, sizing *submitter.SizingResult, log *logrus.Entry) error {
	id := *f.runID
	if id == "" {
		id = submitter.NewRunID(time.Now())
	}
	o := base
	o.Plan, o.RunID, o.DeferFanIn = prep.Plan, id, *f.escalate
	r, err := submitter.New(o)
	if err != nil {
		return err
	}
	log.WithField("run_id", id).WithField("items", len(prep.Assignments)).WithField("mode", *f.mode).Info("run starting (re-run with the same --run-id to resume)")

	progCtx, stopProgress := context.WithCancel(ctx)
	progDone := make(chan struct{})
	if !*f.noProgress && term.IsTerminal(int(os.Stderr.Fd())) {
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
	sum.Sizing = sizing
	return f.report(sum, prep.Skipped, id, runErr)
}

// report prints the summary of a one-shot run and turns failures into the
// command's error.
func (f *submitFlags) report(sum submitter.Summary, skipped []submitter.LineError, id string, runErr error) error {
	if *f.jsonSummary {
		if err := writeJSONSummary(os.Stdout, sum, skipped); err != nil {
			return err
		}
	} else {
		sum.WriteText(os.Stdout)
		if n := len(skipped); n > 0 {
			fmt.Fprintf(os.Stdout, "  invalid lines skipped: %d\n", n)
			for _, le := range skipped {
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
func serveSubmissions(ctx context.Context, f *submitFlags, base submitter.Options, watch *submitter.WatchOptions, reg *prometheus.Registry, log *logrus.Entry) error {
	srv := submitter.NewServer(ctx, submitter.ServeConfig{
		Base: base, Watch: watch, Log: log, Allow: f.serveCfg.allow,
		MaxActive: *f.serveCfg.maxActive, MaxRuns: *f.serveCfg.maxRuns, MaxBody: *f.serveCfg.maxBody,
	})
	ws, err := web.New(f.web, web.Options{
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
	log.WithField("addresses", ws.Addrs()).WithField("allowed_queues", f.serveCfg.allow.Queues).Info("submission service listening")
	err = ws.Serve(ctx)
	srv.Wait()
	return err
}
