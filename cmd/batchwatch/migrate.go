package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/store"
)

func migrateCommand(app *kingpin.Application) *command {
	cmd := app.Command("migrate", "Create or upgrade batchwatch's ClickHouse database (idempotent; ingest also runs it at start unless --no-migrate).")
	chCfg := store.AddFlags(cmd)
	copyFrom := addCopyFromFlags(cmd)
	ret := store.AddRetentionFlags(cmd)
	enforce := cmd.Flag("retention.enforce", "Also drop partitions older than the retention now.").Bool()
	every := cmd.Flag("retention.every", "With --retention.enforce, keep running and enforce retention this often, and refresh the history rollups and prune the active-jobs table with it (the compose stack's retention service: partition drops and replacements run with the migration user's rights, not ingest's).").Default("0s").Duration()
	backfill := cmd.Flag("backfill", "Then copy the existing jobs and attempts into the lookup, daily and active-jobs tables (migrations 010-012), one month at a time with progress (resumable: run it again after an interruption; ingest may keep running), and compute every daily rollup.").Bool()
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "migrate")
			if *every < 0 || (*every > 0 && !*enforce) {
				return fmt.Errorf("--retention.every needs --retention.enforce and a positive duration")
			}
			if *enforce {
				if err := ret.Validate(); err != nil {
					return err
				}
			}
			st, err := store.Open(chCfg, l)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.ServerVersion(ctx)
			if err != nil {
				return err
			}
			applied, err := st.Migrate(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("ClickHouse %s, database %s: %d migrations applied %v\n", v, st.Database(), len(applied), applied)
			if copyFrom.Addr != "" {
				if err := runCopyFrom(ctx, st, *copyFrom); err != nil {
					return err
				}
			}
			if *backfill {
				if err := runBackfill(ctx, st, l); err != nil {
					return err
				}
			}
			if !*enforce {
				return nil
			}
			return enforceRetention(ctx, st, *ret, *every, l)
		},
	}
}

// enforceRetention drops old partitions once, or every interval until ctx
// ends; a failed pass is logged and retried at the next.
func enforceRetention(ctx context.Context, st *store.Store, ret store.Retention, every time.Duration, l *logrus.Entry) error {
	for {
		dropped, err := st.EnforceRetention(ctx, ret, timeNow())
		if every == 0 {
			if err != nil {
				return err
			}
			fmt.Printf("retention dropped %d partitions\n", len(dropped))
			return nil
		}
		if err != nil && ctx.Err() == nil {
			l.WithError(err).Warn("retention failed")
		} else {
			l.WithField("dropped", len(dropped)).Info("retention enforced")
		}
		if err := st.Maintain(ctx); err != nil && ctx.Err() == nil {
			l.WithError(err).Warn("history maintenance failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// runBackfill fills the new tables from the existing history and computes
// the rollups, printing progress.
func runBackfill(ctx context.Context, st *store.Store, l *logrus.Entry) error {
	start := timeNow()
	err := st.Backfill(ctx, func(p store.BackfillProgress) {
		if p.Skipped {
			fmt.Printf("backfill %s %s: %d/%d already done\n", p.Source, p.Partition, p.Done, p.Total)
			return
		}
		fmt.Printf("backfill %s %s: %d/%d, %d rows in %s\n", p.Source, p.Partition, p.Done, p.Total, p.Rows, p.Took.Round(time.Millisecond))
	})
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	n, err := st.RefreshRollups(ctx)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	fmt.Printf("backfill done in %s: %d rollup partitions computed\n", timeNow().Sub(start).Round(time.Second), n)
	l.WithField("rollup_partitions", n).Info("backfill done")
	return nil
}
