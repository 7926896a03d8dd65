//go:build unix

package ingest

import (
	"context"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/batchwatch/batchwatch/awsclient"
	"github.com/batchwatch/batchwatch/logging"
	simsqs "github.com/batchwatch/batchwatch/sim/sqs"
)

// BenchmarkSQSSourceDrain drains 2,000 events per op from the simulator's
// SQS (in process, through the real SDK client) into a pipeline whose
// writer keeps nothing: the cost of the SQS source itself, receive to
// delete. Unix only (CPU time from getrusage).
func BenchmarkSQSSourceDrain(b *testing.B) {
	const perOp = 2000
	srv := simsqs.NewServer(simsqs.Options{})
	hs := httptest.NewServer(srv)
	defer func() {
		srv.Close()
		hs.Close()
	}()
	client := (&awsclient.Config{EndpointURL: hs.URL}).SQS(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}, awsclient.Options{})
	bodies := make([]string, perOp)
	log := logging.Discard().WithField("bench", b.Name())
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A queue per op: a long poll cancelled at the end of the last op
		// may still take messages server-side (as in SQS), which would
		// then wait out their visibility timeout.
		name := "bench-" + strconv.Itoa(i)
		out, err := client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			b.Fatal(err)
		}
		for j := range bodies {
			bodies[j] = string(event("ev-"+strconv.Itoa(i)+"-"+strconv.Itoa(j), "job-"+strconv.Itoa(j)))
		}
		for j := 0; j < perOp; j += 10 {
			if err := srv.SendBatch(name, bodies[j:j+10]); err != nil {
				b.Fatal(err)
			}
		}
		p, m := newTestPipeline(&fakeWriter{}, PipelineConfig{BatchSize: 1000, FlushInterval: 20 * time.Millisecond})
		src := NewSQSSource(client, SQSConfig{QueueURL: aws.ToString(out.QueueUrl), Receivers: 8, WaitTime: time.Second}, m, log, time.Now)
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		pipeDone := make(chan error, 1)
		go func() { pipeDone <- p.Run(context.Background()) }()
		srcDone := make(chan error, 1)
		go func() { srcDone <- src.Run(ctx, p) }()
		for testutil.ToFloat64(m.Acked.WithLabelValues("sqs")) < perOp {
			time.Sleep(time.Millisecond)
		}
		for {
			v, inflight, _, _ := srv.Stats(name)
			if v+inflight == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-srcDone
		p.Close()
		<-pipeDone
	}
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "msgs/s")
	// CPU of the whole process (the in-process simulator included, the
	// same in every run): steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(perOp*b.N), "cpu-µs/msg")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
