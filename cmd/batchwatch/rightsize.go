package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/rightsize"
	"github.com/batchwatch/batchwatch/store"
)

type rightsizeFlags struct {
	since     time.Duration
	tierTag   string
	output    string
	cfg       rightsize.Config
	chCfg     *store.Config
	writeTo   io.Writer
	timeNowFn func() time.Time
}

func rightsizeCommand(app *kingpin.Application, stdout io.Writer) *command {
	cmd := app.Command("rightsize", "Recommend vCPU and memory requests per job definition and tier from what wrapped jobs used (the usage table; docs/usage.md), with the monthly saving.")
	f := &rightsizeFlags{chCfg: store.AddFlags(cmd), writeTo: stdout, timeNowFn: timeNow}
	cmd.Flag("since", "History to read: attempts started within this long before now.").Default("720h").DurationVar(&f.since)
	cmd.Flag("headroom", "Headroom above the p95 of what was used (0.2: 20 %).").Default("0.2").Float64Var(&f.cfg.Headroom)
	cmd.Flag("min-attempts", "Attempts a job definition and tier need before they get a recommendation.").Default("10").IntVar(&f.cfg.MinAttempts)
	cmd.Flag("tier-tag", "Tag whose value is the job's tier (the submitter tags its jobs with tier).").Default("tier").StringVar(&f.tierTag)
	cmd.Flag("price.vcpu-hour", "Price of a vCPU-hour (default: Fargate, us-east-1, Linux/x86).").Default("0.04048").Float64Var(&f.cfg.PriceVCPUHour)
	cmd.Flag("price.gib-hour", "Price of a GiB-hour of memory (default: Fargate, us-east-1).").Default("0.004445").Float64Var(&f.cfg.PriceGiBHour)
	cmd.Flag("output", "table or json.").Default("table").EnumVar(&f.output, "table", "json")
	return &command{clause: cmd, run: f.run}
}

func (f *rightsizeFlags) run(ctx context.Context, log *logrus.Logger) error {
	if f.since <= 0 {
		return fmt.Errorf("--since %s: must be positive", f.since)
	}
	st, err := store.Open(f.chCfg, log.WithField("component", "rightsize"))
	if err != nil {
		return err
	}
	defer st.Close()
	now := f.timeNowFn()
	hist, err := rightsize.Load(ctx, st.Conn(), st.Table("attempts"), st.Table("usage"), f.tierTag, now.Add(-f.since))
	if err != nil {
		return err
	}
	f.cfg.WindowDays = rightsize.WindowDays(hist, now, f.since)
	rows, err := rightsize.Analyze(hist, f.cfg)
	if err != nil {
		return err
	}
	if f.output == "json" {
		return rightsize.WriteJSON(f.writeTo, rows)
	}
	return rightsize.WriteTable(f.writeTo, rows)
}
