package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/store"
)

func migrateCommand(app *kingpin.Application) *command {
	cmd := app.Command("migrate", "Create or upgrade batchwatch's ClickHouse database (idempotent; ingest also runs it at start).")
	chCfg := store.AddFlags(cmd)
	copyFrom := addCopyFromFlags(cmd)
	ret := store.AddRetentionFlags(cmd)
	enforce := cmd.Flag("retention.enforce", "Also drop partitions older than the retention now.").Bool()
	return &command{
		clause: cmd,
		run: func(ctx context.Context, log *logrus.Logger) error {
			l := log.WithField("component", "migrate")
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
			if *enforce {
				if err := ret.Validate(); err != nil {
					return err
				}
				dropped, err := st.EnforceRetention(ctx, *ret, timeNow())
				if err != nil {
					return err
				}
				fmt.Printf("retention dropped %d partitions\n", len(dropped))
			}
			if copyFrom.Addr != "" {
				return runCopyFrom(ctx, st, *copyFrom)
			}
			return nil
		},
	}
}
