//go:build integration

package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/batchwatch/batchwatch/testenv"
	"github.com/batchwatch/batchwatch/usage"
)

// TestMotoUsageEventToClickHouse: batchwatch-run's sender puts a usage event
// on moto's EventBridge; the stack's rule pattern (the $or of Batch's events
// and the usage event, narrowed to this test's queue) takes it and the job's
// state change to SQS; ingest writes one usage row per attempt, joinable to
// attempts, however often the event arrives.
func TestMotoUsageEventToClickHouse(t *testing.T) {
	st := testenv.Store(t)
	name := testenv.UniqueName("bwu")
	env := newMotoQueue(t, name)
	ctx := context.Background()
	qARN := "arn:aws:batch:us-east-1:123456789012:job-queue/" + name
	pattern := `{"$or":[` +
		`{"source":["aws.batch"],"detail-type":["Batch Job State Change","Batch Job Queue Blocked"],"detail":{"jobQueue":["` + qARN + `"]}},` +
		`{"source":["batchwatch.usage"],"detail-type":["Batch Job Attempt Usage"],"detail":{"jobQueue":["` + name + `"]}}]}`
	if _, err := env.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := env.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{{Id: aws.String("t1"), Arn: aws.String(env.queueARN)}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	t.Cleanup(func() {
		_, _ = env.eb.RemoveTargets(context.Background(), &eventbridge.RemoveTargetsInput{Rule: aws.String(name), Ids: []string{"t1"}})
		_, _ = env.eb.DeleteRule(context.Background(), &eventbridge.DeleteRuleInput{Name: aws.String(name)})
	})

	jobID := name + "-job"
	started := time.Now().Add(-10 * time.Minute).UnixMilli()
	stopped := started + 600_000
	// The job: one failed attempt (OOM) and a second that succeeded.
	detail, _ := json.Marshal(map[string]any{
		"jobArn": "arn:aws:batch:us-east-1:123456789012:job/" + jobID, "jobName": "train", "jobId": jobID,
		"jobQueue": qARN, "status": "SUCCEEDED", "createdAt": started - 5000, "startedAt": started, "stoppedAt": stopped,
		"jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/train:3",
		"attempts": []any{
			map[string]any{"container": map[string]any{"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}, "startedAt": started - 300_000, "stoppedAt": started - 1000},
			map[string]any{"container": map[string]any{"exitCode": 0}, "startedAt": started, "stoppedAt": stopped},
		},
		"container": map[string]any{"resourceRequirements": []any{map[string]any{"type": "VCPU", "value": "2"}, map[string]any{"type": "MEMORY", "value": "4096"}}},
	})
	if out, err := env.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("aws.batch"), DetailType: aws.String("Batch Job State Change"), Detail: aws.String(string(detail)),
	}}}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put state change: %v %+v", err, out)
	}

	rec := usage.Record{
		SchemaVersion: usage.SchemaVersion, JobID: jobID, JobAttempt: 2, ArrayIndex: -1, JobQueue: name,
		Source: "cgroup-v2", StartedAt: started, StoppedAt: stopped, WallSeconds: 600, CPUSeconds: 540,
		CPUMeanVCPUs: 0.9, CPUP95VCPUs: 1.4, CPUMaxVCPUs: 1.9, MemoryPeakBytes: 1 << 30, MemoryLimitBytes: 4 << 30, Samples: 120,
	}
	sender := &usage.Sender{
		Endpoint: testenv.MotoURL(), Region: "us-east-1", Client: http.DefaultClient, Now: time.Now,
		Credentials: func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		},
	}
	// Twice: a retried send (or SQS's at-least-once) must not make two rows.
	for range 2 {
		if err := sender.Send(ctx, rec); err != nil {
			t.Fatalf("send usage: %v", err)
		}
	}
	// And the first attempt's, killed for memory.
	first := rec
	first.JobAttempt, first.OOMKilled, first.ExitCode, first.Signal, first.MemoryPeakBytes = 1, true, 137, "SIGKILL", 4<<30
	first.StartedAt, first.StoppedAt = started-300_000, started-1000
	if err := sender.Send(ctx, first); err != nil {
		t.Fatalf("send usage: %v", err)
	}

	_, stop := runIngest(t, st, env.sqs, env.queueURL)
	waitFor(t, "4 messages in ClickHouse", 60*time.Second, func() bool {
		return queryUint(t, st, "SELECT count() FROM "+st.Table("usage")) == 3 &&
			queryUint(t, st, "SELECT count() FROM "+st.Table("attempts")) >= 2
	})
	stop()

	if n := queryUint(t, st, "SELECT count() FROM "+st.Table("usage")+" FINAL"); n != 2 {
		t.Errorf("usage FINAL has %d rows, want one per attempt (2)", n)
	}
	if n := queryUint(t, st, "SELECT count() FROM "+st.Table("events")+" WHERE detail_type = 'Batch Job Attempt Usage'"); n != 0 {
		t.Errorf("%d usage events in events, want none (they have their own table)", n)
	}
	if n := queryUint(t, st, "SELECT count() FROM "+st.Table("jobs")+" FINAL"); n != 1 {
		t.Errorf("jobs FINAL has %d rows, want the one job (usage events are no job observations)", n)
	}
	rows, err := st.Conn().Query(ctx, `SELECT a.attempt, a.failure_class, a.memory_mib, u.memory_peak_bytes, u.oom_killed, u.cpu_p95_vcpus
		FROM `+st.Table("attempts")+` AS a FINAL
		INNER JOIN (SELECT * FROM `+st.Table("usage")+` FINAL) AS u USING (job_id, attempt)
		ORDER BY a.attempt`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type joined struct {
		attempt uint16
		class   string
		mib     uint32
		peak    uint64
		oom     uint8
		p95     float32
	}
	var got []joined
	for rows.Next() {
		var j joined
		if err := rows.Scan(&j.attempt, &j.class, &j.mib, &j.peak, &j.oom, &j.p95); err != nil {
			t.Fatal(err)
		}
		got = append(got, j)
	}
	want := []joined{{0, "oom", 4096, 4 << 30, 1, 1.4}, {1, "", 4096, 1 << 30, 0, 1.4}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("attempts joined with usage: %+v, want %+v", got, want)
	}
}
