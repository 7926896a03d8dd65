package submitter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/web"
)

// TestServe: the HTTP service behind the web package, with basic auth from
// a web config file: POST a plan and items, GET the run's progress.
func TestServe(t *testing.T) {
	e := newSimEnv(t, simConfig{apiRate: -1})
	j := NewMemoryJournal()
	base := e.options(t, nil, "unused", ModeArray, j)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := NewServer(ctx, ServeConfig{Base: base, Allow: zendeskAllow()})

	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfgFile, []byte("basic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600); err != nil {
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
	served := make(chan error, 1)
	go func() { served <- ws.Serve(ctx) }()
	url := "http://" + ws.Addrs()[0]

	call := func(method, path string, body any, auth bool) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, url+path, rd)
		if auth {
			req.SetBasicAuth("ops", "s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	plan, _ := os.ReadFile("testdata/zendesk-day/plan.yaml")
	items := string(encodeItems(zendeskItems(200)))
	req := RunRequest{RunID: "ops-api-1", Plan: string(plan), Items: items}

	if code, _ := call("POST", "/api/v1/runs", req, false); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}

	// Invalid items: 400 naming the lines, nothing started.
	badReq := req
	badReq.Items = items + `{"key": "acct-1000000", "size": 5}` + "\n" + `{"size": 1}` + "\n"
	code, body := call("POST", "/api/v1/runs", badReq, true)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `duplicate key \"acct-1000000\" (first at line 1)`) ||
		!strings.Contains(string(body), `"line": 202`) {
		t.Errorf("invalid items: %d %s", code, body)
	}

	// Dry run.
	dry := req
	dry.DryRun = true
	code, body = call("POST", "/api/v1/runs", dry, true)
	var d DryRun
	if code != http.StatusOK || json.Unmarshal(body, &d) != nil || d.Total.Items != 200 || d.Total.Calls != 5 {
		t.Errorf("dry run: %d %s", code, body)
	}
	if e.faults.submits.Load() != 0 {
		t.Fatal("a dry run or an invalid request submitted jobs")
	}

	code, body = call("POST", "/api/v1/runs", req, true)
	if code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, body)
	}
	var st RunStatus
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body = call("GET", "/api/v1/runs/ops-api-1", nil, true)
		if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
			t.Fatalf("progress: %d %s", code, body)
		}
		if !st.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still active: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Phase != "submitted" || st.Submitted != 200 || st.Source != "process" || !strings.HasPrefix(st.FanIn, "submitted ") {
		t.Errorf("final status %s", body)
	}
	// Posting the same run id again submits nothing more.
	if code, body = call("POST", "/api/v1/runs", req, true); code != http.StatusAccepted {
		t.Fatalf("re-run: %d %s", code, body)
	}
	srv.Wait()
	if _, body = call("GET", "/api/v1/runs/ops-api-1", nil, true); !strings.Contains(string(body), `"skipped": 200`) {
		t.Errorf("re-run status %s", body)
	}
	if code, body = call("GET", "/api/v1/runs", nil, true); code != http.StatusOK || !strings.Contains(string(body), `"run_id": "ops-api-1"`) {
		t.Errorf("list: %d %s", code, body)
	}

	// A run this process did not start is read from the journal.
	other := NewServer(ctx, ServeConfig{Base: base, Allow: zendeskAllow()})
	rec := httpRecorder(t, other.Handler(), "GET", "/api/v1/runs/ops-api-1")
	if !strings.Contains(rec, `"source": "journal"`) || !strings.Contains(rec, `"submitted": 200`) || !strings.Contains(rec, `"mode": "array"`) {
		t.Errorf("journal status %s", rec)
	}
	if rec := httpRecorder(t, other.Handler(), "GET", "/api/v1/runs/nope"); !strings.Contains(rec, "unknown") {
		t.Errorf("unknown run: %s", rec)
	}
	cancel()
	if err := <-served; err != nil {
		t.Error(err)
	}
}

func httpRecorder(t *testing.T, h http.Handler, method, path string) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return fmt.Sprintf("%d %s", w.Code, w.Body.String())
}

// zendeskAllow allows exactly what testdata/zendesk-day/plan.yaml asks.
func zendeskAllow() AllowList {
	return AllowList{
		Queues:         []string{"zd-low", "zd-medium", "arn:aws:batch:us-east-1:123456789012:job-queue/zd-high"},
		JobDefinitions: []string{"model-build-small", "model-build-medium", "model-build-large:3", "nightly-report"},
		MaxVCPUs:       4, MaxMemoryMiB: 28672,
		Tags: []string{"team", "cost-center"},
	}
}
