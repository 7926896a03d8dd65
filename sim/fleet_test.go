package sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/batchwatch/batchwatch/awsclient"
)

// TestFleetTwoAccountsTwoRegions plays multi-account: each account and
// region answers with its own ARNs (reached through a role per account, as
// the product does), and each region's central queue carries both
// accounts' events with the right envelope and ARNs, never another
// region's.
func TestFleetTwoAccountsTwoRegions(t *testing.T) {
	sc, err := LoadScenario("multi-account")
	if err != nil {
		t.Fatal(err)
	}
	f, url, stop, err := ServeFleet(context.Background(), Config{Scenario: sc.Scaled(0.2), Seed: 3, ExitWhenDone: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	ctx := context.Background()
	for _, m := range sc.Fleet {
		ac := &awsclient.Config{Region: m.Region, EndpointURL: url, MaxAttempts: 10}
		cfg, err := awsclient.Load(ctx, ac)
		if err != nil {
			t.Fatal(err)
		}
		cfg = ac.AssumeRole(cfg, "arn:aws:iam::"+m.Account+":role/batchwatch-reader")
		out, err := ac.Batch(cfg, awsclient.Options{}).DescribeJobQueues(ctx, &batch.DescribeJobQueuesInput{})
		if err != nil {
			t.Fatalf("%s/%s: %v", m.Account, m.Region, err)
		}
		want := "arn:aws:batch:" + m.Region + ":" + m.Account + ":job-queue/smoke-high"
		found := false
		for _, q := range out.JobQueues {
			found = found || aws.ToString(q.JobQueueArn) == want
		}
		if !found || len(out.JobQueues) != 2 {
			t.Errorf("%s/%s: queues %d, %s not among them", m.Account, m.Region, len(out.JobQueues), want)
		}
	}
	if err := f.Members()[0].WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	for !allDone(f) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		checkRegionQueue(t, f, url, region)
	}
}

func allDone(f *Fleet) bool {
	for _, s := range f.Members() {
		if !s.Done() || s.WaitDelivered(context.Background()) != nil {
			return false
		}
	}
	return true
}

// checkRegionQueue reads a region's central queue: every envelope is of
// that region, both accounts appear, and each job ARN names its envelope's
// account and region.
func checkRegionQueue(t *testing.T, f *Fleet, url, region string) {
	t.Helper()
	ctx := context.Background()
	ac := &awsclient.Config{Region: region, EndpointURL: url, MaxAttempts: 10}
	cfg, err := awsclient.Load(ctx, ac)
	if err != nil {
		t.Fatal(err)
	}
	c := ac.SQS(cfg, awsclient.Options{})
	qu, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("batchwatch-events-" + region)})
	if err != nil {
		t.Fatal(err)
	}
	perAccount := map[string]int{}
	for {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qu.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			var env struct {
				Account, Region string
				Detail          struct{ JobArn, JobQueue string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
				t.Fatal(err)
			}
			if env.Region != region {
				t.Fatalf("queue of %s got an event of %s", region, env.Region)
			}
			if env.Detail.JobArn != "" && !strings.HasPrefix(env.Detail.JobArn, "arn:aws:batch:"+region+":"+env.Account+":job/") {
				t.Fatalf("envelope %s/%s carries job %s", env.Account, env.Region, env.Detail.JobArn)
			}
			perAccount[env.Account]++
		}
	}
	want := 0
	for _, m := range f.Members() {
		if m.sc.Region == region {
			want += len(m.Truth())
		}
	}
	if len(perAccount) != 2 || perAccount["111111111111"] == 0 || perAccount["222222222222"] == 0 {
		t.Errorf("%s: events per account %v, want both accounts", region, perAccount)
	}
	if want == 0 {
		t.Errorf("%s: no jobs simulated", region)
	}
}

func TestFleetRefusesRolesOutsideIt(t *testing.T) {
	sc, err := LoadScenario("multi-account")
	if err != nil {
		t.Fatal(err)
	}
	_, url, stop, err := ServeFleet(context.Background(), Config{Scenario: sc.Scaled(0.05), NoWorkload: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-checked")
	ac := &awsclient.Config{Region: "us-east-1", EndpointURL: url, MaxAttempts: 1}
	cfg, err := awsclient.Load(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	cfg = ac.AssumeRole(cfg, "arn:aws:iam::333333333333:role/batchwatch-reader")
	_, err = ac.Batch(cfg, awsclient.Options{}).DescribeJobQueues(context.Background(), &batch.DescribeJobQueuesInput{})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("assuming a role outside the fleet: %v, want AccessDenied", err)
	}
	if _, err := NewFleet(Config{Scenario: &Scenario{Name: "x"}}); err == nil {
		t.Error("a fleet without members was accepted")
	}
	if errs := validateFleet([]FleetMember{{Account: "12", Region: "x"}, {Account: "111111111111"}}); len(errs) != 2 {
		t.Errorf("bad members: %v", errs)
	}
}
