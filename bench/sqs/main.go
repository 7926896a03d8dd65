// Command sqs-bench measures batchwatch ingest on the SQS path against its
// ceiling, in one run: the simulator fills two of its own queues with the
// same events of the 250,000-event zendesk-day; a bare aws-sdk-go-v2
// receive+delete loop (bench/sqsloop) drains one, `batchwatch ingest`
// drains the other into ClickHouse. It prints messages/s of both, the ratio,
// and checks that ClickHouse holds every event.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		bin      = flag.String("batchwatch", "bin/batchwatch", "batchwatch binary")
		scale    = flag.Float64("scale", 1, "zendesk-day scale (1 = 50,000 jobs, about 250,000 events)")
		callers  = flag.Int("callers", 8, "callers of the bare loop, and receivers of batchwatch ingest")
		listen   = flag.String("listen", "127.0.0.1:4577", "simulator address")
		chAddr   = flag.String("clickhouse", "127.0.0.1:9000", "ClickHouse native address")
		client   = flag.String("clickhouse-client", "clickhouse-client", "clickhouse-client binary")
		work     = flag.String("work", ".bench/sqs", "scratch folder")
		ingestFl = flag.String("ingest-flags", "", "extra flags for batchwatch ingest")
		db       = flag.String("database", "bw_bench_sqs", "ClickHouse database ingest writes (dropped first)")
		web      = flag.String("ingest-web", "127.0.0.1:9877", "ingest's --web.listen-address")
		hostile  = flag.Int("hostile", 0, "bad messages the simulator mixes into ingest's queue (not the ceiling's); all must be quarantined")
	)
	flag.Parse()
	if err := run(*bin, *scale, *callers, *listen, *chAddr, *client, *work, *ingestFl, *db, *web, *hostile); err != nil {
		fmt.Fprintln(os.Stderr, "sqs-bench:", err)
		os.Exit(1)
	}
}

func run(bin string, scale float64, callers int, listen, chAddr, client, work, ingestFlags, db, web string, hostile int) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	scenario, err := benchScenario(work)
	if err != nil {
		return err
	}
	endpoint := "http://" + listen
	env := append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench")

	// 1. The simulator runs the day as fast as it can and keeps serving.
	simLog, _ := os.Create(filepath.Join(work, "sim.log"))
	simCmd := exec.Command(bin, "sim", "--scenario", scenario, "--scale", strconv.FormatFloat(scale, 'f', -1, 64),
		"--speed", "0", "--seed", "3", "--listen", listen, "--log.level", "warn",
		"--hostile", strconv.Itoa(hostile), "--hostile.queue", "bench-ingest")
	simCmd.Stdout, simCmd.Stderr, simCmd.Env = simLog, simLog, env
	if err := simCmd.Start(); err != nil {
		return err
	}
	defer func() { _ = simCmd.Process.Signal(syscall.SIGTERM); _ = simCmd.Wait() }()
	fmt.Fprintln(os.Stderr, "filling the simulator's queues with the day's events …")
	n, err := waitFilled(endpoint, []string{"bench-ceiling", "bench-ingest"}, hostile)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "both queues hold %d events (+ %d bad messages for ingest)\n", n, hostile)

	// 2. The ceiling: bare receive(10) + DeleteMessageBatch.
	var out bytes.Buffer
	loop := exec.Command("go", "run", "./bench/sqsloop", "--endpoint", endpoint, "--queue", "bench-ceiling",
		"--callers", strconv.Itoa(callers), "--expect", strconv.Itoa(n))
	loop.Stdout, loop.Stderr, loop.Env = &out, os.Stderr, env
	if err := loop.Run(); err != nil {
		return fmt.Errorf("sqsloop: %w", err)
	}
	var ceiling struct {
		Messages          int64   `json:"messages"`
		Seconds           float64 `json:"seconds"`
		MessagesPerSecond float64 `json:"messages_per_second"`
	}
	if err := json.Unmarshal(out.Bytes(), &ceiling); err != nil {
		return fmt.Errorf("sqsloop output %q: %w", out.String(), err)
	}

	// 3. batchwatch ingest into a fresh database, timed until every message
	// is acknowledged (deleted after its insert).
	if out, err := exec.Command(client, "--query", "DROP DATABASE IF EXISTS "+db).CombinedOutput(); err != nil {
		return fmt.Errorf("drop database: %v: %s", err, out)
	}
	if out, err := exec.Command(bin, "migrate", "--clickhouse.addr", chAddr, "--clickhouse.database", db).CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v: %s", err, out)
	}
	args := []string{"ingest", "--no-migrate", "--sqs.queue-url", endpoint + "/123456789012/bench-ingest",
		"--sqs.receivers", strconv.Itoa(callers), "--clickhouse.addr", chAddr, "--clickhouse.database", db,
		"--web.listen-address", web, "--log.level", "warn"}
	if ingestFlags != "" {
		args = append(args, strings.Fields(ingestFlags)...)
	}
	ing := exec.Command(bin, args...)
	ing.Stdout, ing.Stderr, ing.Env = os.Stderr, os.Stderr, env
	start := time.Now()
	if err := ing.Start(); err != nil {
		return err
	}
	var first time.Time
	acked := 0.0
	for acked < float64(n+hostile) {
		time.Sleep(100 * time.Millisecond)
		acked = metric("http://"+web+"/metrics", `batchwatch_ingest_messages_acknowledged_total{source="sqs"}`)
		if first.IsZero() && acked > 0 {
			first = time.Now()
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("ingest acknowledged only %.0f of %d messages in 30 minutes", acked, n+hostile)
		}
	}
	elapsed := time.Since(start).Seconds()
	_ = ing.Process.Signal(syscall.SIGTERM)
	if err := ing.Wait(); err != nil {
		return fmt.Errorf("ingest did not exit cleanly on SIGTERM: %w", err)
	}
	stored, err := exec.Command(client, "--query", "SELECT uniqExact(event_id), (SELECT count() FROM "+db+".quarantine FINAL WHERE error != '') FROM "+db+".events").Output()
	if err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	f := strings.Fields(string(stored))
	if len(f) != 2 || f[0] != strconv.Itoa(n) || f[1] != strconv.Itoa(hostile) {
		return fmt.Errorf("ClickHouse holds %v distinct events and quarantined messages, want %d and %d", f, n, hostile)
	}
	checked, err := compareTruth(endpoint, client, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "jobs FINAL equals the simulator's truth for all %d jobs\n", checked)
	rate := float64(n+hostile) / elapsed
	res := map[string]any{
		"messages": n + hostile, "hostile": hostile, "ingest_events_per_second": int(float64(n) / elapsed), "callers": callers, "cpus": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
		"ceiling_seconds": round(ceiling.Seconds), "ceiling_messages_per_second": int(ceiling.MessagesPerSecond),
		"ingest_seconds": round(elapsed), "ingest_messages_per_second": int(rate), "ratio": round(rate / ceiling.MessagesPerSecond), "jobs_equal_to_truth": checked,
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	fmt.Printf("%d events (+ %d bad messages for ingest), %d callers/receivers, %d CPUs\n", n, hostile, callers, runtime.NumCPU())
	fmt.Printf("%-46s %8.2f s %8d messages/s\n", "bare receive+delete loop (ceiling)", ceiling.Seconds, int(ceiling.MessagesPerSecond))
	fmt.Printf("%-46s %8.2f s %8d messages/s\n", "batchwatch ingest (SQS → ClickHouse, acked)", elapsed, int(rate))
	fmt.Printf("%-46s %8.2f\n", "ratio", rate/ceiling.MessagesPerSecond)
	fmt.Printf("%-46s %8d events/s\n", "batchwatch ingest, Batch events only", int(float64(n)/elapsed))
	return nil
}

func round(v float64) float64 { return float64(int(v*100+0.5)) / 100 }

// benchScenario writes zendesk-day with its delivery replaced by two raw
// queues receiving the same events.
func benchScenario(work string) (string, error) {
	src, err := os.ReadFile("sim/scenarios/zendesk-day.yaml")
	if err != nil {
		return "", err
	}
	s := string(src)
	i, j := strings.Index(s, "\ndelivery:"), strings.Index(s, "\ncost_explorer:")
	if i < 0 || j < i {
		return "", fmt.Errorf("zendesk-day.yaml has no delivery section to replace")
	}
	s = s[:i] + "\ndelivery:\n  - {type: queue, queue: bench-ceiling}\n  - {type: queue, queue: bench-ingest}\n" + s[j:]
	s = strings.Replace(s, "name: zendesk-day", "name: zendesk-day-bench", 1)
	path := filepath.Join(work, "zendesk-day-bench.yaml")
	return path, os.WriteFile(path, []byte(s), 0o644)
}

// waitFilled polls the queues until both hold the same, stable number of
// messages (the simulator has delivered everything), the second extra
// more (the bad messages mixed into it).
func waitFilled(endpoint string, queues []string, extra int) (int, error) {
	last, stable := -1, 0
	deadline := time.Now().Add(20 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		var counts []int
		for _, q := range queues {
			c, err := queueDepth(endpoint, q)
			if err != nil {
				counts = nil
				break
			}
			counts = append(counts, c)
		}
		if len(counts) != len(queues) || counts[0] == 0 || counts[0]+extra != counts[1] {
			stable = 0
			continue
		}
		if counts[0] == last {
			stable++
			if stable >= 3 {
				return last, nil
			}
		} else {
			stable, last = 0, counts[0]
		}
	}
	return 0, fmt.Errorf("queues did not fill within 20 minutes")
}

func queueDepth(endpoint, queue string) (int, error) {
	body := fmt.Sprintf(`{"QueueUrl":"%s/123456789012/%s","AttributeNames":["ApproximateNumberOfMessages"]}`, endpoint, queue)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, endpoint+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "AmazonSQS.GetQueueAttributes")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct{ Attributes map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	return strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
}

func metric(url, series string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// compareTruth checks ClickHouse's jobs FINAL against the simulator's
// ground truth for every job (status, queue, attempts, times).
func compareTruth(endpoint, client, db string) (int, error) {
	resp, err := http.Get(endpoint + "/sim/truth")
	if err != nil {
		return 0, fmt.Errorf("truth: %w", err)
	}
	defer resp.Body.Close()
	type truthJob struct {
		JobID       string `json:"job_id"`
		JobQueue    string `json:"job_queue"`
		Status      string `json:"status"`
		Attempts    int    `json:"attempts"`
		CreatedAtMS int64  `json:"created_at_ms"`
		StartedAtMS int64  `json:"started_at_ms"`
		StoppedAtMS int64  `json:"stopped_at_ms"`
	}
	want := map[string]string{}
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var j truthJob
		if err := dec.Decode(&j); err != nil {
			return 0, fmt.Errorf("truth: %w", err)
		}
		if j.Status == "SUBMITTED" {
			continue // no event exists for it
		}
		want[j.JobID] = fmt.Sprintf("%s\t%s\t%d\t%d\t%d\t%d", j.JobQueue, j.Status, j.Attempts, j.CreatedAtMS, j.StartedAtMS, j.StoppedAtMS)
	}
	out, err := exec.Command(client, "--query", "SELECT job_id, job_queue, status, attempts, created_at_ms, started_at_ms, stopped_at_ms FROM "+db+".jobs FINAL FORMAT TSV").Output()
	if err != nil {
		return 0, fmt.Errorf("read jobs: %w", err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, rest, ok := strings.Cut(line, "\t"); ok {
			got[id] = rest
		}
	}
	bad := 0
	for id, w := range want {
		if got[id] != w {
			if bad < 5 {
				fmt.Fprintf(os.Stderr, "job %s: ClickHouse %q, truth %q\n", id, got[id], w)
			}
			bad++
		}
	}
	if bad > 0 || len(got) != len(want) {
		return 0, fmt.Errorf("%d of %d jobs differ from the truth (ClickHouse has %d)", bad, len(want), len(got))
	}
	return len(want), nil
}
