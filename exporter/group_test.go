package exporter

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/logging"
	"github.com/batchwatch/batchwatch/sim"
)

// TestGroupKeepsAccountsApart plays two accounts in two regions with the
// same queue names; one exporter group per region (one member per account,
// reached through its role) reads that region's central queue. Every
// account's gauges and counters equal that account's truth in that region,
// not the sum of the accounts.
func TestGroupKeepsAccountsApart(t *testing.T) {
	sc, err := sim.LoadScenario("multi-account")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.NewFleet(sim.Config{Scenario: sc.Scaled(0.3), Seed: 5, ExitWhenDone: true, APIRate: -1,
		Now: func() time.Time { return simStart }, Logger: logging.Discard().WithField("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	defer f.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regs := map[string]*prometheus.Registry{}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		g, reg := groupOn(t, f, srv.URL, region)
		regs[region] = reg
		go func() { _ = g.Run(ctx) }()
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = f.Run(ctx) }()
	<-runDone
	for _, m := range f.Members() {
		if err := m.WaitDelivered(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, m := range sc.Fleet {
		member := f.Member(m.Account, m.Region)
		want := truthCounts(member.Truth(), member.Now(), 24*time.Hour)
		finished := 0.0
		for _, j := range member.Truth() {
			if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
				finished++
			}
		}
		for {
			got, gotFinished := accountNumbers(t, regs[m.Region], m.Account)
			if equalCounts(got, want) && gotFinished == finished {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/%s: gauges %v, want %v; finished %v, want %v", m.Account, m.Region, got, want, gotFinished, finished)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if finished == 0 {
			t.Fatalf("%s/%s: no finished job simulated", m.Account, m.Region)
		}
	}
}

// groupOn builds the exporter group of one region on the fleet.
func groupOn(t *testing.T, f *sim.Fleet, url, region string) (*Group, *prometheus.Registry) {
	t.Helper()
	ac := &awsclient.Config{Region: region, EndpointURL: url, MaxAttempts: 10}
	awsCfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ac.SQS(awsCfg, awsclient.Options{}).GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("batchwatch-events-" + region)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{ResyncInterval: 100 * time.Millisecond, CapacityInterval: 100 * time.Millisecond, BatchAPIRate: 2000,
		FinishedWindow: 24 * time.Hour, DescribeLimit: 1000, DedupCapacity: 100000, SQSReceivers: 2, SQSWaitTime: time.Second,
		SQSQueueURL: aws.ToString(q.QueueUrl), PageSize: 1000, CostDailyCalls: 24}
	if err := cfg.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	clients := map[string]BatchAPI{}
	for _, a := range []string{"111111111111", "222222222222"} {
		role := ac.AssumeRole(awsCfg, "arn:aws:iam::"+a+":role/batchwatch-exporter")
		clients[a] = ac.Batch(role, awsclient.Options{Limiter: rate.NewLimiter(2000, 100)})
	}
	member := f.Member("111111111111", region)
	g, err := NewGroup(cfg, Deps{Registry: reg, SQS: ac.SQS(awsCfg, awsclient.Options{}), Now: func() time.Time { return time.UnixMilli(member.Now()) },
		Logger: logging.Discard().WithField("test", t.Name())}, clients)
	if err != nil {
		t.Fatal(err)
	}
	return g, reg
}

// accountNumbers reads one account's queue gauges (as truthCounts keys
// them) and its finished jobs.
func accountNumbers(t *testing.T, reg *prometheus.Registry, account string) (map[string]int64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out, finished := map[string]int64{}, 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["account"] != account {
				continue
			}
			switch mf.GetName() {
			case "batchwatch_queue_jobs":
				if v := int64(m.GetGauge().GetValue()); v != 0 {
					out["jobs/"+l["job_queue"]+"/"+l["status"]] = v
				}
			case "batchwatch_queue_array_child_jobs":
				if v := int64(m.GetGauge().GetValue()); v != 0 {
					out["children/"+l["job_queue"]+"/"+l["status"]] = v
				}
			case "batchwatch_jobs_finished_total":
				finished += m.GetCounter().GetValue()
			}
		}
	}
	return out, finished
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestGroupRefusesBadSetups(t *testing.T) {
	if _, err := NewGroup(&Config{}, Deps{}, nil); err == nil {
		t.Error("a group without accounts was accepted")
	}
	if _, err := NewGroup(&Config{Account: "111111111111"}, Deps{}, map[string]BatchAPI{"111111111111": nil}); err == nil {
		t.Error("a group with --exporter.account was accepted")
	}
}

func TestEventAccount(t *testing.T) {
	ev := &batch.Event{Account: "111111111111"}
	if got := EventAccount(ev); got != "111111111111" {
		t.Errorf("envelope only: %q", got)
	}
	ev.Job.QueueARN = "arn:aws:batch:eu-west-1:222222222222:job-queue/smoke-high"
	if got := EventAccount(ev); got != "222222222222" {
		t.Errorf("queue ARN: %q, want the ARN's account", got)
	}
}

// With --exporter.account, every metric carries the account and events of
// another account (by their queue's ARN) are ignored.
func TestExporterAccountLabelAndFilter(t *testing.T) {
	clock := newFakeClock()
	x, reg := testExporter(t, &Config{Account: testAccount}, oneQueue(), clock, Deps{})
	started(t, x)
	j := &fakeJob{id: "mine", queue: "q1", def: defARN("build", 1), status: "RUNNING", created: t0.UnixMilli(), started: t0.UnixMilli()}
	if r := x.State().ApplyEvent(j.event(t, t0), t0.UnixMilli()); r != resultApplied {
		t.Fatalf("own account's event: %s", r)
	}
	other := (&fakeJob{id: "theirs", queue: "q1", def: defARN("build", 1), status: "RUNNING", created: t0.UnixMilli(), started: t0.UnixMilli()}).event(t, t0)
	other.Job.QueueARN = strings.Replace(other.Job.QueueARN, ":"+testAccount+":", ":999999999999:", 1)
	if r := x.State().ApplyEvent(other, t0.UnixMilli()); r != resultIgnored {
		t.Fatalf("another account's event: %s, want ignored", r)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "batchwatch_queue_") && !strings.HasPrefix(mf.GetName(), "batchwatch_job") {
			continue
		}
		for _, m := range mf.GetMetric() {
			seen++
			account := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "account" {
					account = l.GetValue()
				}
			}
			if account != testAccount {
				t.Fatalf("%s without account %s: %v", mf.GetName(), testAccount, m.GetLabel())
			}
		}
	}
	if seen == 0 {
		t.Fatal("no job or queue series")
	}
}
