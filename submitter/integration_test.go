//go:build integration

package submitter

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// TestClickHouseKillAndRerun: with the journal in ClickHouse, a run killed
// at a random SubmitJob (job created, answer lost, nothing more journaled)
// and re-run with the same run id submits every item exactly once, as the
// journal and the simulator both show.
func TestClickHouseKillAndRerun(t *testing.T) {
	clickHouseKillAndRerun(t, testenv.Store(t))
}

// TestClusterClickHouseKillAndRerun: the same with the journal on the
// 2 x 2 cluster (docs/cluster.md): quorum inserts, and a re-run reading
// what the killed run wrote through the Distributed table.
func TestClusterClickHouseKillAndRerun(t *testing.T) {
	c := testenv.StartCluster(t)
	st, err := store.Open(c.Config(t), logging.Discard().WithField("test", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	clickHouseKillAndRerun(t, st)
}

func clickHouseKillAndRerun(t *testing.T, st *store.Store) {
	for _, c := range []struct {
		mode  Mode
		items int
		size  int
	}{{ModeSingle, 150, 0}, {ModeArray, 600, 100}} {
		t.Run(string(c.mode), func(t *testing.T) {
			killAt := randomKillPoint(t, c.mode, c.items, c.size, 3)

			e := newSimEnv(t, simConfig{apiRate: -1})
			p := zendeskPlan(t, noFanIn)
			as, keys := assign(t, p, zendeskItems(c.items))
			j := NewClickHouseJournal(st)
			ctx, kill := context.WithCancel(context.Background())
			var once sync.Once
			e.faults.setLose(func(n int64) bool {
				if n != killAt {
					return false
				}
				once.Do(kill)
				return true
			})
			runID := "ch-kill-" + string(c.mode)
			o := e.options(t, p, runID, c.mode, j)
			o.ArraySize = c.size
			o.IntentBatch = 40
			r1, _ := New(o)
			sum1, err1 := r1.Submit(ctx, as)
			if err1 == nil {
				t.Fatal("the killed run reported success")
			}
			after1, _ := j.Load(context.Background(), runID)
			e.faults.setLose(nil)
			e.faults.settle()
			r2, _ := New(o)
			sum, err := r2.Submit(context.Background(), as)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Failed+sum.Rejected+sum.Pending != 0 || sum.Recovered == 0 {
				t.Errorf("re-run %+v", sum)
			}
			checkExactlyOnce(t, e, p, runID, j, keys)
			if t.Failed() {
				states := map[string]string{}
				for _, rec := range after1 {
					states[rec.JobName] += string(rec.State)[:1]
				}
				t.Logf("first run %+v (%v); journal after it, per job name: %v", sum1, err1, states)
			}

			var items, jobs uint64
			err = st.Conn().QueryRow(context.Background(), "SELECT count(), uniqExact(job_id) FROM "+st.Table("submissions")+
				" FINAL WHERE run_id = ? AND kind = 'item' AND state = 'submitted'", runID).Scan(&items, &jobs)
			if err != nil {
				t.Fatal(err)
			}
			if items != uint64(len(as)) || jobs != items {
				t.Errorf("journal: %d submitted items, %d distinct jobs, want %d", items, jobs, len(as))
			}
		})
	}
}

// TestJournalJoinsJobs: every item's job, ingested from the simulator's
// events into jobs, joins back to its item in submissions; in array mode
// by the child id <parent>:<index>.
func TestJournalJoinsJobs(t *testing.T) {
	st := testenv.Store(t)
	sc, err := sim.LoadScenario("testdata/sim-escalation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	s, err := sim.New(sim.Config{Scenario: sc, NoWorkload: true, APIRate: -1, Out: &out,
		Registry: prometheus.NewRegistry(), Logger: logging.Discard().WithField("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	e := newSimEnvFor(t, s)
	p := escalationPlan(t)
	var items []Item
	for i := range 30 {
		items = append(items, Item{Key: "acct-" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Size: float64(100 + i), Line: i + 1})
	}
	as, keys := assign(t, p, items)
	j := NewClickHouseJournal(st)
	r, _ := New(e.options(t, p, "join", ModeArray, j))
	if _, err := r.Submit(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, e, p, "join", j, keys)

	// Wait until every job finished, then ingest the events.
	deadline := time.Now().Add(60 * time.Second)
	for !allTerminal(s.Truth()) {
		if time.Now().After(deadline) {
			t.Fatal("jobs did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.WaitDelivered(context.Background()); err != nil {
		t.Fatal(err)
	}
	var recs []store.Received
	sc2 := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc2.Buffer(make([]byte, 1<<20), 1<<22)
	for sc2.Scan() {
		ev, err := batch.Parse(append([]byte(nil), sc2.Bytes()...))
		if err != nil {
			continue
		}
		recs = append(recs, store.Received{Event: ev, Source: "replay", ReceivedAt: time.Now()})
	}
	if _, err := st.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	q := "SELECT item_key, array_index, status FROM (SELECT item_key, job_id, array_index FROM " + st.Table("submissions") +
		" FINAL WHERE run_id = ? AND kind = 'item') ANY INNER JOIN (SELECT job_id, status FROM " + st.Table("jobs") +
		" FINAL) USING job_id"
	rows, err := st.Conn().Query(context.Background(), q, "join")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	joined := map[string]string{}
	for rows.Next() {
		var key, status string
		var idx int32
		if err := rows.Scan(&key, &idx, &status); err != nil {
			t.Fatal(err)
		}
		if idx < 0 {
			t.Errorf("%s: not an array child", key)
		}
		joined[key] = status
	}
	for _, k := range keys {
		if joined[k] != "SUCCEEDED" {
			t.Errorf("item %s joins to %q", k, joined[k])
		}
	}
}

func allTerminal(ts []sim.TruthJob) bool {
	for _, tj := range ts {
		if tj.Status != "SUCCEEDED" && tj.Status != "FAILED" {
			return false
		}
	}
	return len(ts) > 0
}

// newSimEnvFor wraps an already built simulator, running it.
func newSimEnvFor(t *testing.T, s *sim.Sim) *simEnv {
	e := newSimEnvWith(t, s, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return e
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

// TestS3Manifests: manifests go to S3 (moto here) where jobs read them.
func TestS3Manifests(t *testing.T) {
	url := testenv.RequireMoto(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	awsCfg := &awsclient.Config{Region: "us-east-1", EndpointURL: url}
	cfg, err := awsclient.Load(context.Background(), awsCfg)
	if err != nil {
		t.Fatal(err)
	}
	client := awsCfg.S3(cfg, awsclient.Options{})
	bucket := strings.ReplaceAll(testenv.UniqueName("bw-manifests"), "_", "-")
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	m, err := OpenManifests("s3://"+bucket+"/runs/", client)
	if err != nil {
		t.Fatal(err)
	}
	data := EncodeManifest([]ManifestEntry{{Index: 0, Key: "a", Size: 1, Tier: "small"}, {Index: 1, Key: "b", Size: 2, Tier: "small"}})
	got, err := m.Put(context.Background(), "run-1/arr.jsonl", data)
	if err != nil {
		t.Fatal(err)
	}
	if got != "s3://"+bucket+"/runs/run-1/arr.jsonl" {
		t.Errorf("url %s", got)
	}
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("runs/run-1/arr.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	entry, err := ReadManifestEntry(obj.Body, 1)
	if err != nil || entry.Key != "b" {
		t.Errorf("child 1 reads %+v %v", entry, err)
	}
	_, _ = io.Copy(io.Discard, obj.Body)
}
