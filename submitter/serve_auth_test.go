package submitter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/crypto/bcrypt"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/web"
)

func TestAllowListCheck(t *testing.T) {
	data, err := os.ReadFile("testdata/zendesk-day/plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	load := func(edit func(string) string) *Plan {
		t.Helper()
		p, err := ParsePlan("plan.yaml", []byte(edit(string(data))))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	same := func(s string) string { return s }
	if bad := zendeskAllow().Check(load(same)); len(bad) != 0 {
		t.Errorf("the allowed plan: %v", bad)
	}
	for _, c := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"queue", func(s string) string { return strings.Replace(s, "queue: zd-high", "queue: prod-critical", 1) },
			`job queue "prod-critical" is not allowed`},
		{"job definition", func(s string) string {
			return strings.Replace(s, "job_definition: model-build-large", "job_definition: arn:aws:batch:us-east-1:1:job-definition/admin-shell:1", 1)
		}, `tier large: job definition "arn:aws:batch:us-east-1:1:job-definition/admin-shell:1" is not allowed`},
		{"vcpus", func(s string) string { return strings.Replace(s, "vcpus: 4", "vcpus: 96", 1) },
			"tier large: 96 vCPUs, 28672 MiB, 0 GPUs exceeds the service's limit of 4 vCPUs, 28672 MiB, 0 GPUs"},
		{"memory", func(s string) string { return strings.Replace(s, "memory_mib: 2048", "memory_mib: 500000", 1) },
			"tier small: 1 vCPUs, 500000 MiB"},
		{"tag", func(s string) string { return strings.Replace(s, "team: ml-platform", "owner: mallory", 1) },
			`tag "owner" is not allowed (allowed: team, cost-center)`},
	} {
		bad := zendeskAllow().Check(load(c.edit))
		if len(bad) != 1 || !strings.Contains(bad[0], c.want) {
			t.Errorf("%s: %q, want one complaint containing %q", c.name, bad, c.want)
		}
	}
	if err := (AllowList{}).Validate(); err == nil || !strings.Contains(err.Error(), "--serve.allow-queue") {
		t.Errorf("empty allow-list: %v", err)
	}
	if err := zendeskAllow().Validate(); err != nil {
		t.Error(err)
	}
}

func TestCheckExposure(t *testing.T) {
	for _, c := range []struct {
		listen   []string
		cfg      string
		insecure bool
		ok       bool
	}{
		{[]string{"127.0.0.1:9824"}, "", false, true},
		{[]string{"[::1]:9824", "localhost:9824"}, "", false, true},
		{[]string{":9824"}, "", false, false},
		{[]string{"127.0.0.1:9824", "0.0.0.0:9824"}, "", false, false},
		{[]string{"10.0.0.5:9824"}, "", false, false},
		{[]string{":9824"}, "web.yml", false, true},
		{[]string{":9824"}, "", true, true},
		{[]string{"9824"}, "", false, false},
	} {
		err := CheckExposure(c.listen, c.cfg, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("%v cfg=%q insecure=%v: %v", c.listen, c.cfg, c.insecure, err)
		}
		if err != nil && !strings.Contains(err.Error(), "listen address") {
			t.Errorf("unclear error %v", err)
		}
	}
}

// gateJournal holds every Write until released, so runs stay in progress.
type gateJournal struct {
	Journal
	gate chan struct{}
	once sync.Once
}

func (g *gateJournal) Write(ctx context.Context, recs []Record) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Journal.Write(ctx, recs)
}

func (g *gateJournal) release() { g.once.Do(func() { close(g.gate) }) }

// serveAPI serves the service behind basic auth for the users given (all
// with password "pw") and returns a caller: user "" sends no credentials.
func serveAPI(t *testing.T, ctx context.Context, srv *Server, users ...string) func(user, method, path string, body any) (int, []byte) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := "basic_auth_users:\n"
	for _, u := range users {
		cfg += "  " + u + ": " + string(hash) + "\n"
	}
	cfgFile := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := []string{"127.0.0.1:0"}
	ws, err := web.New(&web.Flags{FlagConfig: &toolkitweb.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &cfgFile}},
		web.Options{Name: "batchwatch submit"}, logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	ws.Handle("/api/", srv.Handler())
	if err := ws.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ws.Serve(ctx) }()
	t.Cleanup(func() { <-done })
	base := "http://" + ws.Addrs()[0]
	return func(user, method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if user != "" {
			req.SetBasicAuth(user, "pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
}

// TestServeCallersAndLimits: every caller sees only its own runs, plans
// outside the allow-list and requests without credentials submit nothing,
// runs in progress and runs remembered are capped, bodies are bounded, and
// every request is logged with its caller.
func TestServeCallersAndLimits(t *testing.T) {
	e := newSimEnv(t, simConfig{apiRate: -1})
	j := &gateJournal{Journal: NewMemoryJournal(), gate: make(chan struct{})}
	defer j.release()
	base := e.options(t, nil, "unused", ModeArray, j)
	logger, hook := logtest.NewNullLogger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := NewServer(ctx, ServeConfig{Base: base, Allow: zendeskAllow(), Log: logger.WithField("test", t.Name()),
		MaxActive: 1, MaxRuns: 2, MaxBody: 64 << 10})
	call := serveAPI(t, ctx, srv, "ops", "ci")

	plan, _ := os.ReadFile("testdata/zendesk-day/plan.yaml")
	req := RunRequest{Plan: string(plan), Items: string(encodeItems(zendeskItems(20)))}

	if code, _ := call("", "POST", "/api/v1/runs", req); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	outside := req
	outside.Plan = strings.Replace(string(plan), "queue: zd-high", "queue: prod-critical", 1)
	code, body := call("ops", "POST", "/api/v1/runs", outside)
	if code != http.StatusForbidden || !strings.Contains(string(body), "plan outside the service's allow-list; nothing submitted") ||
		!strings.Contains(string(body), `job queue \"prod-critical\" is not allowed`) {
		t.Errorf("outside the allow-list: %d %s", code, body)
	}
	if code, body := call("ops", "POST", "/api/v1/runs", RunRequest{Plan: strings.Repeat("x", 70<<10)}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d %s", code, body)
	}
	if n := e.faults.submits.Load(); n != 0 {
		t.Fatalf("refused requests submitted %d jobs", n)
	}

	// ops starts a run (held in progress by the journal): ci cannot see
	// it, nor take its id, nor start a second run beyond the cap.
	code, body = call("ops", "POST", "/api/v1/runs", req)
	var st RunStatus
	if code != http.StatusAccepted || json.Unmarshal(body, &st) != nil || !strings.HasPrefix(st.RunID, "ops-") {
		t.Fatalf("ops start: %d %s", code, body)
	}
	opsRun := st.RunID
	if code, body := call("ci", "GET", "/api/v1/runs/"+opsRun, nil); code != http.StatusNotFound {
		t.Errorf("ci reads ops's run: %d %s", code, body)
	}
	if code, body := call("ci", "GET", "/api/v1/runs", nil); code != http.StatusOK || strings.Contains(string(body), opsRun) {
		t.Errorf("ci lists: %d %s", code, body)
	}
	steal := req
	steal.RunID = opsRun
	if code, body := call("ci", "POST", "/api/v1/runs", steal); code != http.StatusForbidden || !strings.Contains(string(body), `start with \"ci-\"`) {
		t.Errorf("ci re-runs ops's run id: %d %s", code, body)
	}
	if code, body := call("ci", "POST", "/api/v1/runs", req); code != http.StatusTooManyRequests {
		t.Errorf("beyond the concurrent runs: %d %s", code, body)
	}
	if code, body := call("ops", "GET", "/api/v1/runs", nil); code != http.StatusOK || !strings.Contains(string(body), opsRun) {
		t.Errorf("ops lists: %d %s", code, body)
	}

	j.release()
	waitInactive(t, call, "ops", opsRun)
	// Two more runs: the cap of two remembered runs forgets the first.
	for _, id := range []string{"ci-a", "ci-b"} {
		r := req
		r.RunID = id
		if code, body := call("ci", "POST", "/api/v1/runs", r); code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", id, code, body)
		}
		waitInactive(t, call, "ci", id)
	}
	srv.mu.Lock()
	_, remembered := srv.runs[opsRun]
	n := len(srv.runs)
	srv.mu.Unlock()
	if remembered || n != 2 {
		t.Errorf("remembered %d runs, ops's first run still there: %v", n, remembered)
	}
	// Forgotten from memory, ops's run is still read from the journal.
	if code, body := call("ops", "GET", "/api/v1/runs/"+opsRun, nil); code != http.StatusOK || !strings.Contains(string(body), `"source": "journal"`) {
		t.Errorf("ops's forgotten run: %d %s", code, body)
	}

	callers := map[string]bool{}
	for _, entry := range hook.AllEntries() {
		if entry.Message == "request" {
			callers[entry.Data["caller"].(string)] = true
		}
	}
	if !callers["ops"] || !callers["ci"] {
		t.Errorf("request log callers %v, want ops and ci", callers)
	}
}

func waitInactive(t *testing.T, call func(user, method, path string, body any) (int, []byte), user, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := call(user, "GET", "/api/v1/runs/"+id, nil)
		var st RunStatus
		if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
			t.Fatalf("progress of %s: %d %s", id, code, body)
		}
		if !st.Active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still active: %s", id, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAllowListSplitLists(t *testing.T) {
	a := AllowList{Queues: []string{"a,b", ""}, JobDefinitions: []string{" d1 , d2:3"}, Tags: []string{""}}
	a.SplitLists()
	if strings.Join(a.Queues, "|") != "a|b" || strings.Join(a.JobDefinitions, "|") != "d1|d2:3" || len(a.Tags) != 0 {
		t.Errorf("split: %+v", a)
	}
}
