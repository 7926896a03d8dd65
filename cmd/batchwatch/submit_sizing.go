package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/submitter"
)

// sizingFlags are submit's --sizing flags.
type sizingFlags struct {
	mode     string
	headroom float64
	since    time.Duration
}

func addSizingFlags(cmd *kingpin.CmdClause) *sizingFlags {
	f := &sizingFlags{}
	cmd.Flag("sizing", "ranges: each item's tier from the plan's size ranges. history: from the measured peak memory of the key's earlier runs (jobs wrapped in batchwatch-run), else from the size→peak relation fitted on the product's history, else the size ranges; reads ClickHouse, also in --dry-run.").
		Default("ranges").EnumVar(&f.mode, "ranges", "history")
	cmd.Flag("sizing.headroom", "With --sizing history: headroom above the measured or fitted peak.").Default("0.2").Float64Var(&f.headroom)
	cmd.Flag("sizing.since", "With --sizing history: history to read.").Default("720h").DurationVar(&f.since)
	return f
}

// apply resizes prep's items by history (nil result for ranges).
func (f *sizingFlags) apply(ctx context.Context, chCfg *store.Config, prep *submitter.Prepared, log *logrus.Entry) (*submitter.SizingResult, error) {
	if f.mode != "history" {
		return nil, nil
	}
	if f.headroom < 0 || f.since <= 0 {
		return nil, fmt.Errorf("--sizing.headroom must not be negative and --sizing.since must be positive")
	}
	st, err := store.Open(chCfg, log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	h, err := submitter.LoadSizingHistory(ctx, st.Conn(), st.Table("submissions"), st.Table("usage"), prep.Plan.Product, time.Now().Add(-f.since))
	if err != nil {
		return nil, err
	}
	res, err := submitter.ResizeByHistory(prep.Plan, prep.Assignments, h, f.headroom)
	if err != nil {
		return nil, err
	}
	log.WithField("changed", res.Changed).WithField("saving_usd", res.SavingUSD).Info("items sized by history")
	res.WriteText(os.Stderr)
	return &res, nil
}
