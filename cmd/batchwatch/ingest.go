package main

import (
	"context"
	"fmt"
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

func ingestCommand(app *kingpin.Application) *command {
	cmd := app.Command("ingest", "Stream AWS Batch events from SQS (or replay files, or reconcile from the Batch API) into ClickHouse.")
	chCfg := store.AddFlags(cmd)
	ret := store.AddRetentionFlags(cmd)
	awsCfg := awsclient.AddFlags(cmd)
	webCfg := web.AddFlags(cmd, ":9848")
	var (
		queueURLs      = cmd.Flag("sqs.queue-url", "SQS queue to consume (fed by the EventBridge rule, raw or through SNS); repeatable.").Strings()
		receivers      = cmd.Flag("sqs.receivers", "Concurrent long-polling receivers per queue.").Default("4").Int()
		waitTime       = cmd.Flag("sqs.wait-time", "Long-poll wait (at most 20s).").Default("20s").Duration()
		visibility     = cmd.Flag("sqs.visibility-timeout", "Visibility timeout requested on receive; extended while a message waits for its insert.").Default("60s").Duration()
		batchSize      = cmd.Flag("batch.size", "Flush a batch to ClickHouse at this many messages (0: 20000 from SQS and reconcile, 100000 for --replay). Each batch is one INSERT per table; larger batches mean fewer, larger parts (less ClickHouse work) and more memory.").Default("0").Int()
		flushInterval  = cmd.Flag("batch.flush-interval", "Flush a non-empty batch this long after its first message (0: 1s from SQS and reconcile, 10s for --replay, whose batches fill by size unless its input is slow).").Default("0").Duration()
		parseWorkers   = cmd.Flag("batch.parse-workers", "Parallel parsers (0: one per CPU).").Default("0").Int()
		writers        = cmd.Flag("batch.writers", "Batches inserted concurrently (each holds one batch in memory).").Default("2").Int()
		drainTimeout   = cmd.Flag("shutdown.drain-timeout", "On SIGTERM, how long to keep flushing before giving up (unflushed messages are redelivered).").Default("60s").Duration()
		replay         = cmd.Flag("replay", "Replay events from a file, a directory or - (stdin) instead of consuming SQS, then exit; repeatable.").Strings()
		reconcileEvery = cmd.Flag("reconcile.interval", "Reconcile from the Batch API (ListJobs + DescribeJobs) this often; 0 disables.").Default("0s").Duration()
		reconcileOnce  = cmd.Flag("reconcile.once", "Run one reconcile pass and exit.").Bool()
		reconcileQs    = cmd.Flag("reconcile.queue", "Job queue to reconcile (name or ARN); repeatable; default all queues.").Strings()
		reconcileRate  = cmd.Flag("reconcile.rate", "Batch API requests per second reconcile may use (the account shares about 50/s).").Default("2").Float64()
		retentionEvery = cmd.Flag("retention.interval", "Enforce retention (drop old partitions) this often; 0 disables.").Default("1h").Duration()
		maintainEvery  = cmd.Flag("history.refresh-interval", "Recompute the daily rollups of the days whose jobs changed, and prune the active-jobs table, this often; 0 disables (run one ingest with it on).").Default("1m").Duration()
		noMigrate      = cmd.Flag("no-migrate", "Do not apply migrations at start.").Bool()
	)
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "ingest")
			if err := ret.Validate(); err != nil {
				return err
			}
			for i, path := range *replay {
				// kingpin turns a lone "-" (as in "--replay -") into an
				// empty value; no path is empty, so it meant stdin.
				if path == "" {
					(*replay)[i] = "-"
				}
			}
			if len(*replay) > 0 && len(*queueURLs) > 0 {
				return fmt.Errorf("--replay and --sqs.queue-url cannot be combined")
			}
			if len(*replay) == 0 && len(*queueURLs) == 0 && *reconcileEvery == 0 && !*reconcileOnce {
				return fmt.Errorf("nothing to ingest: give --sqs.queue-url, --replay, --reconcile.interval or --reconcile.once")
			}
			st, err := store.Open(chCfg, l)
			if err != nil {
				return err
			}
			defer st.Close()
			if !*noMigrate {
				if _, err := st.Migrate(ctx); err != nil {
					return err
				}
			}

			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			m := ingest.NewMetrics(reg)
			awsMetrics := awsclient.NewMetrics(reg, "batchwatch_ingest")
			srv, err := web.New(webCfg, web.Options{Name: "batchwatch ingest", Description: "AWS Batch events into ClickHouse", Gatherer: reg}, l)
			if err != nil {
				return err
			}
			webCtx, stopWeb := context.WithCancel(context.WithoutCancel(ctx))
			defer stopWeb()
			webErr := make(chan error, 1)
			go func() { webErr <- srv.Serve(webCtx) }()

			if *batchSize <= 0 {
				*batchSize = 20000
				if len(*replay) > 0 {
					*batchSize = 100000
				}
			}
			if *flushInterval <= 0 {
				*flushInterval = time.Second
				if len(*replay) > 0 {
					// Files fill a batch by size long before this; a slow
					// stdin must not hold an INSERT open for minutes.
					*flushInterval = 10 * time.Second
				}
			}
			pipe := ingest.NewPipeline(ingest.StoreWriter{Store: st}, ingest.PipelineConfig{
				BatchSize: *batchSize, FlushInterval: *flushInterval, ParseWorkers: *parseWorkers, Writers: *writers, DrainTimeout: *drainTimeout,
			}, m, l, time.Now)

			if len(*replay) > 0 {
				return runReplay(ctx, l, pipe, *replay, srv, *drainTimeout)
			}

			var rec *ingest.Reconcile
			if *reconcileEvery > 0 || *reconcileOnce {
				awsConf, err := awsclient.Load(ctx, awsCfg)
				if err != nil {
					return err
				}
				client := awsCfg.Batch(awsConf, awsclient.Options{Metrics: awsMetrics, Limiter: rate.NewLimiter(rate.Limit(*reconcileRate), 1)})
				rec = &ingest.Reconcile{API: client, Queues: *reconcileQs, Statuses: ingest.DefaultReconcileStatuses, Log: l, Metrics: m, Now: time.Now}
			}
			if *reconcileOnce {
				return runReconcileOnce(ctx, l, pipe, rec, srv)
			}

			var sources []ingest.Source
			if len(*queueURLs) > 0 {
				awsConf, err := awsclient.Load(ctx, awsCfg)
				if err != nil {
					return err
				}
				client := awsCfg.SQS(awsConf, awsclient.Options{Metrics: awsMetrics})
				for _, u := range *queueURLs {
					sources = append(sources, ingest.NewSQSSource(client, ingest.SQSConfig{
						QueueURL: u, Receivers: *receivers, WaitTime: *waitTime, Visibility: *visibility,
					}, m, l, time.Now))
				}
			}
			svc := &ingest.Service{
				Pipeline: pipe, Sources: sources, Reconcile: rec, ReconcileEvery: *reconcileEvery,
				Store: st, Retention: *ret, RetentionEvery: *retentionEvery, MaintainEvery: *maintainEvery, DrainTimeout: *drainTimeout,
				Log: l, Now: time.Now, OnPipelineStart: func() { srv.SetReady(true) },
			}
			l.WithField("queues", len(sources)).WithField("listen", *webCfg.WebListenAddresses).Info("ingest started")
			err = svc.Run(ctx)
			stopWeb()
			<-webErr
			return err
		},
	}
}

func runReplay(ctx context.Context, l *logrus.Entry, pipe *ingest.Pipeline, paths []string, srv *web.Server, drain time.Duration) error {
	// The pipeline outlives a signal so what was read is flushed; the
	// replay cuts it off after the drain timeout.
	pipeCtx, cancelPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPipe()
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- pipe.Run(pipeCtx) }()
	srv.SetReady(true)
	r := &ingest.Replay{Paths: paths, Stdin: os.Stdin, Log: l, Now: time.Now, ProgressEvery: 5 * time.Second, Drain: drain}
	st, err := r.Run(ctx, pipe)
	if ctx.Err() != nil {
		cancelPipe()
	}
	if perr := <-pipeErr; err == nil {
		err = perr
	}
	rate := 0.0
	if st.Elapsed > 0 {
		rate = float64(st.Written) / st.Elapsed.Seconds()
	}
	l.WithField("files", st.Files).WithField("messages", st.Messages).WithField("written", st.Written).
		WithField("not_written", st.Failed).WithField("seconds", fmt.Sprintf("%.2f", st.Elapsed.Seconds())).
		WithField("messages_per_second", int64(rate)).Info("replay done")
	if err != nil {
		return err
	}
	if st.Failed > 0 {
		return fmt.Errorf("replay: %d messages were not written", st.Failed)
	}
	return nil
}

func runReconcileOnce(ctx context.Context, l *logrus.Entry, pipe *ingest.Pipeline, rec *ingest.Reconcile, srv *web.Server) error {
	pipeErr := make(chan error, 1)
	go func() { pipeErr <- pipe.Run(context.WithoutCancel(ctx)) }()
	srv.SetReady(true)
	n, err := rec.Run(ctx, pipe)
	pipe.Close()
	if perr := <-pipeErr; err == nil {
		err = perr
	}
	l.WithField("jobs", n).Info("reconcile done")
	return err
}
