package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order. File names are
// NNN_name.sql; statements are separated by a ';' at the end of a line.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// statements splits a migration into statements, dropping comments.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate creates the database and applies every migration not yet recorded
// in schema_migrations. Every statement is idempotent (IF NOT EXISTS), so a
// migration interrupted half-way, or run by two processes at once, is safe
// to apply again. It returns the versions it applied. In cluster mode the
// statements are rewritten for the cluster (see cluster.go).
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	if err := s.createBase(ctx); err != nil {
		return nil, err
	}
	done, err := s.AppliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	var cr *clusterRewriter
	if s.cluster != "" {
		if cr, err = newClusterRewriter(s.db, s.cluster, migs); err != nil {
			return nil, fmt.Errorf("cluster form of the migrations: %w", err)
		}
	}
	var applied []int
	for _, m := range migs {
		if done[m.Version] {
			continue
		}
		if err := s.apply(ctx, m, cr); err != nil {
			return applied, err
		}
		if err := s.conn.Exec(ctx, "INSERT INTO "+s.Table("schema_migrations")+" (version, name, applied_at) SELECT toUInt32(?), ?, now()", m.Version, m.Name); err != nil {
			return applied, fmt.Errorf("record migration %03d: %w", m.Version, err)
		}
		s.log.WithField("version", m.Version).WithField("name", m.Name).Info("migration applied")
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// createBase creates the database and schema_migrations. In cluster mode
// schema_migrations is replicated to every server (one ZooKeeper path for
// all shards), so any server knows the applied versions.
func (s *Store) createBase(ctx context.Context) error {
	if err := s.ddl(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db+s.OnCluster()); err != nil {
		return fmt.Errorf("create database %s: %w", s.db, err)
	}
	engine := "ReplacingMergeTree"
	if s.cluster != "" {
		engine = "ReplicatedReplacingMergeTree('/clickhouse/tables/all/" + s.db + "/schema_migrations', '{shard}_{replica}')"
	}
	err := s.ddl(ctx, `CREATE TABLE IF NOT EXISTS `+s.Table("schema_migrations")+s.OnCluster()+` (
		version UInt32, name String, applied_at DateTime('UTC')
	) ENGINE = `+engine+` ORDER BY version`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}

// apply runs one migration's statements, in their cluster form when cr is
// set.
func (s *Store) apply(ctx context.Context, m Migration, cr *clusterRewriter) error {
	sql := strings.ReplaceAll(m.SQL, "${database}", s.db)
	var stmts []string
	for i, stmt := range statements(sql) {
		stmt, skip, err := s.addColumnOnce(ctx, stmt)
		if err != nil {
			return fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
		}
		if skip {
			continue
		}
		if cr == nil {
			stmts = append(stmts, stmt)
			continue
		}
		out, err := cr.rewrite(stmt)
		if err != nil {
			return fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
		}
		stmts = append(stmts, out...)
	}
	for i, stmt := range stmts {
		if err := s.ddl(ctx, stmt); err != nil {
			return fmt.Errorf("migration %03d_%s statement %d: %w", m.Version, m.Name, i+1, err)
		}
	}
	return nil
}

// addColumnRE matches ALTER TABLE db.t ADD COLUMN IF NOT EXISTS name …,
// which ClickHouse 18.16 does not parse.
var addColumnRE = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(\w+)\.(\w+)\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+(.+)$`)

// addColumnOnce turns ADD COLUMN IF NOT EXISTS into what every server
// accepts: a look into system.columns, then a plain ADD COLUMN when the
// column is missing (skip when it is there). Such a statement adds one
// column. Other statements come back as they are.
func (s *Store) addColumnOnce(ctx context.Context, stmt string) (string, bool, error) {
	m := addColumnRE.FindStringSubmatch(stmt)
	if m == nil {
		return stmt, false, nil
	}
	db, table, column, def := m[1], m[2], m[3], m[4]
	if strings.Contains(def, ",") && strings.Contains(strings.ToUpper(def), "ADD COLUMN") {
		return "", false, fmt.Errorf("add column %s.%s: ADD COLUMN IF NOT EXISTS takes one column per statement", table, column)
	}
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		db, table, column).Scan(&n)
	if err != nil {
		return "", false, fmt.Errorf("look up column %s.%s: %w", table, column, err)
	}
	if n > 0 {
		return "", true, nil
	}
	return "ALTER TABLE " + db + "." + table + " ADD COLUMN " + column + " " + def, false, nil
}

// ddl runs one idempotent migration statement, again after a transient
// error (a connection that broke: distributed DDL waits on every server).
func (s *Store) ddl(ctx context.Context, stmt string) error {
	return RetryTransient(ctx, 5, func() error { return s.conn.Exec(ctx, stmt) })
}

// AppliedMigrations returns the recorded versions.
func (s *Store) AppliedMigrations(ctx context.Context) (map[int]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM "+s.Table("schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("scan schema_migrations: %w", err)
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}
