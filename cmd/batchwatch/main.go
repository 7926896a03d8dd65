// Command batchwatch is the observability stack for AWS Batch: it ingests job
// events into ClickHouse, exports Prometheus metrics, submits tiered builds,
// generates dashboards and simulates AWS Batch for demos and load tests.
//
// main only parses flags, builds dependencies and runs the chosen command; each
// command lives in its own file.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/buildinfo"
	"github.com/batchwatch/batchwatch/logging"
)

// command is one subcommand: its kingpin clause and the function that runs it
// once flags are parsed. run gets a context cancelled on SIGINT/SIGTERM.
type command struct {
	clause *kingpin.CmdClause
	run    func(ctx context.Context, log *logrus.Logger) error
}

func main() {
	os.Exit(runMain(os.Args[1:]))
}

// newApp builds the command line: the application, its commands and the
// logging flags.
func newApp() (*kingpin.Application, []*command, *logging.Config) {
	app := kingpin.New("batchwatch", "Observability for AWS Batch: job history in ClickHouse, Prometheus metrics, tiered submission.")
	app.HelpFlag.Short('h')
	app.Version(buildinfo.Read().String())
	logCfg := logging.AddFlags(app)
	commands := []*command{
		ingestCommand(app),
		migrateCommand(app),
		inspectCommand(app),
		simCommand(app),
		exporterCommand(app),
		submitCommand(app),
		dashboardsCommand(app),
		pagerCommand(app),
		rightsizeCommand(app, os.Stdout),
		healthcheckCommand(app),
	}
	return app, commands, logCfg
}

func runMain(args []string) int {
	app, commands, logCfg := newApp()
	selected, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "batchwatch: %v\n", err)
		return 2
	}
	log, err := logging.New(logCfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "batchwatch: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	for _, c := range commands {
		if c.clause.FullCommand() == selected {
			if err := c.run(ctx, log); err != nil {
				log.WithError(err).WithField("command", selected).Error("command failed")
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "batchwatch: unknown command %q\n", selected)
	return 2
}
