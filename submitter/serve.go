package submitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
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
	// Allow bounds the plans accepted; checked before anything is
	// submitted.
	Allow AllowList
	// MaxBody bounds a request (default 8 MiB).
	MaxBody int64
	// MaxActive caps the runs in progress; beyond it POST answers 429
	// (default 4).
	MaxActive int
	// MaxRuns caps the runs remembered in memory: the oldest finished
	// ones are forgotten first (their journal stays); when all are in
	// progress POST answers 429 (default 1000).
	MaxRuns int
}

// Server is the HTTP submission service: POST a plan and items to start a
// run, GET its progress. Authentication and TLS come from the web package
// (--web.config.file), like every batchwatch endpoint; the basic-auth user
// is the caller, who sees only its own runs.
type Server struct {
	cfg ServeConfig
	ctx context.Context
	wg  sync.WaitGroup

	mu    sync.Mutex
	runs  map[string]*serveRun
	order []string // run ids, oldest first
}

type serveRun struct {
	runner   *Runner
	owner    string
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
		cfg.MaxBody = 8 << 20
	}
	if cfg.MaxActive <= 0 {
		cfg.MaxActive = 4
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = 1000
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
	return s.logRequests(mux)
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
	// Disallowed lists what the plan asks outside the allow-list.
	Disallowed []string `json:"disallowed,omitempty"`
}

// Caller is the basic-auth user of a request (exporter-toolkit has already
// checked the password), or "" when the service runs without auth.
func Caller(req *http.Request) string {
	user, _, _ := req.BasicAuth()
	return user
}

// ownsRunID tells whether a run id belongs to the caller: with auth, every
// caller's run ids start with its name and a hyphen, so callers cannot read
// or re-run each other's runs, from memory or from the journal.
func ownsRunID(caller, id string) bool {
	return caller == "" || strings.HasPrefix(id, caller+"-")
}

func (s *Server) postRun(w http.ResponseWriter, req *http.Request) {
	caller := Caller(req)
	rr, ok := s.decodeRunRequest(w, req, caller)
	if !ok {
		return
	}
	prep, ok := s.prepareRun(w, rr)
	if !ok {
		return
	}
	if rr.DryRun {
		d := PlanDryRun(prep.Plan, prep.Assignments, rr.Mode, s.cfg.Base.ArraySize)
		d.Invalid = len(prep.Skipped)
		writeJSON(w, http.StatusOK, d)
		return
	}
	run, code, err := s.startRun(rr, prep, caller)
	if err != nil {
		writeJSON(w, code, errorBody{Error: err.Error()})
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+rr.RunID)
	writeJSON(w, http.StatusAccepted, s.status(run))
}

// decodeRunRequest reads a bounded body and checks everything but the plan
// and items; it answers the error itself.
func (s *Server) decodeRunRequest(w http.ResponseWriter, req *http.Request, caller string) (*RunRequest, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, s.cfg.MaxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("read request (at most %d bytes): %v", s.cfg.MaxBody, err)})
		return nil, false
	}
	var rr RunRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rr); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body: " + err.Error()})
		return nil, false
	}
	if rr.RunID == "" {
		rr.RunID = NewRunID(s.cfg.Base.Now())
		if caller != "" {
			rr.RunID = caller + "-" + rr.RunID
		}
	}
	fail := func(code int, msg string) (*RunRequest, bool) {
		writeJSON(w, code, errorBody{Error: msg})
		return nil, false
	}
	if err := ValidRunID(rr.RunID); err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	if !ownsRunID(caller, rr.RunID) {
		return fail(http.StatusForbidden, fmt.Sprintf("run id %q: the run ids of %s start with %q", rr.RunID, caller, caller+"-"))
	}
	if rr.Mode == "" {
		rr.Mode = s.cfg.Base.Mode
	}
	if rr.Mode != ModeArray && rr.Mode != ModeSingle {
		return fail(http.StatusBadRequest, fmt.Sprintf("mode %q: use array or single", rr.Mode))
	}
	if rr.Escalate && s.cfg.Watch == nil {
		return fail(http.StatusBadRequest, "escalation needs the service started with --events.queue-url")
	}
	return &rr, true
}

// prepareRun validates the plan and items and checks the plan against the
// allow-list; it answers the error itself.
func (s *Server) prepareRun(w http.ResponseWriter, rr *RunRequest) (*Prepared, bool) {
	itemsName := "items.jsonl"
	if rr.ItemsFormat == FormatCSV {
		itemsName = "items.csv"
	}
	prep, err := Prepare("plan.yaml", []byte(rr.Plan), itemsName, strings.NewReader(rr.Items), rr.ItemsFormat, rr.SkipInvalid)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid plan or items; nothing submitted", Invalid: lineErrs(ve.Errors)})
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return nil, false
	}
	if bad := s.cfg.Allow.Check(prep.Plan); len(bad) > 0 {
		writeJSON(w, http.StatusForbidden, errorBody{Error: "plan outside the service's allow-list; nothing submitted", Disallowed: bad})
		return nil, false
	}
	return prep, true
}

// startRun registers and starts a run, within the caps on runs in progress
// and runs remembered. It returns the HTTP status of a refusal.
func (s *Server) startRun(rr *RunRequest, prep *Prepared, caller string) (*serveRun, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.runs[rr.RunID]; ok && cur.active {
		return nil, http.StatusConflict, fmt.Errorf("run %s is in progress", rr.RunID)
	}
	active := 0
	for id, cur := range s.runs {
		if !cur.active {
			continue
		}
		active++
		// The watcher empties the events queue: two watchers would
		// steal each other's events.
		if rr.Escalate && cur.watching {
			return nil, http.StatusConflict, fmt.Errorf("run %s is watching the events queue; one escalating run at a time", id)
		}
	}
	if active >= s.cfg.MaxActive {
		return nil, http.StatusTooManyRequests, fmt.Errorf("%d runs in progress, the service's limit; retry when one has finished", active)
	}
	if !s.makeRoom(rr.RunID) {
		return nil, http.StatusTooManyRequests, fmt.Errorf("the service remembers %d runs, none finished; retry later", s.cfg.MaxRuns)
	}
	o := s.cfg.Base
	o.Plan, o.RunID, o.Mode = prep.Plan, rr.RunID, rr.Mode
	o.DeferFanIn = rr.Escalate
	runner, err := New(o)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	run := &serveRun{runner: runner, owner: caller, skipped: prep.Skipped, active: true, watching: rr.Escalate}
	if _, ok := s.runs[rr.RunID]; !ok {
		s.order = append(s.order, rr.RunID)
	}
	s.runs[rr.RunID] = run
	s.wg.Add(1)
	go s.runInBackground(run, rr, prep.Assignments)
	return run, 0, nil
}

// makeRoom forgets the oldest finished runs until a new one fits; s.mu is
// held. A run id already remembered needs no room.
func (s *Server) makeRoom(id string) bool {
	if _, ok := s.runs[id]; ok {
		return true
	}
	for i := 0; len(s.runs) >= s.cfg.MaxRuns && i < len(s.order); {
		old := s.order[i]
		if s.runs[old].active {
			i++
			continue
		}
		delete(s.runs, old)
		s.order = slices.Delete(s.order, i, i+1)
	}
	return len(s.runs) < s.cfg.MaxRuns
}

func (s *Server) runInBackground(run *serveRun, rr *RunRequest, as []Assignment) {
	defer s.wg.Done()
	log := s.cfg.Log.WithField("run_id", rr.RunID).WithField("caller", run.owner)
	log.WithField("items", len(as)).WithField("mode", rr.Mode).Info("run started")
	err := s.execute(run.runner, as, rr.Escalate)
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
	id, caller := req.PathValue("id"), Caller(req)
	s.mu.Lock()
	run, ok := s.runs[id]
	s.mu.Unlock()
	if ok && run.owner == caller {
		writeJSON(w, http.StatusOK, s.status(run))
		return
	}
	if err := ValidRunID(id); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if !ownsRunID(caller, id) {
		// Not "forbidden": whether another caller's run exists is theirs.
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("run %s is unknown", id)})
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

func (s *Server) listRuns(w http.ResponseWriter, req *http.Request) {
	caller := Caller(req)
	s.mu.Lock()
	var runs []*serveRun
	for _, id := range slices.Sorted(maps.Keys(s.runs)) {
		if run := s.runs[id]; run.owner == caller {
			runs = append(runs, run)
		}
	}
	s.mu.Unlock()
	out := make([]RunStatus, 0, len(runs))
	for _, run := range runs {
		out = append(out, s.status(run))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

// logRequests logs every request with its caller and answer.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, req)
		s.cfg.Log.WithField("caller", Caller(req)).WithField("remote", req.RemoteAddr).
			WithField("method", req.Method).WithField("path", req.URL.Path).
			WithField("status", rec.code).Info("request")
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
