package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// CopySource is a single-server batchwatch database to copy into a
// cluster, as the cluster's servers reach it (remote()).
type CopySource struct {
	Addr     string // host:port (native protocol)
	Database string
	User     string
	Password string
}

// CopiedTable is one table CopyFrom copied, with its rows in the source.
type CopiedTable struct {
	Table string
	Rows  uint64
}

// CopyFrom copies a single-server database, migrated to the same version,
// into this cluster (run Migrate first): every table of the migrations
// except those a materialized view writes, which the views fill again from
// the copy of their source. Rows go through the Distributed tables, so
// they are sharded by job and written with the insert quorum. Copying a
// table twice only adds duplicates that FINAL and the ReplacingMergeTree
// merges remove, except for plain MergeTree tables (rollups), which must be
// copied once or recomputed.
func (s *Store) CopyFrom(ctx context.Context, src CopySource) ([]CopiedTable, error) {
	if s.cluster == "" {
		return nil, fmt.Errorf("copy from %s: only in cluster mode (--clickhouse.cluster)", src.Addr)
	}
	if !identRE.MatchString(src.Database) {
		return nil, fmt.Errorf("copy from %s: database name %q: use letters, digits and underscores", src.Addr, src.Database)
	}
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	remote := func(table string) string {
		return fmt.Sprintf("remote(%s, %s, %s, %s, %s)", quote(src.Addr), src.Database, table, quote(src.User), quote(src.Password))
	}
	if err := s.checkSourceVersion(ctx, remote("schema_migrations"), migs); err != nil {
		return nil, fmt.Errorf("copy from %s: %w", src.Addr, err)
	}
	cr, err := newClusterRewriter(s.db, s.cluster, migs)
	if err != nil {
		return nil, err
	}
	var out []CopiedTable
	for _, t := range cr.order {
		if cr.viewTargets[t] {
			continue
		}
		var n uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+remote(t)).Scan(&n); err != nil {
			return out, fmt.Errorf("count %s.%s on %s: %w", src.Database, t, src.Addr, err)
		}
		if err := s.conn.Exec(ctx, "INSERT INTO "+s.Table(t)+" SELECT * FROM "+remote(t)); err != nil {
			return out, fmt.Errorf("copy %s from %s: %w", t, src.Addr, err)
		}
		s.log.WithField("table", t).WithField("rows", n).Info("table copied into the cluster")
		out = append(out, CopiedTable{Table: t, Rows: n})
	}
	return out, nil
}

// checkSourceVersion refuses a source whose applied migrations differ from
// this binary's.
func (s *Store) checkSourceVersion(ctx context.Context, table string, migs []Migration) error {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM "+table+" ORDER BY version")
	if err != nil {
		return fmt.Errorf("read source schema_migrations: %w", err)
	}
	defer rows.Close()
	var have, want []int
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("scan source schema_migrations: %w", err)
		}
		have = append(have, int(v))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read source schema_migrations: %w", err)
	}
	for _, m := range migs {
		want = append(want, m.Version)
	}
	if !slices.Equal(have, want) {
		return fmt.Errorf("source has migrations %v, this batchwatch %v: run batchwatch migrate on the source first", have, want)
	}
	return nil
}

// quote is a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
