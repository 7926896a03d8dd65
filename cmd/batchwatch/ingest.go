package main

import (
	"context"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/ingest"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/web"
)

// ingestFlags are the flags of the ingest command.
type ingestFlags struct {
	ch     *store.Config
	ret    *store.Retention
	aws    *awsclient.Config
	web    *web.Flags
	sqs    ingest.SQSConfig
	queues []string
	pipe   ingest.PipelineConfig
	replay []string

	reconcileEvery time.Duration
	reconcileOnce  bool
	reconcileQs    []string
	reconcileRate  float64
	reconcileRoles []string
	retentionEvery time.Duration
	maintainEvery  time.Duration
	noMigrate      bool
}

func addIngestFlags(cmd *kingpin.CmdClause) *ingestFlags {
	f := &ingestFlags{ch: store.AddFlags(cmd), ret: store.AddRetentionFlags(cmd), aws: awsclient.AddFlags(cmd), web: web.AddFlags(cmd, ":9848")}
	cmd.Flag("sqs.queue-url", "SQS queue to consume (fed by the EventBridge rule, raw or through SNS); repeatable.").StringsVar(&f.queues)
	cmd.Flag("sqs.receivers", "Concurrent long-polling receivers per queue.").Default("4").IntVar(&f.sqs.Receivers)
	cmd.Flag("sqs.wait-time", "Long-poll wait (at most 20s).").Default("20s").DurationVar(&f.sqs.WaitTime)
	cmd.Flag("sqs.visibility-timeout", "Visibility timeout requested on receive; extended while a message waits for its insert.").Default("60s").DurationVar(&f.sqs.Visibility)
	cmd.Flag("batch.size", "Flush a batch to ClickHouse at this many messages (0: 20000 from SQS and reconcile, 100000 for --replay). Each batch is one INSERT per table; larger batches mean fewer, larger parts (less ClickHouse work) and more memory.").Default("0").IntVar(&f.pipe.BatchSize)
	cmd.Flag("batch.flush-interval", "Flush a non-empty batch this long after its first message (0: 1s from SQS and reconcile, 10s for --replay, whose batches fill by size unless its input is slow).").Default("0").DurationVar(&f.pipe.FlushInterval)
	cmd.Flag("batch.parse-workers", "Parallel parsers (0: one per CPU).").Default("0").IntVar(&f.pipe.ParseWorkers)
	cmd.Flag("batch.writers", "Batches inserted concurrently (each holds one batch in memory).").Default("2").IntVar(&f.pipe.Writers)
	cmd.Flag("shutdown.drain-timeout", "On SIGTERM, how long to keep flushing before giving up (unflushed messages are redelivered).").Default("60s").DurationVar(&f.pipe.DrainTimeout)
	cmd.Flag("replay", "Replay events from a file, a directory or - (stdin) instead of consuming SQS, then exit; repeatable.").StringsVar(&f.replay)
	cmd.Flag("reconcile.interval", "Reconcile from the Batch API (ListJobs + DescribeJobs) this often; 0 disables.").Default("0s").DurationVar(&f.reconcileEvery)
	cmd.Flag("reconcile.once", "Run one reconcile pass and exit.").BoolVar(&f.reconcileOnce)
	cmd.Flag("reconcile.queue", "Job queue to reconcile (name or ARN); repeatable; default all queues.").StringsVar(&f.reconcileQs)
	cmd.Flag("reconcile.account-role", "ACCOUNT=ROLE_ARN (repeated): reconcile each account through its role (AssumeRole with these credentials), each at its own --reconcile.rate; default: the credentials' own account.").StringsVar(&f.reconcileRoles)
	cmd.Flag("reconcile.rate", "Batch API requests per second reconcile may use (the account shares about 50/s).").Default("2").Float64Var(&f.reconcileRate)
	cmd.Flag("retention.interval", "Enforce retention (drop old partitions) this often; 0 disables.").Default("1h").DurationVar(&f.retentionEvery)
	cmd.Flag("history.refresh-interval", "Recompute the daily rollups of the days whose jobs changed, and prune the active-jobs table, this often; 0 disables (run one ingest with it on).").Default("1m").DurationVar(&f.maintainEvery)
	cmd.Flag("no-migrate", "Do not apply migrations at start.").BoolVar(&f.noMigrate)
	return f
}

// check validates the flags and settles what they leave implicit.
func (f *ingestFlags) check() error {
	if err := f.ret.Validate(); err != nil {
		return err
	}
	for i, path := range f.replay {
		// kingpin turns a lone "-" (as in "--replay -") into an empty
		// value; no path is empty, so it meant stdin.
		if path == "" {
			f.replay[i] = "-"
		}
	}
	if len(f.replay) > 0 && len(f.queues) > 0 {
		return fmt.Errorf("--replay and --sqs.queue-url cannot be combined")
	}
	if len(f.replay) == 0 && len(f.queues) == 0 && f.reconcileEvery == 0 && !f.reconcileOnce {
		return fmt.Errorf("nothing to ingest: give --sqs.queue-url, --replay, --reconcile.interval or --reconcile.once")
	}
	f.pipe.Replay = len(f.replay) > 0
	return nil
}

func ingestCommand(app *kingpin.Application) *command {
	cmd := app.Command("ingest", "Stream AWS Batch events from SQS (or replay files, or reconcile from the Batch API) into ClickHouse.")
	f := addIngestFlags(cmd)
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			if err := f.check(); err != nil {
				return err
			}
			return runIngest(ctx, log.WithField("component", "ingest"), f)
		},
	}
}

// runIngest wires the store, the web server, the pipeline and its sources.
func runIngest(ctx context.Context, l *logrus.Entry, f *ingestFlags) error {
	st, err := store.Open(f.ch, l)
	if err != nil {
		return err
	}
	defer st.Close()
	if !f.noMigrate {
		if _, err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := ingest.NewMetrics(reg)
	awsMetrics := awsclient.NewMetrics(reg, "batchwatch_ingest")
	srv, err := web.New(f.web, web.Options{Name: "batchwatch ingest", Description: "AWS Batch events into ClickHouse", Gatherer: reg}, l)
	if err != nil {
		return err
	}
	webCtx, stopWeb := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWeb()
	webErr := make(chan error, 1)
	go func() { webErr <- srv.Serve(webCtx) }()
	defer func() {
		stopWeb()
		<-webErr
	}()
	ready := func() { srv.SetReady(true) }

	pipe := ingest.NewPipeline(ingest.StoreWriter{Store: st}, f.pipe, m, l, time.Now)
	if len(f.replay) > 0 {
		r := &ingest.Replay{Paths: f.replay, Stdin: os.Stdin, Log: l, Now: time.Now, ProgressEvery: 5 * time.Second, Drain: f.pipe.DrainTimeout}
		return ingest.RunReplay(ctx, pipe, r, ready)
	}
	rec, err := f.reconcile(ctx, l, m, awsMetrics)
	if err != nil {
		return err
	}
	if f.reconcileOnce {
		return ingest.RunReconcileOnce(ctx, pipe, rec, ready)
	}
	sources, err := f.sources(ctx, l, m, awsMetrics)
	if err != nil {
		return err
	}
	svc := &ingest.Service{
		Pipeline: pipe, Sources: sources, Reconcile: rec, ReconcileEvery: f.reconcileEvery,
		Store: st, Retention: *f.ret, RetentionEvery: f.retentionEvery, MaintainEvery: f.maintainEvery, DrainTimeout: f.pipe.DrainTimeout,
		Log: l, Now: time.Now, OnPipelineStart: ready,
	}
	l.WithField("queues", len(sources)).WithField("listen", *f.web.WebListenAddresses).Info("ingest started")
	return svc.Run(ctx)
}

// reconcile builds the reconcile pass, when one is asked for.
func (f *ingestFlags) reconcile(ctx context.Context, l *logrus.Entry, m *ingest.Metrics, awsMetrics *awsclient.Metrics) (*ingest.Reconcile, error) {
	if f.reconcileEvery <= 0 && !f.reconcileOnce {
		return nil, nil
	}
	awsConf, err := awsclient.Load(ctx, f.aws)
	if err != nil {
		return nil, err
	}
	client := f.aws.Batch(awsConf, awsclient.Options{Metrics: awsMetrics, Limiter: rate.NewLimiter(rate.Limit(f.reconcileRate), 1)})
	rec := &ingest.Reconcile{API: client, Queues: f.reconcileQs, Statuses: ingest.DefaultReconcileStatuses, Log: l, Metrics: m, Now: time.Now}
	if rec.Accounts, err = accountClients(f.aws, awsConf, f.reconcileRoles, f.reconcileRate, awsMetrics); err != nil {
		return nil, fmt.Errorf("--reconcile.account-role: %w", err)
	}
	return rec, nil
}

// accountClients builds one Batch client per --…account-role ACCOUNT=ROLE_ARN,
// each assuming its role with a limiter of its own; nil without roles.
func accountClients(awsCfg *awsclient.Config, awsConf aws.Config, roleFlags []string, perSecond float64, m *awsclient.Metrics) (map[string]ingest.BatchAPI, error) {
	if len(roleFlags) == 0 {
		return nil, nil
	}
	roles, err := awsclient.AccountRoles(roleFlags)
	if err != nil {
		return nil, err
	}
	out := map[string]ingest.BatchAPI{}
	for account, role := range roles {
		out[account] = awsCfg.Batch(awsCfg.AssumeRole(awsConf, role), awsclient.Options{Metrics: m, Limiter: rate.NewLimiter(rate.Limit(perSecond), 1)})
	}
	return out, nil
}

// sources builds one SQS source per queue.
func (f *ingestFlags) sources(ctx context.Context, l *logrus.Entry, m *ingest.Metrics, awsMetrics *awsclient.Metrics) ([]ingest.Source, error) {
	if len(f.queues) == 0 {
		return nil, nil
	}
	awsConf, err := awsclient.Load(ctx, f.aws)
	if err != nil {
		return nil, err
	}
	client := f.aws.SQS(awsConf, awsclient.Options{Metrics: awsMetrics})
	var sources []ingest.Source
	for _, u := range f.queues {
		cfg := f.sqs
		cfg.QueueURL = u
		sources = append(sources, ingest.NewSQSSource(client, cfg, m, l, time.Now))
	}
	return sources, nil
}
