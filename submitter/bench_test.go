package submitter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"golang.org/x/time/rate"

	"github.com/batchwatch/batchwatch/awsclient"
)

// BenchmarkSingleModeRate measures single mode against the simulator's
// shared budget of 50 Batch calls/s: at the default 40/s alone, at 40/s
// with a neighbour polling ListJobs at 15/s (so the account is over budget
// and throttles), and asking for 80/s. It reports submitted items/s,
// HTTP requests/s and 429s; every item must be submitted exactly once.
//
//	go test ./submitter -run '^$' -bench SingleModeRate -benchtime 1x
func BenchmarkSingleModeRate(b *testing.B) {
	const items = 1200
	for _, c := range []struct {
		name      string
		rate      float64
		neighbour float64
	}{{"rate=40", 40, 0}, {"rate=40+neighbour=15", 40, 15}, {"rate=80", 80, 0}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				e := newSimEnv(b, simConfig{rate: c.rate})
				p := zendeskPlan(b, noFanIn)
				as, _ := assign(b, p, zendeskItems(items))
				o := e.options(b, p, "bench-"+strconv.Itoa(int(c.rate)), ModeSingle, NewMemoryJournal())
				o.Concurrency = 16
				r, _ := New(o)
				ctx, stop := context.WithCancel(context.Background())
				// The neighbour has its own client: only the account's
				// budget is shared.
				awsCfg := &awsclient.Config{EndpointURL: e.srv.URL, MaxAttempts: 1}
				cfg, err := awsclient.Load(ctx, awsCfg)
				if err != nil {
					b.Fatal(err)
				}
				neighbour := awsCfg.Batch(cfg, awsclient.Options{})
				neighbourCalls := 0
				done := make(chan struct{})
				go func() {
					defer close(done)
					if c.neighbour == 0 {
						return
					}
					lim := rate.NewLimiter(rate.Limit(c.neighbour), 1)
					for lim.Wait(ctx) == nil {
						_, _ = neighbour.ListJobs(ctx, &awsbatch.ListJobsInput{JobQueue: aws.String("zd-low"), MaxResults: aws.Int32(1)})
						neighbourCalls++
					}
				}()
				sum, err := r.Submit(context.Background(), as)
				stop()
				<-done
				if err != nil || sum.Submitted != items || sum.Failed+sum.Rejected != 0 {
					b.Fatalf("%+v %v", sum, err)
				}
				b.ReportMetric(float64(sum.Submitted)/sum.SubmitSeconds, "items/s")
				b.ReportMetric(sum.RequestsPerSecond, "requests/s")
				b.ReportMetric(float64(sum.Throttles), "429s")
				b.ReportMetric(float64(neighbourCalls)/sum.SubmitSeconds, "neighbour/s")
				b.Logf("%s: %d items in %s, %s", c.name, sum.Submitted, time.Duration(sum.SubmitSeconds*float64(time.Second)).Round(time.Millisecond), sumLine(sum))
			}
		})
	}
}

// BenchmarkArrayModeZendesk50k submits the full zendesk-day distribution
// in array mode and reports the SubmitJob calls.
func BenchmarkArrayModeZendesk50k(b *testing.B) {
	for range b.N {
		e := newSimEnv(b, simConfig{})
		p := zendeskPlan(b, nil)
		as, _ := assign(b, p, zendeskItems(50000))
		r, _ := New(e.options(b, p, "bench-array", ModeArray, NewMemoryJournal()))
		sum, err := r.Submit(context.Background(), as)
		if err != nil || sum.Submitted != 50000 {
			b.Fatalf("%+v %v", sum, err)
		}
		b.ReportMetric(float64(e.faults.submits.Load()), "SubmitJob-calls")
		b.ReportMetric(sum.SubmitSeconds, "submit-seconds")
	}
}
