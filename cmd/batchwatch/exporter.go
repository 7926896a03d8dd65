package main

import (
	"context"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/exporter"
	"github.com/batchwatch/batchwatch/web"
)

func exporterCommand(app *kingpin.Application) *command {
	cmd := app.Command("exporter", "Prometheus exporter of AWS Batch: queue depth, wait and run times, retries, failures, capacity and cost (list-then-watch).")
	cfg, file := exporter.AddFlags(cmd)
	awsCfg := awsclient.AddFlags(cmd)
	webCfg := web.AddFlags(cmd, ":9847")
	noSelf := cmd.Flag("web.disable-exporter-metrics", "Leave out the exporter's own Go and process metrics (go_*, process_*).").Bool()
	roles := cmd.Flag("exporter.account-role", "ACCOUNT=ROLE_ARN (repeated): watch several accounts of this region, each through its role (AssumeRole with these credentials), on the one --exporter.sqs-queue-url of a central event bus; each account's metrics carry its account label and it has its own --exporter.batch-api-rate budget.").Strings()
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "exporter")
			fc, err := exporter.LoadFileConfig(*file)
			if err != nil {
				return err
			}
			if err := cfg.Prepare(fc); err != nil {
				return err
			}
			awsConf, err := awsclient.Load(ctx, awsCfg)
			if err != nil {
				return err
			}

			reg := prometheus.NewRegistry()
			gatherers := prometheus.Gatherers{reg}
			if !*noSelf {
				self := prometheus.NewRegistry()
				self.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
				gatherers = append(gatherers, self)
			}
			awsMetrics := awsclient.NewMetrics(reg, "batchwatch_exporter")
			// One limiter for every Batch call: the account's ~50/s are
			// shared with the submitters.
			burst := int(math.Max(1, math.Ceil(cfg.BatchAPIRate)))
			batchClient := awsCfg.Batch(awsConf, awsclient.Options{Metrics: awsMetrics, Limiter: rate.NewLimiter(rate.Limit(cfg.BatchAPIRate), burst)})
			deps := exporter.Deps{Batch: batchClient, Registry: reg, Logger: l}
			if len(cfg.SQSAttributesQueues)+len(cfg.SQSAttributesDeadLetterQueues) > 0 {
				deps.QueueAttributes = awsCfg.SQS(awsConf, awsclient.Options{Metrics: awsMetrics})
			}
			if cfg.SQSQueueURL != "" {
				deps.SQS = awsCfg.SQS(awsConf, awsclient.Options{Metrics: awsMetrics})
			}
			if cfg.CostRefreshInterval > 0 {
				deps.CostExplorer = awsCfg.CostExplorer(awsConf, awsclient.Options{Metrics: awsMetrics})
			}

			srv, err := web.New(webCfg, web.Options{
				Name:        "batchwatch exporter",
				Description: "Prometheus exporter for AWS Batch: exact queue depth (list-then-watch), job times, retries, failures, capacity and cost",
				Gatherer:    gatherers,
			}, l)
			if err != nil {
				return err
			}
			deps.OnReady = func() { srv.SetReady(true) }
			x, err := newExporter(cfg, deps, awsCfg, awsConf, *roles, awsMetrics)
			if err != nil {
				return err
			}
			if err := srv.Listen(); err != nil {
				return err
			}
			l.WithField("listen", srv.Addrs()).WithField("queues", cfg.Queues).
				WithField("sqs_queue_url", cfg.SQSQueueURL).WithField("batch_api_rate", cfg.BatchAPIRate).Info("exporter started")

			errc := make(chan error, 2)
			go func() { errc <- srv.Serve(ctx) }()
			go func() { errc <- x.Run(ctx) }()
			first := <-errc
			<-errc
			return first
		},
	}
}

// newExporter builds one exporter, or with --exporter.account-role a group
// of one per account, each reaching its account's Batch API through its
// role with a rate budget of its own.
func newExporter(cfg *exporter.Config, deps exporter.Deps, awsCfg *awsclient.Config, awsConf aws.Config,
	roleFlags []string, m *awsclient.Metrics) (interface{ Run(context.Context) error }, error) {
	if len(roleFlags) == 0 {
		return exporter.New(cfg, deps)
	}
	roles, err := awsclient.AccountRoles(roleFlags)
	if err != nil {
		return nil, fmt.Errorf("--exporter.account-role: %w", err)
	}
	burst := int(math.Max(1, math.Ceil(cfg.BatchAPIRate)))
	clients := map[string]exporter.BatchAPI{}
	for account, role := range roles {
		clients[account] = awsCfg.Batch(awsCfg.AssumeRole(awsConf, role),
			awsclient.Options{Metrics: m, Limiter: rate.NewLimiter(rate.Limit(cfg.BatchAPIRate), burst)})
	}
	return exporter.NewGroup(cfg, deps, clients)
}
