package awsclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	batchtypes "github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/batchwatch/batchwatch/batch"
)

// TestJobFromDetailMatchesEvents hands the job detail of every job state
// change of the corpus of published events to the real SDK as a
// DescribeJobs answer, converts what the SDK returns with JobFromDetail,
// and compares it with the event parser on the same event: the normalized
// jobs must be equal, and the JSON written back must have exactly the
// event detail's members (a member the SDK models but the conversion drops
// or renames fails here).
func TestJobFromDetailMatchesEvents(t *testing.T) {
	files, err := filepath.Glob("../batch/testdata/corpus/*.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".expected.json") {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := batch.Parse(body)
		if err != nil || ev.DetailType != batch.DetailTypeJobStateChange {
			continue
		}
		detail := eventDetail(t, body)
		t.Run(filepath.Base(f), func(t *testing.T) {
			d := describeThroughSDK(t, detail)
			got, err := JobFromDetail(d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ev.Job) {
				t.Errorf("DescribeJobs job differs from the event's:\n got %+v\nwant %+v", got, ev.Job)
			}
			written, err := DetailJSON(d)
			if err != nil {
				t.Fatal(err)
			}
			want, have := leafPaths(t, detail), leafPaths(t, written)
			for p := range want {
				if !have[p] && !unmodeled(p) {
					t.Errorf("member %s of the event detail is missing from the converted DescribeJobs answer", p)
				}
			}
			for p := range have {
				if !want[p] {
					t.Errorf("member %s of the converted DescribeJobs answer is not in the event detail", p)
				}
			}
		})
		n++
	}
	if n < 20 {
		t.Fatalf("only %d job state changes in the corpus", n)
	}
}

// unmodeled are the members of published details the SDK has no field
// for, so no DescribeJobs answer read through the SDK has them.
func unmodeled(path string) bool {
	for _, p := range []string{
		// Events carry an attempt-level exit code (ecsProperties jobs);
		// the SDK's AttemptDetail (service/batch v1.65.2) has none.
		// Reconcile reads the raw answer and keeps it.
		"attempts[].exitCode",
		// The .NET fixture spells it with a capital T; the SDK's
		// member is transitEncryptionPort.
		"container.volumes[].efsVolumeConfiguration.TransitEncryptionPort",
		"nodeProperties.nodeRangeProperties[].container.volumes[].efsVolumeConfiguration.TransitEncryptionPort",
	} {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// eventDetail returns the detail of an event, unwrapping SNS.
func eventDetail(t *testing.T, body []byte) []byte {
	var env struct {
		Type    string          `json:"Type"`
		Message string          `json:"Message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Type == "Notification" {
		return eventDetail(t, []byte(env.Message))
	}
	return env.Detail
}

// describeThroughSDK returns what the SDK makes of detail in a
// DescribeJobs answer.
func describeThroughSDK(t *testing.T, detail []byte) *batchtypes.JobDetail {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jobs":[` + string(detail) + `]}`))
	}))
	defer srv.Close()
	client := awsbatch.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
	}, func(o *awsbatch.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	out, err := client.DescribeJobs(context.Background(), &awsbatch.DescribeJobsInput{Jobs: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Jobs) != 1 {
		t.Fatalf("%d jobs in the answer", len(out.Jobs))
	}
	return &out.Jobs[0]
}

// leafPaths lists the paths of a JSON document's non-null scalars and
// non-empty containers' leaves (array positions as []).
func leafPaths(t *testing.T, b []byte) map[string]bool {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(strings.TrimPrefix(p+"."+k, "."), x[k])
			}
		case []any:
			for _, e := range x {
				walk(p+"[]", e)
			}
		default:
			out[p] = true
		}
	}
	walk("", v)
	return out
}
