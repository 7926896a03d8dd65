package submitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// ServeConfig configures the submission service.
type ServeConfig struct {
	// Base holds everything but the plan, run id and mode, which come with
	// each request; Base.Mode is the default mode.
	Base Options
	// Watch, when set, lets requests ask for escalation (it names the
	// events queue); nil refuses them.
	Watch *WatchOptions
	Log   *logrus.Entry
	// MaxBody bounds a request (default 64 MiB).
	MaxBody int64
}

// Server is the HTTP submission service: POST a plan and items to start a
// run, GET its progress. Authentication and TLS come from the web package
// (--web.config.file), like every batchwatch endpoint.
type Server struct {
	cfg ServeConfig
	ctx context.Context
	wg  sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*serveRun
}

type serveRun struct {
	runner   *Runner
	skipped  []LineError
	active   bool
	watching bool
	err      string
}

// RunRequest is the body of POST /api/v1/runs.
type RunRequest struct {
	// RunID is optional; posting an id again re-runs it (submitting only
	// what is not yet submitted).
	RunID string `json:"run_id"`
	// Plan is the plan's YAML text.
	Plan string `json:"plan"`
	// Items are JSON lines or CSV text (ItemsFormat jsonl or csv).
	Items       string `json:"items"`
	ItemsFormat string `json:"items_format"`
	Mode        Mode   `json:"mode"`
	DryRun      bool   `json:"dry_run"`
	SkipInvalid bool   `json:"skip_invalid"`
	Escalate    bool   `json:"escalate"`
}

// RunStatus is the answer of POST and GET: the run's progress and the
// lines skipped as invalid.
type RunStatus struct {
	Summary
	Active  bool          `json:"active"`
	Error   string        `json:"error,omitempty"`
	Skipped []lineErrJSON `json:"skipped_lines,omitempty"`
	// Source is "process" for runs this process started, "journal" for
	// runs only known from the journal (e.g. after a restart).
	Source string `json:"source"`
}

type lineErrJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func lineErrs(list []LineError) []lineErrJSON {
	out := make([]lineErrJSON, len(list))
	for i, e := range list {
		out[i] = lineErrJSON{File: e.File, Line: e.Line, Message: e.Msg}
	}
	return out
}

// NewServer returns the service; runs live until ctx ends.
func NewServer(ctx context.Context, cfg ServeConfig) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Log == nil {
		cfg.Log = cfg.Base.Log
	}
	if cfg.Base.Now == nil {
		cfg.Base.Now = time.Now
	}
	return &Server{cfg: cfg, ctx: ctx, runs: map[string]*serveRun{}}
}

// Handler serves /api/v1/runs and /api/v1/runs/{id}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/runs", s.postRun)
	mux.HandleFunc("GET /api/v1/runs", s.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", s.getRun)
	return mux
}

// Wait blocks until every run goroutine has returned.
func (s *Server) Wait() { s.wg.Wait() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type errorBody struct {
	Error   string        `json:"error"`
	Invalid []lineErrJSON `json:"invalid_lines,omitempty"`
}

func (s *Server) postRun(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, s.cfg.MaxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "read request: " + err.Error()})
		return
	}
	var rr RunRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rr); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body: " + err.Error()})
		return
	}
	if rr.RunID == "" {
		rr.RunID = NewRunID(s.cfg.Base.Now())
	}
	if err := ValidRunID(rr.RunID); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if rr.Mode == "" {
		rr.Mode = s.cfg.Base.Mode
	}
	if rr.Mode != ModeArray && rr.Mode != ModeSingle {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("mode %q: use array or single", rr.Mode)})
		return
	}
	if rr.Escalate && s.cfg.Watch == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "escalation needs the service started with --events.queue-url"})
		return
	}
	itemsName := "items.jsonl"
	if rr.ItemsFormat == FormatCSV {
		itemsName = "items.csv"
	}
	prep, err := Prepare("plan.yaml", []byte(rr.Plan), itemsName, strings.NewReader(rr.Items), rr.ItemsFormat, rr.SkipInvalid)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid plan or items; nothing submitted", Invalid: lineErrs(ve.Errors)})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if rr.DryRun {
		d := PlanDryRun(prep.Plan, prep.Assignments, rr.Mode, s.cfg.Base.ArraySize)
		d.Invalid = len(prep.Skipped)
		writeJSON(w, http.StatusOK, d)
		return
	}

	s.mu.Lock()
	if cur, ok := s.runs[rr.RunID]; ok && cur.active {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, errorBody{Error: fmt.Sprintf("run %s is in progress", rr.RunID)})
		return
	}
	if rr.Escalate {
		// The watcher empties the events queue: two watchers would steal
		// each other's events.
		for id, cur := range s.runs {
			if cur.active && cur.watching {
				s.mu.Unlock()
				writeJSON(w, http.StatusConflict, errorBody{Error: fmt.Sprintf("run %s is watching the events queue; one escalating run at a time", id)})
				return
			}
		}
	}
	o := s.cfg.Base
	o.Plan, o.RunID, o.Mode = prep.Plan, rr.RunID, rr.Mode
	o.DeferFanIn = rr.Escalate
	runner, err := New(o)
	if err != nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	run := &serveRun{runner: runner, skipped: prep.Skipped, active: true, watching: rr.Escalate}
	s.runs[rr.RunID] = run
	s.wg.Add(1)
	s.mu.Unlock()

	log := s.cfg.Log.WithField("run_id", rr.RunID)
	go func() {
		defer s.wg.Done()
		err := s.execute(runner, prep.Assignments, rr.Escalate)
		s.mu.Lock()
		run.active = false
		if err != nil {
			run.err = err.Error()
		}
		s.mu.Unlock()
		if err != nil {
			log.WithError(err).Error("run failed")
			return
		}
		log.Info("run finished")
	}()
	log.WithField("items", len(prep.Assignments)).WithField("mode", rr.Mode).Info("run started")
	w.Header().Set("Location", "/api/v1/runs/"+rr.RunID)
	writeJSON(w, http.StatusAccepted, s.status(run))
}

func (s *Server) execute(r *Runner, as []Assignment, escalate bool) error {
	if _, err := r.Submit(s.ctx, as); err != nil {
		return err
	}
	if escalate {
		w := *s.cfg.Watch
		w.Escalate = true
		return r.Watch(s.ctx, w)
	}
	return nil
}

func (s *Server) status(run *serveRun) RunStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return RunStatus{Summary: run.runner.Summary(), Active: run.active, Error: run.err,
		Skipped: lineErrs(run.skipped), Source: "process"}
}

func (s *Server) getRun(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	s.mu.Lock()
	run, ok := s.runs[id]
	s.mu.Unlock()
	if ok {
		writeJSON(w, http.StatusOK, s.status(run))
		return
	}
	if err := ValidRunID(id); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	recs, err := s.cfg.Base.Journal.Load(req.Context(), id)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
		return
	}
	if len(recs) == 0 {
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("run %s is unknown", id)})
		return
	}
	writeJSON(w, http.StatusOK, journalStatus(id, recs))
}

// journalStatus summarizes a run from its journal alone.
func journalStatus(id string, recs []Record) RunStatus {
	st := RunStatus{Summary: Summary{RunID: id, Phase: "journal"}, Source: "journal"}
	for _, rec := range latest(recs) {
		if rec.Kind == KindFanIn && rec.State == StateSubmitted {
			st.FanIn = "submitted " + rec.JobID
		}
		if rec.Kind != KindItem {
			continue
		}
		st.Items++
		if st.StartedAt.IsZero() || rec.RunStartedAt.Before(st.StartedAt) {
			st.StartedAt = rec.RunStartedAt
		}
		if rec.ArrayIndex >= 0 {
			st.Mode = ModeArray
		} else if st.Mode == "" {
			st.Mode = ModeSingle
		}
		if rec.Attempt > 0 {
			st.Escalated++
		}
		switch rec.State {
		case StateSubmitted, StateEscalated:
			st.Submitted++
		case StateFailed:
			st.Failed++
		case StateRejected:
			st.Rejected++
		case StatePending:
			st.Pending++
		}
	}
	return st
}

func (s *Server) listRuns(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.runs))
	for id := range s.runs {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	out := make([]RunStatus, 0, len(ids))
	for _, id := range ids {
		s.mu.Lock()
		run := s.runs[id]
		s.mu.Unlock()
		out = append(out, s.status(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}
