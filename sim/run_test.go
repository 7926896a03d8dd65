package sim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// TestRunWithConcurrentClients drives a real-time run (an hour per second)
// while SDK clients submit, list and describe, and others read the truth
// and the metrics: run it with -race.
func TestRunWithConcurrentClients(t *testing.T) {
	sc, err := LoadScenario("smoke")
	if err != nil {
		t.Fatal(err)
	}
	var out lines
	s, err := New(Config{Scenario: sc, Speed: 3600, Seed: 5, ExitWhenDone: true, APIRate: -1, Out: &out,
		Now: func() time.Time { return testStart }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	client, _ := sdkClients(t, srv.URL, sc.Region)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch (w + i) % 3 {
				case 0:
					_, err := client.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("concurrent"),
						JobQueue: aws.String("smoke-high"), JobDefinition: aws.String("smoke-build")})
					if err != nil && ctx.Err() == nil {
						t.Error(err)
					}
				case 1:
					out, err := client.ListJobs(ctx, &batch.ListJobsInput{JobQueue: aws.String("smoke-low"), JobStatus: types.JobStatusRunning})
					if err == nil && len(out.JobSummaryList) > 0 {
						_, err = client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*out.JobSummaryList[0].JobId}})
					}
					if err != nil && ctx.Err() == nil {
						t.Error(err)
					}
				case 2:
					for _, p := range []string{"/sim/truth", "/metrics"} {
						resp, err := http.Get(srv.URL + p)
						if err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	// Clients stop once the workload has run a while; the run then ends.
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run did not end")
	}
	for _, tj := range s.Truth() {
		if tj.CreatedAtMS < testStart.UnixMilli() || (tj.StartedAtMS > 0 && tj.StartedAtMS < tj.CreatedAtMS) ||
			(tj.StoppedAtMS > 0 && tj.StoppedAtMS < tj.StartedAtMS) {
			t.Fatalf("inconsistent times: %+v", tj)
		}
	}
	if n := bytes.Count(out.buf.Bytes(), []byte("\n")); n < 400 {
		t.Fatalf("%d events", n)
	}
}

func TestServe(t *testing.T) {
	sc, err := LoadScenario("smoke")
	if err != nil {
		t.Fatal(err)
	}
	s, url, stop, err := Serve(context.Background(), Config{Scenario: sc, Seed: 1, ExitWhenDone: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get(url + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !s.Done() && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	if visible, _, _, err := s.Queues().Stats("batchwatch-events"); err != nil || visible < 400 {
		t.Fatalf("%d events in the queue (%v)", visible, err)
	}
}
