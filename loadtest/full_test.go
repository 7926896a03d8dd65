//go:build integration && loadtest

package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// fullFaults: the CI faults plus SubmitJob connections reset after Batch
// processed the call, one call in ten.
var fullFaults = append([]string{"batch/SubmitJob:reset_after=0.1"}, ciFaults...)

// Memory bounds the report states and the test enforces (peak resident
// set of each process, its restarts included).
var memBounds = map[string]int64{"sim": 6 << 30, "ingest": 1 << 30, "exporter": 1 << 30, "clickhouse": 4 << 30}

const (
	fullSpeed  = 100
	fullSample = 500 * time.Millisecond
)

// finishedCheck compares the exporter's finished-jobs counters with the
// truth since its last start.
type finishedCheck struct{ counted, since int }

// fullReport is the run with faults: the common figures plus the
// exporter's counters since its last start.
type fullReport struct {
	runReport
	finished     finishedCheck
	quietRestart bool
}

// TestLoadFull is `make loadtest`: first a baseline without faults (a
// fifth of the day at five times the speed: the same event rate), then the
// whole zendesk-day with faults, 10,000 bad messages, three SIGKILLs of
// ingest, two of the exporter, two ClickHouse restarts, ClickHouse paused
// once, and the submitter meeting reset SubmitJob connections. It writes
// docs/loadtest.md and the plots in docs/loadtest/.
func TestLoadFull(t *testing.T) {
	began := time.Now()
	var base runReport
	t.Run("baseline", func(t *testing.T) {
		r := startRun(t, config{scale: 0.2, speed: fullSpeed * 5, privateClickHouse: true, sample: fullSample})
		stop, done := make(chan struct{}), make(chan struct{})
		go r.sampler(stop, done)
		r.waitDayDone(10 * time.Minute)
		close(stop)
		<-done
		res := r.checkAll()
		base = r.report(res, "")
	})
	if t.Failed() {
		t.FailNow()
	}
	var full fullReport
	t.Run("faults", func(t *testing.T) {
		full = runFull(t)
	})
	if err := writeReport(base, full, time.Since(began)); err != nil {
		t.Fatal(err)
	}
}

func runFull(t *testing.T) fullReport {
	r := startRun(t, config{scale: 1, speed: fullSpeed, hostile: 10000, faults: fullFaults, privateClickHouse: true, sample: fullSample})
	stop, done := make(chan struct{}), make(chan struct{})
	go r.sampler(stop, done)
	items := 300
	sub := r.startSubmitter(items)
	ingestReady := func() string { return "http://" + r.ingest.addr + "/-/ready" }
	exporterReady := func() string { return "http://" + r.exporter.addr + "/metrics" }
	at := func(d time.Duration) {
		if w := d - time.Since(r.began); w > 0 {
			time.Sleep(w)
		}
	}
	// The nightly burst starts at 1 h simulated (36 s). The exporter's last
	// restart waits (until 280 s) for its queue to be empty, which gives
	// "finished since its last start" an exact boundary in the truth.
	at(40 * time.Second)
	r.waitIngestMidBatch(1000)
	r.kill(r.ingest, ingestReady())
	r.waitSubmitter(sub, items)
	at(60 * time.Second)
	r.restartClickHouse()
	at(80 * time.Second)
	r.kill(r.exporter, exporterReady())
	at(100 * time.Second)
	r.waitIngestMidBatch(1000)
	r.kill(r.ingest, ingestReady())
	at(120 * time.Second)
	r.logf("ClickHouse paused (SIGSTOP) for 20 s")
	r.pauseClickHouse(20 * time.Second)
	r.logf("ClickHouse resumed (SIGCONT)")
	quiet := r.waitCaughtUp(280*time.Second - time.Since(r.began))
	lastStartSimMS := r.simClockMS()
	r.kill(r.exporter, exporterReady())
	at(300 * time.Second)
	r.restartClickHouse()
	at(340 * time.Second)
	r.waitIngestMidBatch(1000)
	r.kill(r.ingest, ingestReady())
	r.waitDayDone(15 * time.Minute)
	close(stop)
	<-done
	res := r.checkAll()
	res.submitted = items
	truth := r.truth()
	r.checkSubmitted(truth, &res)
	var fin finishedCheck
	r.checkFinishedCounters(truth, lastStartSimMS, quiet, &fin)
	rep := fullReport{runReport: r.report(res, filepath.Join(testenv.RepoRoot(t), "docs", "loadtest")), quietRestart: quiet, finished: fin}
	for name, bound := range memBounds {
		if rep.peak[name] > bound {
			t.Errorf("%s peaked at %d MiB, above its bound of %d MiB", name, rep.peak[name]>>20, bound>>20)
		}
	}
	return rep
}

func (r *run) restartClickHouse() {
	r.logf("ClickHouse stopping")
	r.private.Stop()
	time.Sleep(5 * time.Second)
	r.private.Start()
	r.logf("ClickHouse restarted")
}

// simClockMS is the simulator's clock now.
func (r *run) simClockMS() int64 {
	m, err := scrape(r.sim.addr)
	if err != nil {
		r.t.Fatalf("simulator metrics: %v", err)
	}
	return int64(sum(m, "batchwatch_sim_clock_timestamp_seconds") * 1000)
}

// waitCaughtUp waits until the exporter's queue is empty (visible, in
// flight and delayed): every event emitted so far was applied and deleted,
// so a restart now has an exact boundary. False when that did not happen
// within timeout.
func (r *run) waitCaughtUp(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r.queueDepth("batchwatch-exporter") == 0 {
			r.logf("exporter caught up: its queue is empty")
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.logf("the exporter did not catch up within %s", timeout.Round(time.Second))
	return false
}

// checkFinishedCounters compares batchwatch_jobs_finished_total of the
// exporter, per status, with the jobs of the truth that stopped after its
// last start. With an exact boundary (its queue was empty when it was
// killed) they must be equal. Without one, the restarted exporter also
// counts the jobs whose final events were still queued behind it, and which
// of those the killed one had applied the truth cannot tell: then every job
// that stopped after the restart must be counted (a lower bound).
func (r *run) checkFinishedCounters(truth []truthJob, sinceMS int64, exact bool, res *finishedCheck) {
	m, err := scrape(r.exporter.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, st := range []string{"SUCCEEDED", "FAILED"} {
		want := 0
		for _, j := range truth {
			if j.Status == st && j.StoppedAtMS >= sinceMS {
				want++
			}
		}
		got := int(sum(m, "batchwatch_jobs_finished_total", `status="`+st+`"`))
		res.counted += got
		res.since += want
		switch {
		case exact && got != want:
			r.t.Errorf("batchwatch_jobs_finished_total{status=%q} = %d, the truth has %d jobs that finished since the exporter's last start", st, got, want)
		case got < want:
			r.t.Errorf("batchwatch_jobs_finished_total{status=%q} = %d, fewer than the %d jobs that finished after the exporter's last start", st, got, want)
		}
	}
}

func writeReport(base runReport, full fullReport, total time.Duration) error {
	var b strings.Builder
	host, _ := os.Hostname()
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Load test: zendesk-day with faults, crashes and hostile input\n\n")
	w("Generated by `make loadtest` (`go test -tags integration,loadtest -run TestLoadFull ./loadtest/`) on %s, %s, %d CPUs, %s; total %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.Version(), total.Round(time.Second))
	w("Simulator, ingest and exporter are processes of the built binary; ClickHouse 18.16 is a private server the test starts, restarts and pauses.\n\n")
	w("Run with faults: the whole day (%d jobs, %d events) at %d× (%s), faults `%s`, 10,000 bad messages.\n",
		full.res.jobs, full.res.emitted, fullSpeed, full.duration.Round(time.Second), strings.Join(fullFaults, "` `"))
	w("Baseline: a fifth of the day at %d× (the same event rate), no faults, no crashes (%d jobs, %d events, %s).\n\n",
		fullSpeed*5, base.res.jobs, base.res.emitted, base.duration.Round(time.Second))

	w("## Injected vs lost\n\n| injected | count | lost or wrong | count |\n| --- | --- | --- | --- |\n")
	inj := full.res.injected
	kinds := make([]string, 0, len(inj))
	for k := range inj {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	lost := [][2]string{
		{"events missing or twice in `events FINAL`", fmt.Sprint(full.res.emitted - full.res.eventsDistinct + full.res.eventsStored - full.res.eventsDistinct)},
		{"jobs missing from `jobs FINAL`", fmt.Sprint(full.res.jobsMissing)},
		{"jobs differing from the truth", fmt.Sprint(full.res.jobsDiffering)},
		{"bad messages not quarantined (or extra rows)", fmt.Sprint(abs(10000 - full.res.quarantined))},
		{"messages in dead-letter queues", fmt.Sprint(full.res.dlq["batchwatch-ingest-dlq"] + full.res.dlq["batchwatch-exporter-dlq"])},
		{"exporter gauges differing from the truth", fmt.Sprint(full.res.gaugesDiffering)},
		{"submitted items without exactly one job", fmt.Sprint(abs(full.res.submittedJobs - full.res.submitted))},
		{"finished-jobs counter vs truth since the exporter's last start", finishedLine(full)},
	}
	rows := []([2]string){}
	for _, k := range kinds {
		rows = append(rows, [2]string{"fault " + k, fmt.Sprint(int(inj[k]))})
	}
	rows = append(rows, [2]string{"bad messages", "10000"}, [2]string{"SIGKILL ingest", fmt.Sprint(full.kills["ingest"])},
		[2]string{"SIGKILL exporter", fmt.Sprint(full.kills["exporter"])}, [2]string{"ClickHouse restarts", "2"},
		[2]string{"ClickHouse paused 20 s (SIGSTOP)", "1"}, [2]string{"submitted items", fmt.Sprint(full.res.submitted)})
	for i := 0; i < max(len(rows), len(lost)); i++ {
		var a, c [2]string
		if i < len(rows) {
			a = rows[i]
		}
		if i < len(lost) {
			c = lost[i]
		}
		w("| %s | %s | %s | %s |\n", a[0], a[1], c[0], c[1])
	}
	w("\n## Freshness (wall clock, from the simulator's emission)\n\n")
	w("| | ClickHouse p50 | p99 | max | exporter p50 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, x := range []struct {
		name string
		r    runReport
	}{{"baseline, no faults", base}, {"faults and crashes", full.runReport}} {
		w("| %s | %.1f s | %.1f s | %.1f s | %.1f s | %.1f s | %.1f s |\n", x.name, x.r.clickhouse.p50, x.r.clickhouse.p99, x.r.clickhouse.max,
			x.r.exporter.p50, x.r.exporter.p99, x.r.exporter.max)
	}
	w("\nThe day is not even: the nightly burst emits most of its events within a minute (peak %.0f events/s over 10 s in the run with faults), while on this shared 2-CPU machine ClickHouse caught up with the whole day at %.0f events/s on average and the exporter at %.0f events/s (baseline: peak %.0f, %.0f and %.0f). The freshness with faults is dominated by that backlog, which the plots show draining; once ClickHouse has caught up, new events are queryable within seconds.\n",
		full.peakEmit, full.chDrain, full.expDrain, base.peakEmit, base.chDrain, base.expDrain)
	if !full.quietRestart {
		w("\nThe exporter's finished-jobs counters since its last start could not be compared exactly: it was behind the day when it was killed the second time (its queue never emptied before the end of the day), so after the restart it also counted the jobs whose final events were still queued, and which of those the killed process had applied is unknowable from the truth. The test asserts the lower bound instead: every job that stopped after the restart was counted.\n")
	}
	w("\nMeasured as a cumulative flow: the harness samples every %s the simulator's emitted-events counter, the number of distinct event ids in ClickHouse and the exporter's applied events; the k-th event's freshness is when the downstream count reached k minus when the emitted count did. Resolution %s (ClickHouse read every second); redeliveries the exporter applies again after a restart make its curve run slightly ahead.\n\n", fullSample, fullSample)
	w("## Peak memory (resident, all restarts of a process)\n\n| process | peak | bound |\n| --- | --- | --- |\n")
	for _, name := range []string{"sim", "ingest", "exporter", "clickhouse"} {
		w("| %s | %d MiB | %d MiB |\n", name, full.peak[name]>>20, memBounds[name]>>20)
	}
	w("\n## Plots\n\n![events per second](loadtest/events-per-second.png)\n![freshness](loadtest/freshness.png)\n![queue depth](loadtest/queue-depth.png)\n![memory](loadtest/memory.png)\n\n")
	w("## What the run did\n\n```\n%s\n```\n", strings.Join(full.log, "\n"))
	path := filepath.Join(repoRoot(), "docs", "loadtest.md")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func finishedLine(full fullReport) string {
	if full.quietRestart {
		return fmt.Sprintf("%d (counted %d, truth %d)", abs(full.finished.counted-full.finished.since), full.finished.counted, full.finished.since)
	}
	return fmt.Sprintf("not exact: counted %d ≥ %d that stopped after the restart (see below)", full.finished.counted, full.finished.since)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

// pauseClickHouse SIGSTOPs the private ClickHouse for d, then SIGCONTs
// it: slow, not down.
func (r *run) pauseClickHouse(d time.Duration) {
	r.t.Helper()
	pid, err := r.private.PID()
	if err != nil {
		r.t.Fatal(err)
	}
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	time.Sleep(d)
	_ = syscall.Kill(pid, syscall.SIGCONT)
}
