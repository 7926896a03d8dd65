package store

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode (--clickhouse.cluster NAME). Migrations are written for one
// server; Migrate rewrites every statement for a cluster, the same way for
// present and future migrations:
//
//   - CREATE TABLE db.T (...) ENGINE = XMergeTree(args) ... becomes
//     db.T_local ON CLUSTER, ENGINE = ReplicatedXMergeTree(
//     '/clickhouse/tables/{shard}/db/T', '{replica}', args), plus
//     db.T ON CLUSTER AS db.T_local ENGINE = Distributed(cluster, db,
//     T_local, key). Queries and inserts keep using db.T.
//   - The sharding key keeps all rows of a job on one shard when job_id is
//     part of the table's ORDER BY: cityHash64 of the job id up to its
//     first ':' or '#', so array children ("parent:index") and
//     multi-node jobs ("parent#node") go with their parent. Otherwise it is
//     cityHash64 of the ORDER BY columns: every version of a row has the
//     same sorting key, so it lands on the same shard and FINAL stays exact.
//     (A job_id outside the ORDER BY, as in submissions, may change between
//     versions of a row, so it cannot shard.)
//   - CREATE TABLE db.T AS db.S (a copy) gets S's engine, with its own
//     replication path, and its own Distributed table.
//   - CREATE MATERIALIZED VIEW db.V TO db.T AS SELECT ... FROM db.S runs ON
//     CLUSTER and reads and writes the local tables: a view fires on the
//     replica that receives an insert into S_local and writes T_local on
//     the same shard, which replicates it. So S and T must shard alike
//     (both by job): Migrate refuses a view whose tables shard differently.
//   - ALTER TABLE db.T ... runs ON CLUSTER on T_local; when it changes
//     columns the Distributed db.T is dropped and made again over T_local
//     (18.16 refuses ALTER ON CLUSTER of a Distributed table over
//     replicated shards); DROP TABLE drops both.
//   - Any other statement is refused in cluster mode, so a migration that
//     needs thought fails the cluster test instead of doing half a job.
//
// schema_migrations is replicated to every server (one ZooKeeper path for
// all shards) and not distributed.

// jobShardKey is the sharding expression of tables whose ORDER BY has job_id.
const jobShardKey = "cityHash64(extract(job_id, '^[^:#]*'))"

// tableDef is what cluster mode needs to know of a migration's table.
type tableDef struct {
	columns string // "(...)" column list, or "" for a copy
	engine  string // e.g. ReplacingMergeTree
	args    string // engine arguments without parentheses, may be ""
	rest    string // PARTITION BY, ORDER BY, SETTINGS ...
	key     string // sharding expression
}

// clusterRewriter rewrites migration statements for a cluster. Its catalog
// holds every table of every migration (applied or not), so a later
// migration can copy or watch an earlier table.
type clusterRewriter struct {
	db, cluster string
	tables      map[string]tableDef
	order       []string        // tables in migration order
	viewTargets map[string]bool // tables a materialized view writes
}

var (
	createTableRE = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s*(.*)$`)
	copyTableRE   = regexp.MustCompile(`(?is)^AS\s+(\w+)\.(\w+)\s*$`)
	engineRE      = regexp.MustCompile(`(?is)^ENGINE\s*=\s*(\w+)\s*(.*)$`)
	createViewRE  = regexp.MustCompile(`(?is)^CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)\s+TO\s+(\w+)\.(\w+)\s+(.*)$`)
	alterRE       = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(.*)$`)
	alterColumnRE = regexp.MustCompile(`(?is)^(ADD|DROP|MODIFY|RENAME)\s+COLUMN\b`)
	dropRE        = regexp.MustCompile(`(?is)^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?(\w+)\.(\w+)\s*$`)
	orderByRE     = regexp.MustCompile(`(?is)\bORDER\s+BY\s+`)
	identRefRE    = regexp.MustCompile(`\b(\w+)\.(\w+)\b`)
)

// newClusterRewriter builds the catalog from all migrations.
func newClusterRewriter(db, cluster string, migs []Migration) (*clusterRewriter, error) {
	r := &clusterRewriter{db: db, cluster: cluster, tables: map[string]tableDef{}, viewTargets: map[string]bool{}}
	for _, m := range migs {
		for _, stmt := range statements(strings.ReplaceAll(m.SQL, "${database}", db)) {
			name, err := r.learn(stmt)
			if err != nil {
				return nil, fmt.Errorf("migration %03d_%s: %w", m.Version, m.Name, err)
			}
			if name != "" {
				r.order = append(r.order, name)
			}
			if v := createViewRE.FindStringSubmatch(strings.TrimSpace(stmt)); v != nil {
				r.viewTargets[v[5]] = true
			}
		}
	}
	return r, nil
}

// learn records the table a CREATE TABLE statement makes (other statements
// are ignored) and returns its name.
func (r *clusterRewriter) learn(stmt string) (string, error) {
	m := createTableRE.FindStringSubmatch(strings.TrimSpace(stmt))
	if m == nil || m[2] != r.db {
		return "", nil
	}
	name, body := m[3], m[4]
	if c := copyTableRE.FindStringSubmatch(body); c != nil {
		src, ok := r.tables[c[2]]
		if !ok || c[1] != r.db {
			return "", fmt.Errorf("table %s copies %s.%s, which no earlier migration creates", name, c[1], c[2])
		}
		r.tables[name] = tableDef{engine: src.engine, args: src.args, rest: src.rest, key: src.key}
		return name, nil
	}
	def, err := parseTable(name, body)
	if err != nil {
		return "", err
	}
	r.tables[name] = def
	return name, nil
}

// parseTable reads "(columns) ENGINE = E(args) rest".
func parseTable(name, body string) (tableDef, error) {
	cols, after, ok := balanced(body)
	if !ok {
		return tableDef{}, fmt.Errorf("table %s: cannot find its column list", name)
	}
	em := engineRE.FindStringSubmatch(strings.TrimSpace(after))
	if em == nil {
		return tableDef{}, fmt.Errorf("table %s: cannot find its ENGINE clause", name)
	}
	def := tableDef{columns: cols, engine: em[1], rest: em[2]}
	if strings.HasPrefix(def.rest, "(") {
		args, rest, ok := balanced(def.rest)
		if !ok {
			return tableDef{}, fmt.Errorf("table %s: unbalanced engine arguments", name)
		}
		def.args, def.rest = strings.TrimSpace(args[1:len(args)-1]), strings.TrimSpace(rest)
	}
	if !strings.HasSuffix(def.engine, "MergeTree") || strings.HasPrefix(def.engine, "Replicated") {
		return tableDef{}, fmt.Errorf("table %s: engine %s has no cluster form: cluster mode wants a *MergeTree that is not Replicated", name, def.engine)
	}
	key, err := shardKey(name, def.rest)
	if err != nil {
		return tableDef{}, err
	}
	def.key = key
	return def, nil
}

// shardKey derives the sharding expression from the ORDER BY clause.
func shardKey(name, rest string) (string, error) {
	loc := orderByRE.FindStringIndex(rest)
	if loc == nil {
		return "", fmt.Errorf("table %s: no ORDER BY to shard by", name)
	}
	order := strings.TrimSpace(rest[loc[1]:])
	var cols []string
	if strings.HasPrefix(order, "(") {
		tuple, _, ok := balanced(order)
		if !ok {
			return "", fmt.Errorf("table %s: unbalanced ORDER BY", name)
		}
		cols = splitTopLevel(tuple[1 : len(tuple)-1])
	} else {
		cols = []string{strings.Fields(order)[0]}
	}
	for _, c := range cols {
		if c == "job_id" {
			return jobShardKey, nil
		}
	}
	for _, c := range cols {
		if !identRE.MatchString(c) {
			return "", fmt.Errorf("table %s: ORDER BY element %q is not a column; cluster mode shards by job_id or by the ORDER BY columns", name, c)
		}
	}
	return "cityHash64(" + strings.Join(cols, ", ") + ")", nil
}

// balanced splits s, which starts with '(', after its matching ')'.
// Quoted strings are skipped.
func balanced(s string) (group, rest string, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") {
		return "", s, false
	}
	depth, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return s[:i+1], s[i+1:], true
			}
		}
	}
	return "", s, false
}

// splitTopLevel splits a comma list, ignoring commas inside parentheses.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// rewrite turns one migration statement into its cluster statements.
func (r *clusterRewriter) rewrite(stmt string) ([]string, error) {
	stmt = strings.TrimSpace(stmt)
	switch {
	case createTableRE.MatchString(stmt):
		return r.rewriteTable(stmt)
	case createViewRE.MatchString(stmt):
		return r.rewriteView(stmt)
	case alterRE.MatchString(stmt):
		m := alterRE.FindStringSubmatch(stmt)
		if _, ok := r.tables[m[2]]; !ok || m[1] != r.db {
			return nil, fmt.Errorf("ALTER of %s.%s: not a table of the migrations", m[1], m[2])
		}
		out := []string{fmt.Sprintf("ALTER TABLE %s.%s_local ON CLUSTER %s %s", r.db, m[2], r.cluster, m[3])}
		if alterColumnRE.MatchString(m[3]) {
			// 18.16 refuses ALTER ... ON CLUSTER of a Distributed table
			// when the shards are replicated (code 371): the Distributed
			// table is made again over the changed local table instead.
			out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s ON CLUSTER %s", r.db, m[2], r.cluster),
				r.distributed(m[2], r.tables[m[2]]))
		}
		return out, nil
	case dropRE.MatchString(stmt):
		m := dropRE.FindStringSubmatch(stmt)
		out := []string{fmt.Sprintf("DROP %s IF EXISTS %s.%s ON CLUSTER %s", m[1], m[3], m[4], r.cluster)}
		if _, ok := r.tables[m[4]]; ok && strings.EqualFold(m[1], "TABLE") {
			out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s_local ON CLUSTER %s", m[3], m[4], r.cluster))
		}
		return out, nil
	}
	head, _, _ := strings.Cut(stmt, "\n")
	return nil, fmt.Errorf("statement %q has no cluster form: cluster mode knows CREATE TABLE, CREATE MATERIALIZED VIEW ... TO, ALTER TABLE and DROP", head)
}

func (r *clusterRewriter) rewriteTable(stmt string) ([]string, error) {
	m := createTableRE.FindStringSubmatch(stmt)
	if m[2] != r.db {
		return nil, fmt.Errorf("table %s.%s: migrations create tables in ${database} only", m[2], m[3])
	}
	name := m[3]
	def, ok := r.tables[name]
	if !ok {
		return nil, fmt.Errorf("table %s: not in the catalog", name)
	}
	local := name + "_local"
	var create string
	if def.columns == "" {
		src := copyTableRE.FindStringSubmatch(m[4])[2]
		create = fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s_local ENGINE = %s",
			r.db, local, r.cluster, r.db, src, r.replicatedEngine(name, def))
	} else {
		create = fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s %s ENGINE = %s",
			r.db, local, r.cluster, def.columns, r.replicatedEngine(name, def))
	}
	return []string{create, r.distributed(name, def)}, nil
}

// distributed is the statement creating the Distributed table name over
// name_local on every server.
func (r *clusterRewriter) distributed(name string, def tableDef) string {
	local := name + "_local"
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
		r.db, name, r.cluster, r.db, local, r.cluster, r.db, local, def.key)
}

// replicatedEngine is the engine clause of T_local (without "ENGINE =").
func (r *clusterRewriter) replicatedEngine(name string, def tableDef) string {
	args := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", r.db, name)
	if def.args != "" {
		args += ", " + def.args
	}
	return "Replicated" + def.engine + "(" + args + ") " + def.rest
}

func (r *clusterRewriter) rewriteView(stmt string) ([]string, error) {
	m := createViewRE.FindStringSubmatch(stmt)
	view, target, body := m[3], m[5], m[6]
	tdef, ok := r.tables[target]
	if !ok || m[4] != r.db || m[2] != r.db {
		return nil, fmt.Errorf("materialized view %s: target %s.%s is not a table of the migrations", view, m[4], target)
	}
	var bad error
	body = identRefRE.ReplaceAllStringFunc(body, func(ref string) string {
		db, t, _ := strings.Cut(ref, ".")
		def, known := r.tables[t]
		if db != r.db || !known {
			return ref
		}
		if def.key != tdef.key && bad == nil {
			bad = fmt.Errorf("materialized view %s reads %s (sharded by %s) and writes %s (sharded by %s): in cluster mode a view's tables must shard alike", view, t, def.key, target, tdef.key)
		}
		return ref + "_local"
	})
	if bad != nil {
		return nil, bad
	}
	return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s ON CLUSTER %s TO %s.%s_local %s",
		r.db, view, r.cluster, r.db, target, body)}, nil
}
