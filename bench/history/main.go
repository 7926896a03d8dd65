// Command history-bench measures job history at two years' scale: it
// generates the history once (one simulated day replayed through the old
// batchwatch, then copied inside ClickHouse shifted by day with new ids),
// upgrades it with the new batchwatch (migrate --backfill), and times every
// docs/sql.md query and every job-history dashboard panel in their old
// ("before") and new ("after") forms, median of N runs with max_threads 2.
// It prints a Markdown table, the disk size of every table, and, unless
// -ingest-runs is 0, replay ingest throughput of the old and new binaries,
// alternated.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/batchwatch/batchwatch/dashboards"
)

type options struct {
	addr, db, bin, oldBin, ingestBench string
	oldDocs, newDocs, oldDash, newDash string
	days, eventDays                    int
	runs, beforeRuns, ingestRuns       int
	timeout                            time.Duration
	skipBefore, keep, upgrade          bool
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9000", "ClickHouse native address")
	flag.StringVar(&o.db, "db", "bench_history", "database of the generated history (kept between runs; -keep=false drops it at the end)")
	flag.StringVar(&o.bin, "batchwatch", "bin/batchwatch", "new batchwatch binary")
	flag.StringVar(&o.oldBin, "old-batchwatch", ".bench/batchwatch-old", "old batchwatch binary (before the change)")
	flag.StringVar(&o.ingestBench, "ingest-bench", ".bench/ingest-bench", "bench/ingest binary, for the replay throughput")
	flag.StringVar(&o.oldDocs, "old-docs", ".bench/sql-old.md", "docs/sql.md before the change")
	flag.StringVar(&o.newDocs, "new-docs", "docs/sql.md", "docs/sql.md after the change")
	flag.StringVar(&o.oldDash, "old-dashboard", ".bench/job-history-old.json", "job-history dashboard JSON before the change")
	flag.StringVar(&o.newDash, "new-dashboard", "deploy/grafana/dashboards/batchwatch-job-history.json", "job-history dashboard JSON after the change")
	flag.IntVar(&o.days, "days", 730, "days of jobs and attempts to generate")
	flag.IntVar(&o.eventDays, "event-days", 90, "days of events to generate")
	flag.IntVar(&o.runs, "runs", 3, "runs of each new query (median)")
	flag.IntVar(&o.beforeRuns, "before-runs", 3, "runs of each old query (median)")
	flag.IntVar(&o.ingestRuns, "ingest-runs", 5, "replay runs of each binary, alternated (0 skips)")
	flag.DurationVar(&o.timeout, "timeout", 120*time.Second, "give up a query after this long")
	flag.BoolVar(&o.skipBefore, "skip-before", false, "do not time the old forms")
	flag.BoolVar(&o.keep, "keep", true, "keep the database at the end")
	flag.BoolVar(&o.upgrade, "upgrade", true, "run the new binary's migrate --backfill on the history first (resumes an interrupted one)")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "history-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{o.addr}, Auth: clickhouse.Auth{Database: "default", Username: "default"},
		Settings:    clickhouse.Settings{"allow_experimental_low_cardinality_type": 1, "max_threads": 2},
		ReadTimeout: o.timeout + 10*time.Second, DialTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ensureHistory(ctx, conn, o); err != nil {
		return err
	}
	fmt.Printf("history: %s\n\n", describe(ctx, conn, o.db))
	subst, err := examples(ctx, conn, o.db)
	if err != nil {
		return err
	}
	var before []timing
	if !o.skipBefore {
		if before, err = timeAll(ctx, conn, o, o.oldDocs, o.oldDash, o.beforeRuns, subst); err != nil {
			return err
		}
	}
	after, err := timeAll(ctx, conn, o, o.newDocs, o.newDash, o.runs, subst)
	if err != nil {
		return err
	}
	printTimings(before, after, o)
	if err := printSizes(ctx, conn, o.db); err != nil {
		return err
	}
	if o.ingestRuns > 0 {
		if err := ingestThroughput(ctx, o); err != nil {
			return err
		}
	}
	if !o.keep {
		return conn.Exec(ctx, "DROP DATABASE IF EXISTS "+o.db)
	}
	return nil
}

func sh(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// ensureHistory generates the history with the old binary unless the
// database holds it already, then upgrades it with the new binary
// (migrations and back-fill; both resume where an earlier run stopped).
func ensureHistory(ctx context.Context, conn driver.Conn, o options) error {
	var jobs uint64
	_ = conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'jobs'", o.db).Scan(&jobs)
	chFlags := []string{"--clickhouse.addr", o.addr, "--log.level", "warn"}
	if jobs == 0 {
		seed := o.db + "_seed"
		day := ".bench/history-day.jsonl"
		start := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
		fmt.Fprintf(os.Stderr, "generating one zendesk-day from %s into %s\n", start, day)
		if err := sh(ctx, o.bin, "sim", "--scenario", "zendesk-day", "--speed", "0", "--seed", "1", "--start", start,
			"--out", day, "--exit-when-done", "--no-delivery", "--listen", "127.0.0.1:0", "--log.level", "warn"); err != nil {
			return err
		}
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+seed); err != nil {
			return err
		}
		if err := sh(ctx, o.oldBin, append([]string{"migrate", "--clickhouse.database", seed}, chFlags...)...); err != nil {
			return err
		}
		if err := sh(ctx, o.oldBin, append([]string{"ingest", "--replay", day, "--no-migrate", "--clickhouse.database", seed,
			"--web.listen-address", "127.0.0.1:0"}, chFlags...)...); err != nil {
			return err
		}
		for _, t := range []string{"jobs", "attempts", "events"} {
			if err := conn.Exec(ctx, "OPTIMIZE TABLE "+seed+"."+t+" FINAL"); err != nil {
				return err
			}
		}
		if err := sh(ctx, o.oldBin, append([]string{"migrate", "--clickhouse.database", o.db}, chFlags...)...); err != nil {
			return err
		}
		host, port, _ := strings.Cut(o.addr, ":")
		gen := exec.CommandContext(ctx, "scripts/bench-history-generate.sh", seed, o.db, strconv.Itoa(o.days), strconv.Itoa(o.eventDays))
		gen.Env = append(os.Environ(), "CH_HOST="+host, "CH_PORT="+port)
		gen.Stdout, gen.Stderr = os.Stderr, os.Stderr
		start2 := time.Now()
		if err := gen.Run(); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		fmt.Printf("generated %d days in %s\n", o.days, time.Since(start2).Round(time.Second))
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+seed); err != nil {
			return err
		}
	}
	if !o.upgrade {
		return nil
	}
	start := time.Now()
	if err := sh(ctx, o.bin, append([]string{"migrate", "--backfill", "--clickhouse.database", o.db}, chFlags...)...); err != nil {
		return err
	}
	fmt.Printf("migrate --backfill: %s\n", time.Since(start).Round(time.Second))
	return nil
}

func describe(ctx context.Context, conn driver.Conn, db string) string {
	var jobs, attempts, events uint64
	_ = conn.QueryRow(ctx, "SELECT (SELECT count() FROM "+db+".jobs), (SELECT count() FROM "+db+".attempts), (SELECT count() FROM "+db+".events)").Scan(&jobs, &attempts, &events)
	return fmt.Sprintf("%d job rows, %d attempt rows, %d events", jobs, attempts, events)
}

// examples replaces the ids and values docs/sql.md uses as examples with
// ones of the generated history, about a year old: a job with retries, an
// array parent (10,000 children in zendesk-day) and an accountId.
func examples(ctx context.Context, conn driver.Conn, db string) (*strings.Replacer, error) {
	var job, parent, account string
	old := " AND created_at < now() - INTERVAL 365 DAY AND created_at > now() - INTERVAL 366 DAY"
	for _, q := range []struct {
		dst *string
		sql string
	}{
		{&job, "SELECT job_id FROM " + db + ".jobs WHERE attempts > 1" + old + " LIMIT 1"},
		{&parent, "SELECT array_parent_id FROM " + db + ".jobs WHERE array_parent_id != ''" + old + " LIMIT 1"},
		{&account, "SELECT param_values[indexOf(param_keys, 'accountId')] FROM " + db + ".jobs WHERE has(param_keys, 'accountId')" + old + " LIMIT 1"},
	} {
		if err := conn.QueryRow(ctx, q.sql).Scan(q.dst); err != nil {
			// A shorter history: any one will do.
			if err := conn.QueryRow(ctx, strings.Replace(q.sql, old, "", 1)).Scan(q.dst); err != nil {
				return nil, fmt.Errorf("example for %s: %w", q.sql, err)
			}
		}
	}
	fmt.Printf("examples: job %s, array parent %s, accountId %s\n", job, parent, account)
	return strings.NewReplacer("4c7599ae-0a82-49aa-ba5a-4727fcce14a8", job,
		"3f0d2c1a-5b6e-4f7a-8c9d-0e1f2a3b4c5d", parent, "'acct-003'", "'"+account+"'"), nil
}

// timing is one query's median time, or its error.
type timing struct {
	name    string
	seconds float64
	rows    int
	err     error
}

// timeAll times the queries of a docs/sql.md and the ClickHouse panels of
// a dashboard JSON (at its default range, every variable at its default).
func timeAll(ctx context.Context, conn driver.Conn, o options, docsPath, dashPath string, runs int, subst *strings.Replacer) ([]timing, error) {
	qs, err := queries(docsPath, dashPath, o.db, subst)
	if err != nil {
		return nil, err
	}
	var out []timing
	for _, q := range qs {
		tm := timing{name: q[0]}
		var times []float64
		for i := 0; i < runs && tm.err == nil; i++ {
			var d time.Duration
			d, tm.rows, tm.err = timeQuery(ctx, conn, q[1], o.timeout)
			times = append(times, d.Seconds())
		}
		sort.Float64s(times)
		tm.seconds = times[len(times)/2]
		fmt.Fprintf(os.Stderr, "%-60s %8.3f s %6d rows %v\n", tm.name, tm.seconds, tm.rows, tm.err)
		out = append(out, tm)
	}
	return out, nil
}

// queries returns (name, SQL) of every docs query and panel target.
func queries(docsPath, dashPath, db string, subst *strings.Replacer) ([][2]string, error) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	titles := regexp.MustCompile(`(?m)^### (.*)$`).FindAllStringSubmatch(string(doc), -1)
	for i, b := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		name := fmt.Sprintf("sql.md %d", i+1)
		if i < len(titles) {
			name = "sql.md " + titles[i][1]
		}
		out = append(out, [2]string{name, subst.Replace(strings.ReplaceAll(b[1], "batchwatch.", db+"."))})
	}
	raw, err := os.ReadFile(dashPath)
	if err != nil {
		return nil, err
	}
	d, err := dashboards.ParseDashboard(raw)
	if err != nil {
		return nil, err
	}
	vars := append([]dashboards.Variable(nil), d.Variables...)
	for i := range vars {
		if vars[i].Name == "database" {
			vars[i].Query = db
		}
	}
	to := time.Now().UTC()
	r := dashboards.TimeRange{From: to.Add(-6 * time.Hour), To: to}
	e := &dashboards.Expander{Range: r, Intervals: dashboards.ComputeIntervals(r, 1000, time.Second), Variables: vars,
		Selected: map[string][]string{}, Options: map[string][]string{}}
	for _, t := range d.Targets {
		if t.Kind != dashboards.KindClickHouse {
			continue
		}
		q, err := e.Expand(t.Query, t.Kind)
		if err != nil {
			return nil, fmt.Errorf("panel %s: %w", t.Panel, err)
		}
		out = append(out, [2]string{"panel " + t.Panel, q})
	}
	return out, nil
}

func timeQuery(ctx context.Context, conn driver.Conn, q string, timeout time.Duration) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return time.Since(start), 0, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	rows.Close()
	return time.Since(start), n, err
}

func printTimings(before, after []timing, o options) {
	fmt.Printf("| query / panel | before (s) | after (s) | rows after |\n| --- | ---: | ---: | ---: |\n")
	old := map[string]timing{}
	for _, b := range before {
		old[b.name] = b
	}
	cell := func(t timing, ok bool) string {
		switch {
		case !ok:
			return "–"
		case t.err != nil:
			msg := t.err.Error()
			if len(msg) > 40 {
				msg = msg[:40] + "…"
			}
			return "fails: " + msg
		}
		return fmt.Sprintf("%.3f", t.seconds)
	}
	for _, a := range after {
		b, ok := old[a.name]
		delete(old, a.name)
		fmt.Printf("| %s | %s | %s | %d |\n", a.name, cell(b, ok), cell(a, true), a.rows)
	}
	var rest []string
	for name := range old {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		fmt.Printf("| %s (before only) | %s | – | – |\n", name, cell(old[name], true))
	}
	fmt.Printf("\nmedian of %d runs after, %d before; max_threads 2; panels at the dashboards' default range (6 h), variables at All\n\n", o.runs, o.beforeRuns)
}

func printSizes(ctx context.Context, conn driver.Conn, db string) error {
	rows, err := conn.Query(ctx, "SELECT table, sum(rows), sum(bytes_on_disk), count(), uniqExact(partition) FROM system.parts"+
		" WHERE database = ? AND active GROUP BY table ORDER BY sum(bytes_on_disk) DESC", db)
	if err != nil {
		return fmt.Errorf("table sizes: %w", err)
	}
	defer rows.Close()
	fmt.Printf("| table | rows | on disk (MiB) | parts | partitions |\n| --- | ---: | ---: | ---: | ---: |\n")
	for rows.Next() {
		var table string
		var n, bytes, parts, partitions uint64
		if err := rows.Scan(&table, &n, &bytes, &parts, &partitions); err != nil {
			return err
		}
		fmt.Printf("| %s | %d | %.1f | %d | %d |\n", table, n, float64(bytes)/(1<<20), parts, partitions)
	}
	fmt.Println()
	return rows.Err()
}

// ingestThroughput runs bench/ingest's replay with the old and the new
// binary, alternated, and prints the medians.
func ingestThroughput(ctx context.Context, o options) error {
	res := map[string][]float64{}
	var events float64
	for i := 0; i < o.ingestRuns; i++ {
		for _, side := range []struct{ name, bin string }{{"old", o.oldBin}, {"new", o.bin}} {
			host, port, _ := strings.Cut(o.addr, ":")
			cmd := exec.CommandContext(ctx, o.ingestBench, "--runs", "1", "--json", "--batchwatch", side.bin,
				"--host", host, "--port", port, "--events", ".bench/events-250000.jsonl")
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("ingest bench (%s): %w", side.name, err)
			}
			var r struct {
				Events  float64 `json:"events"`
				Seconds float64 `json:"batchwatch_seconds"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				return fmt.Errorf("ingest bench output %q: %w", out, err)
			}
			events = r.Events
			res[side.name] = append(res[side.name], r.Seconds)
			fmt.Fprintf(os.Stderr, "replay %s run %d: %.2f s\n", side.name, i+1, r.Seconds)
		}
	}
	med := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	mo, mn := med(res["old"]), med(res["new"])
	fmt.Printf("| replay of %d events | median s | events/s | all runs (s) |\n| --- | ---: | ---: | --- |\n", int(events))
	fmt.Printf("| before (%s) | %.2f | %d | %v |\n", o.oldBin, mo, int(events/mo), res["old"])
	fmt.Printf("| after (%s) | %.2f | %d | %v |\n", o.bin, mn, int(events/mn), res["new"])
	fmt.Printf("\nthroughput after / before: %.2f\n", mo/mn)
	return nil
}
