//go:build integration

package dashboards

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/batch"
	"github.com/batchwatch/batchwatch/store"
	"github.com/batchwatch/batchwatch/testenv"
)

// quotedJob is a failed job whose tier, queue-wide tag value and log group
// are as awkward as text can be for SQL: a quote in the tier.
func quotedJob(id, tier, account, region string, stoppedMs int64) string {
	ts := time.UnixMilli(stoppedMs).UTC().Format("2006-01-02T15:04:05Z")
	return fmt.Sprintf(`{"version":"0","id":"ev-%[1]s","detail-type":"Batch Job State Change","source":"aws.batch","account":"%[3]s","time":"%[5]s","region":"%[4]s","resources":[],`+
		`"detail":{"jobArn":"arn:aws:batch:%[4]s:%[3]s:job/%[1]s","jobName":"quoted","jobId":"%[1]s","jobQueue":"arn:aws:batch:%[4]s:%[3]s:job-queue/q-quote","status":"FAILED",`+
		`"statusReason":"Essential container in task exited","createdAt":%[6]d,"startedAt":%[7]d,"stoppedAt":%[8]d,`+
		`"attempts":[{"container":{"exitCode":3,"logStreamName":"quoted/default/abc","taskArn":"t1"},"startedAt":%[7]d,"stoppedAt":%[8]d,"statusReason":"Essential container in task exited"}],`+
		`"jobDefinition":"arn:aws:batch:%[4]s:%[3]s:job-definition/quoted-def:7","parameters":{"p":"it's"},"tags":{"tier":%[2]q},`+
		`"container":{"image":"img:1","exitCode":3,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/team/quoted","awslogs-region":"eu-west-1"}}}}}`,
		id, tier, account, region, ts, stoppedMs-120000, stoppedMs-60000, stoppedMs)
}

// The job-history and Job dashboards' ClickHouse queries, executed on
// ClickHouse with a tier value holding a quote selected (and an account and
// region), run without error and find the job; with All they find it too.
func TestClickHouseFiltersQuoteValues(t *testing.T) {
	s := testenv.Store(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	var recs []store.Received
	ids := []string{"job-quote-0", "job-quote-1", "job-quote-arr:2"}
	for i, tier := range []string{"it's", `o'neil\'s`, "plain"} {
		body := quotedJob(ids[i], tier, "111122223333", "eu-west-1", now.Add(-time.Duration(10+i)*time.Minute).UnixMilli())
		ev, err := batch.Parse([]byte(body))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		recs = append(recs, store.Received{Event: ev, Source: "test", ReceivedAt: now})
	}
	if _, err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var parsed []*ParsedDashboard
	for _, d := range committedDashboards(t) {
		if d.UID == "batchwatch-job-history" || d.UID == jobDashboardUID {
			parsed = append(parsed, d)
		}
	}
	selections := map[string]map[string][]string{
		"quoted tier": {"tier": {"it's"}, "account": {"111122223333"}, "region": {"eu-west-1"}, "job_queue": {"q-quote"}},
		"All":         nil,
	}
	for name, sel := range selections {
		v := &Verifier{
			ClickHouse:      s.Conn(),
			ClickHouseRange: TimeRange{From: now.Add(-time.Hour), To: now.Add(time.Minute)},
			Database:        s.Database(),
			JobID:           "job-quote-0",
			Select: func(variable string, _ []string) []string {
				return sel[variable]
			},
		}
		ran := 0
		for _, r := range v.Verify(ctx, parsed) {
			if r.Target.Kind != KindClickHouse {
				continue
			}
			ran++
			t.Log(name, r.String())
			if r.Err != nil {
				t.Errorf("%s: %s", name, r.String())
				continue
			}
			if r.Variable == "" && mustFind(r.Target.Panel) && r.Points == 0 {
				t.Errorf("%s: %s", name, r.String())
			}
			if name == "quoted tier" && r.Target.Panel == "Recent failures" && r.Series != 1 {
				t.Errorf("quoted tier: Recent failures has %d rows, want only the job of tier it's", r.Series)
			}
		}
		if ran < 20 {
			t.Errorf("%s: only %d ClickHouse queries ran", name, ran)
		}
	}
}

// The Job dashboard's links of an array child: the Batch console, its log
// stream and group, and its parent's Job dashboard.
func TestJobLinksOfAnArrayChild(t *testing.T) {
	s := testenv.Store(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	ev, err := batch.Parse([]byte(quotedJob("parent-1:4", "plain", "111122223333", "eu-west-1", now.Add(-time.Minute).UnixMilli())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, []store.Received{{Event: ev, Source: "test", ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	var job []*ParsedDashboard
	for _, d := range committedDashboards(t) {
		if d.UID == jobDashboardUID {
			job = append(job, d)
		}
	}
	v := &Verifier{ClickHouse: s.Conn(), ClickHouseRange: TimeRange{From: now.Add(-time.Hour), To: now}, Database: s.Database(), JobID: "parent-1:4"}
	for _, r := range v.Verify(ctx, job) {
		if r.Err != nil {
			t.Error(r.String())
		}
		if r.Target.Panel == "Links" && r.Series != 4 {
			t.Errorf("Links has %d rows, want 4 (console, log stream, log group, array parent)", r.Series)
		}
	}
	var url string
	q := "SELECT " + jobDashboardURL("array_parent_id") + " FROM " + s.Table("jobs") + " FINAL WHERE job_id = 'parent-1:4'"
	if err := s.Conn().QueryRow(ctx, q).Scan(&url); err != nil || url != "/d/batchwatch-job/job?var-job_id=parent-1" {
		t.Errorf("parent link %q, %v", url, err)
	}
}

// mustFind names the panels that show the failed test jobs.
func mustFind(panel string) bool {
	for _, p := range []string{"Recent failures", "Top failure reasons", "Failed jobs", "Job", "Links", "Events", "Attempts", "Parameters and tags", "Newest event"} {
		if strings.EqualFold(panel, p) {
			return true
		}
	}
	return false
}

// Queue q-quote exists in two accounts and two regions: the job-history
// dashboard's Recent failures, with one account and region selected, lists
// only that account's and region's failed jobs; with All, every one.
func TestAccountVariableKeepsAccountsApart(t *testing.T) {
	s := testenv.Store(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	jobs := map[[2]string]int{
		{"111111111111", "eu-west-1"}: 3, {"222222222222", "eu-west-1"}: 2, {"111111111111", "us-east-1"}: 1,
	}
	var recs []store.Received
	for scope, n := range jobs {
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("job-%s-%s-%d", scope[0], scope[1], i)
			ev, err := batch.Parse([]byte(quotedJob(id, "plain", scope[0], scope[1], now.Add(-time.Duration(5+i)*time.Minute).UnixMilli())))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, store.Received{Event: ev, Source: "test", ReceivedAt: now})
		}
	}
	if _, err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var history []*ParsedDashboard
	for _, d := range committedDashboards(t) {
		if d.UID == "batchwatch-job-history" {
			history = append(history, d)
		}
	}
	for _, tc := range []struct {
		account, region string
		want            int
	}{{"111111111111", "eu-west-1", 3}, {"222222222222", "eu-west-1", 2}, {"111111111111", "us-east-1", 1}, {"", "", 6}} {
		sel := map[string][]string{}
		if tc.account != "" {
			sel = map[string][]string{"account": {tc.account}, "region": {tc.region}}
		}
		v := &Verifier{
			ClickHouse: s.Conn(), ClickHouseRange: TimeRange{From: now.Add(-time.Hour), To: now.Add(time.Minute)},
			Database: s.Database(), JobID: "job-111111111111-eu-west-1-0",
			Select: func(variable string, _ []string) []string { return sel[variable] },
		}
		found := false
		for _, r := range v.Verify(ctx, history) {
			if r.Err != nil {
				t.Errorf("%s/%s: %s", tc.account, tc.region, r.String())
			}
			if r.Target.Panel == "Recent failures" {
				found = true
				if r.Series != tc.want {
					t.Errorf("%s/%s: Recent failures has %d rows, want %d", tc.account, tc.region, r.Series, tc.want)
				}
			}
		}
		if !found {
			t.Fatal("no Recent failures panel in the job-history dashboard")
		}
	}
}
