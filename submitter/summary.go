package submitter

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is a run's progress, as the progress bar, the end-of-run report
// and GET /api/v1/runs/{id} show it.
type Summary struct {
	RunID string `json:"run_id"`
	Mode  Mode   `json:"mode"`
	// Phase: loading, recovering, submitting, fan-in, watching, submitted,
	// done, interrupted, failed.
	Phase string `json:"phase"`
	// Items is the number of valid items given to this run.
	Items int64 `json:"items"`
	// Submitted by this process; Recovered: found already created by an
	// earlier run (looked up by name); Skipped: journaled as submitted.
	Submitted int64 `json:"submitted"`
	Recovered int64 `json:"recovered"`
	Skipped   int64 `json:"skipped"`
	// Failed: SubmitJob failed (looked up, then retried, on re-run);
	// Rejected: Batch refused the request.
	Failed    int64 `json:"failed"`
	Rejected  int64 `json:"rejected"`
	Pending   int64 `json:"pending"`
	Escalated int64 `json:"escalated"`

	SubmitJobCalls    int64   `json:"submit_job_calls"`
	ListJobsCalls     int64   `json:"list_jobs_calls"`
	Requests          int64   `json:"requests"`
	Throttles         int64   `json:"throttled_requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// SubmitSeconds is the duration of the submitting phase.
	SubmitSeconds float64        `json:"submit_seconds"`
	StartedAt     time.Time      `json:"started_at"`
	ElapsedSecs   float64        `json:"elapsed_seconds"`
	FanIn         string         `json:"fan_in,omitempty"`
	Watch         *WatchProgress `json:"watch,omitempty"`
	// Sizing is what --sizing history changed, when used.
	Sizing *SizingResult `json:"sizing,omitempty"`
	Errors []string      `json:"errors,omitempty"`
}

// Done is how many items have a final submission outcome.
func (s Summary) Done() int64 {
	return s.Submitted + s.Recovered + s.Skipped + s.Failed + s.Rejected
}

// Summary returns a snapshot of the run's progress; safe at any time.
func (r *Runner) Summary() Summary {
	now := r.opts.Now()
	s := Summary{
		RunID: r.opts.RunID, Mode: r.opts.Mode, Phase: r.phase.Load().(string),
		Items: r.count.items.Load(), Submitted: r.count.submitted.Load(), Recovered: r.count.recovered.Load(),
		Skipped: r.count.skipped.Load(), Failed: r.count.failed.Load(), Rejected: r.count.rejected.Load(),
		Pending: r.count.pending.Load(), Escalated: r.count.escalated.Load(),
		SubmitJobCalls: r.calls.submitCalls.Load(), ListJobsCalls: r.calls.listCalls.Load(),
		Requests: r.calls.requests.Load(), Throttles: r.calls.throttles.Load(),
	}
	r.mu.Lock()
	s.StartedAt = r.started
	if !r.started.IsZero() {
		s.ElapsedSecs = now.Sub(r.started).Seconds()
	}
	from, to := r.submitFrom, r.submitTo
	s.FanIn = r.fanIn
	s.Errors = append([]string(nil), r.errs...)
	if r.watch.Active || r.watch.Tracked > 0 {
		w := r.watch
		s.Watch = &w
	}
	r.mu.Unlock()
	if !from.IsZero() {
		if to.IsZero() {
			to = now
		}
		s.SubmitSeconds = to.Sub(from).Seconds()
		if s.SubmitSeconds > 0 {
			s.RequestsPerSecond = float64(s.Requests) / s.SubmitSeconds
		}
	}
	return s
}

// WriteText prints the end-of-run summary.
func (s Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "run %s (%s mode): %s\n", s.RunID, s.Mode, s.Phase)
	fmt.Fprintf(w, "  items       %8d\n", s.Items)
	fmt.Fprintf(w, "  submitted   %8d\n", s.Submitted)
	fmt.Fprintf(w, "  skipped     %8d  (already submitted by an earlier run of this run id)\n", s.Skipped+s.Recovered)
	if s.Recovered > 0 {
		fmt.Fprintf(w, "    recovered %8d  (found by name after an interrupted run)\n", s.Recovered)
	}
	fmt.Fprintf(w, "  failed      %8d", s.Failed+s.Rejected)
	if s.Rejected > 0 {
		fmt.Fprintf(w, "  (%d rejected by Batch)", s.Rejected)
	}
	fmt.Fprintln(w)
	if s.Pending > 0 {
		fmt.Fprintf(w, "  pending     %8d  (interrupted: re-run with --run-id %s)\n", s.Pending, s.RunID)
	}
	if s.Escalated > 0 {
		fmt.Fprintf(w, "  escalated   %8d  (resubmitted one tier up after running out of memory)\n", s.Escalated)
	}
	fmt.Fprintf(w, "  Batch calls: %d SubmitJob, %d ListJobs; %d requests in %.1fs (%.1f requests/s), %d throttled (429)\n",
		s.SubmitJobCalls, s.ListJobsCalls, s.Requests, s.SubmitSeconds, s.RequestsPerSecond, s.Throttles)
	if s.FanIn != "" {
		fmt.Fprintf(w, "  fan-in: %s\n", s.FanIn)
	}
	if z := s.Sizing; z != nil {
		z.WriteText(w)
	}
	if wp := s.Watch; wp != nil {
		fmt.Fprintf(w, "  watched %d items: %d succeeded, %d failed (%s), %d still running\n",
			wp.Tracked, wp.Succeeded, wp.Failed, failureText(wp.FailedBy), wp.Running())
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

func failureText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
