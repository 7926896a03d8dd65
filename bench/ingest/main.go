// Command ingest-bench measures batchwatch's replay ingest against the
// practical limit of the same machine: clickhouse-client bulk-inserting the
// same events (JSONEachRow into a table holding only the raw JSON). Both run
// in the same invocation, alternately, several times; the median counts.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		events  = flag.String("events", ".bench/events.jsonl", "events file (JSON lines); generated with the simulator if missing")
		n       = flag.Int("n", 250000, "events to generate when the file is missing (the zendesk-day scenario scaled to about N events)")
		bin     = flag.String("batchwatch", "bin/batchwatch", "batchwatch binary")
		client  = flag.String("clickhouse-client", "clickhouse-client", "clickhouse-client binary")
		host    = flag.String("host", "127.0.0.1", "ClickHouse host")
		port    = flag.Int("port", 9000, "ClickHouse native port")
		runs    = flag.Int("runs", 3, "runs of each side")
		extra   = flag.String("ingest-flags", "", "extra flags for batchwatch ingest")
		jsonOut = flag.Bool("json", false, "print one JSON line instead of a table")
	)
	flag.Parse()
	if err := run(*events, *n, *bin, *client, *host, *port, *runs, *extra, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "ingest-bench:", err)
		os.Exit(1)
	}
}

func run(events string, n int, bin, client, host string, port, runs int, extra string, jsonOut bool) error {
	ctx := context.Background()
	if _, err := os.Stat(events); err != nil {
		if err := generate(ctx, bin, events, n); err != nil {
			return err
		}
	}
	count, size, err := countLines(events)
	if err != nil {
		return err
	}
	raw := strings.TrimSuffix(events, ".jsonl") + ".raw.jsonl"
	if err := toRawRows(events, raw); err != nil {
		return err
	}
	chArgs := []string{"--host", host, "--port", strconv.Itoa(port)}
	chq := func(q string, stdin *os.File) error {
		cmd := exec.CommandContext(ctx, client, append(chArgs, "--query", q)...)
		if stdin != nil {
			cmd.Stdin = stdin
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("clickhouse-client %q: %v: %s", q, err, out)
		}
		return nil
	}
	var base, ours []float64
	// Every run gets its own database, dropped only after the last run:
	// dropping one (a thousand part files) right before the next run makes
	// ext4 skip the recently deleted inodes when it allocates new ones,
	// which cost ClickHouse up to 0.8 s of CPU in the run after a drop.
	var dbs []string
	defer func() {
		for _, db := range dbs {
			_ = chq("DROP DATABASE IF EXISTS "+db, nil)
		}
	}()
	for i := 0; i < runs; i++ {
		db := fmt.Sprintf("bw_bench_%d", i)
		dbs = append(dbs, db)
		// (b) clickhouse-client bulk insert of the raw events.
		if err := chq("DROP DATABASE IF EXISTS "+db, nil); err != nil {
			return err
		}
		if err := chq("CREATE DATABASE "+db, nil); err != nil {
			return err
		}
		if err := chq("CREATE TABLE "+db+".raw_events (raw String) ENGINE = MergeTree ORDER BY tuple()", nil); err != nil {
			return err
		}
		f, err := os.Open(raw)
		if err != nil {
			return err
		}
		start := time.Now()
		err = chq("INSERT INTO "+db+".raw_events FORMAT JSONEachRow", f)
		base = append(base, time.Since(start).Seconds())
		f.Close()
		if err != nil {
			return err
		}
		// (a) batchwatch ingest --replay into a migrated database.
		mig := exec.CommandContext(ctx, bin, "migrate", "--clickhouse.addr", fmt.Sprintf("%s:%d", host, port), "--clickhouse.database", db)
		if out, err := mig.CombinedOutput(); err != nil {
			return fmt.Errorf("migrate: %v: %s", err, out)
		}
		args := []string{"ingest", "--replay", events, "--no-migrate", "--clickhouse.addr", fmt.Sprintf("%s:%d", host, port),
			"--clickhouse.database", db, "--web.listen-address", "127.0.0.1:0", "--log.level", "warn"}
		if extra != "" {
			args = append(args, strings.Fields(extra)...)
		}
		start = time.Now()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("batchwatch ingest: %w", err)
		}
		ours = append(ours, time.Since(start).Seconds())
		// Check nothing was lost before believing the number.
		out, err := exec.CommandContext(ctx, client, append(chArgs, "--query",
			"SELECT (SELECT count() FROM "+db+".raw_events), (SELECT uniqExact(event_id) FROM "+db+".events), (SELECT count() FROM "+db+".quarantine)")...).Output()
		if err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		fields := strings.Fields(string(out))
		if len(fields) != 3 || fields[0] != strconv.Itoa(count) {
			return fmt.Errorf("raw_events holds %v rows, want %d", fields, count)
		}
		stored, _ := strconv.Atoi(fields[1])
		quar, _ := strconv.Atoi(fields[2])
		if stored+quar < count {
			return fmt.Errorf("batchwatch stored %d events and quarantined %d of %d", stored, quar, count)
		}
	}
	mb, mo := median(base), median(ours)
	res := map[string]any{
		"events": count, "bytes": size, "avg_event_bytes": size / int64(max(count, 1)), "runs": runs,
		"clickhouse_client_seconds": round(mb), "clickhouse_client_events_per_second": int(float64(count) / mb),
		"batchwatch_seconds": round(mo), "batchwatch_events_per_second": int(float64(count) / mo),
		"ratio": round(mb / mo), "all_clickhouse_client_seconds": base, "all_batchwatch_seconds": ours,
		"cpus": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
	}
	if jsonOut {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("events: %d (%.1f MB, %d B each), median of %d runs, %d CPUs\n", count, float64(size)/1e6, size/int64(max(count, 1)), runs, runtime.NumCPU())
	fmt.Printf("%-40s %8.2f s %10d events/s\n", "clickhouse-client JSONEachRow (raw only)", mb, int(float64(count)/mb))
	fmt.Printf("%-40s %8.2f s %10d events/s\n", "batchwatch ingest --replay", mo, int(float64(count)/mo))
	fmt.Printf("%-40s %8.2f\n", "ratio (batchwatch / clickhouse-client)", mb/mo)
	return nil
}

func round(v float64) float64 { return float64(int(v*100+0.5)) / 100 }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// generate writes about n events of the zendesk-day scenario with the
// simulator, as fast as it can run.
func generate(ctx context.Context, bin, out string, n int) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	scale := float64(n) / 250000
	fmt.Fprintf(os.Stderr, "generating ~%d events with the simulator (zendesk-day, scale %.3f) into %s\n", n, scale, out)
	cmd := exec.CommandContext(ctx, bin, "sim", "--scenario", "zendesk-day", "--scale", strconv.FormatFloat(scale, 'f', 4, 64),
		"--speed", "0", "--seed", "1", "--out", out, "--exit-when-done", "--no-delivery", "--listen", "127.0.0.1:0", "--log.level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("generate events: %w", err)
	}
	return nil
}

func countLines(path string) (int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	n := 0
	var size int64
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
			size += int64(len(sc.Bytes()))
		}
	}
	return n, size, sc.Err()
}

// toRawRows wraps each event line as {"raw": "<line>"} for JSONEachRow.
func toRawRows(in, out string) error {
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		if ist, err := os.Stat(in); err == nil && st.ModTime().After(ist.ModTime()) {
			return nil
		}
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(o, 1<<20)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	enc := json.NewEncoder(w)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := enc.Encode(map[string]string{"raw": string(line)}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return o.Close()
}
