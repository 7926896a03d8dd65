package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/batchwatch/batchwatch/store"
)

// addCopyFromFlags registers migrate's --copy-from.* flags.
func addCopyFromFlags(cmd *kingpin.CmdClause) *store.CopySource {
	c := &store.CopySource{}
	cmd.Flag("copy-from", "In cluster mode, then copy a single-server batchwatch database (host:port of its native protocol, as the cluster's servers reach it; migrated to this version) into the cluster. See docs/cluster.md.").StringVar(&c.Addr)
	cmd.Flag("copy-from.database", "Database to copy from.").Default("batchwatch").StringVar(&c.Database)
	cmd.Flag("copy-from.user", "ClickHouse user on the server copied from.").Default("default").StringVar(&c.User)
	cmd.Flag("copy-from.password", "Its password.").Envar("COPY_FROM_PASSWORD").StringVar(&c.Password)
	return c
}

// runCopyFrom copies the source database into the cluster and prints what
// it copied.
func runCopyFrom(ctx context.Context, st *store.Store, src store.CopySource) error {
	copied, err := st.CopyFrom(ctx, src)
	for _, c := range copied {
		fmt.Printf("copied %s: %d rows\n", c.Table, c.Rows)
	}
	return err
}
