package eventbridge_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwatch/batchwatch/sim/eventbridge"
)

// batchEvent is a Batch Job State Change as EventBridge delivers it.
const batchEvent = `{
  "version": "0", "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
  "detail-type": "Batch Job State Change", "source": "aws.batch",
  "account": "123456789012", "time": "2026-11-21T10:00:00Z", "region": "us-east-1",
  "resources": ["arn:aws:batch:us-east-1:123456789012:job/4c7599ae"],
  "detail": {
    "jobName": "model-build-42", "jobId": "4c7599ae", "status": "FAILED",
    "statusReason": "Essential container in task exited",
    "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/high",
    "attempts": [
      {"container": {"exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}, "statusReason": "Host EC2 (instance i-0abc) terminated."},
      {"container": {"exitCode": 1}, "statusReason": "Essential container in task exited"}
    ],
    "createdAt": 1795300000000, "retries": 2, "priority": 3.5, "spot": true, "shareIdentifier": null,
    "tags": {"team": "ml", "Env": "Prod"}, "ip": "10.1.2.3",
    "container": {"vcpus": 2, "memory": 8192}
  }
}`

func TestPatternMatching(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"source and detail-type", `{"source":["aws.batch"],"detail-type":["Batch Job State Change"]}`, true},
		{"one of several values", `{"detail":{"status":["SUCCEEDED","FAILED"]}}`, true},
		{"no value matches", `{"detail":{"status":["SUCCEEDED","RUNNING"]}}`, false},
		{"exact match is case-sensitive", `{"source":["AWS.BATCH"]}`, false},
		{"all fields must match", `{"source":["aws.batch"],"detail":{"status":["RUNNING"]}}`, false},
		{"event array: any element", `{"resources":["arn:aws:batch:us-east-1:123456789012:job/4c7599ae"]}`, true},
		{"exact number", `{"detail":{"retries":[2]}}`, true},
		{"exact number, other type", `{"detail":{"retries":["2"]}}`, false},
		{"number compared numerically", `{"detail":{"priority":[3.50]}}`, true},
		{"boolean", `{"detail":{"spot":[true]}}`, true},
		{"null", `{"detail":{"shareIdentifier":[null]}}`, true},
		{"null does not match a missing field", `{"detail":{"schedulingPriority":[null]}}`, false},
		{"nested object", `{"detail":{"tags":{"team":["ml"]}}}`, true},
		{"array of objects, element by element", `{"detail":{"attempts":{"container":{"exitCode":[137]}}}}`, true},
		{"same element must match all fields", `{"detail":{"attempts":{"container":{"exitCode":[1]},"statusReason":[{"prefix":"Host EC2"}]}}}`, false},
		{"prefix", `{"detail":{"jobQueue":[{"prefix":"arn:aws:batch:us-east-1:"}]}}`, true},
		{"prefix miss", `{"detail":{"jobQueue":[{"prefix":"arn:aws:batch:eu-"}]}}`, false},
		{"prefix ignoring case", `{"detail":{"statusReason":[{"prefix":{"equals-ignore-case":"ESSENTIAL"}}]}}`, true},
		{"suffix", `{"detail":{"jobQueue":[{"suffix":"/high"}]}}`, true},
		{"suffix ignoring case", `{"detail":{"jobQueue":[{"suffix":{"equals-ignore-case":"/HIGH"}}]}}`, true},
		{"equals-ignore-case", `{"detail":{"status":[{"equals-ignore-case":"failed"}]}}`, true},
		{"anything-but value", `{"detail":{"status":[{"anything-but":"SUCCEEDED"}]}}`, true},
		{"anything-but same value", `{"detail":{"status":[{"anything-but":"FAILED"}]}}`, false},
		{"anything-but list", `{"detail":{"status":[{"anything-but":["FAILED","SUCCEEDED"]}]}}`, false},
		{"anything-but numbers", `{"detail":{"retries":[{"anything-but":[0,1]}]}}`, true},
		{"anything-but prefix", `{"detail":{"jobName":[{"anything-but":{"prefix":"model-"}}]}}`, false},
		{"anything-but suffix", `{"detail":{"jobName":[{"anything-but":{"suffix":"-7"}}]}}`, true},
		{"anything-but ignoring case", `{"detail":{"status":[{"anything-but":{"equals-ignore-case":["failed"]}}]}}`, false},
		{"anything-but wildcard", `{"detail":{"jobQueue":[{"anything-but":{"wildcard":"*/low"}}]}}`, true},
		{"anything-but needs the field", `{"detail":{"missing":[{"anything-but":"x"}]}}`, false},
		{"numeric range", `{"detail":{"retries":[{"numeric":[">",0,"<=",5]}]}}`, true},
		{"numeric out of range", `{"detail":{"retries":[{"numeric":[">",2]}]}}`, false},
		{"numeric equals", `{"detail":{"container":{"memory":[{"numeric":["=",8192]}]}}}`, true},
		{"numeric on a string", `{"detail":{"status":[{"numeric":[">",0]}]}}`, false},
		{"numeric in an array of objects", `{"detail":{"attempts":{"container":{"exitCode":[{"numeric":[">=",100]}]}}}}`, true},
		{"exists", `{"detail":{"jobId":[{"exists":true}]}}`, true},
		{"exists false, present", `{"detail":{"jobId":[{"exists":false}]}}`, false},
		{"exists false, missing", `{"detail":{"eksAttempts":[{"exists":false}]}}`, true},
		{"exists false, missing parent", `{"detail":{"nodeDetails":{"nodeIndex":[{"exists":false}]}}}`, true},
		{"exists true, missing", `{"detail":{"eksAttempts":[{"exists":true}]}}`, false},
		{"exists on an object is not a leaf", `{"detail":{"tags":[{"exists":true}]}}`, false},
		{"wildcard", `{"detail":{"jobQueue":[{"wildcard":"arn:aws:batch:*:job-queue/h*"}]}}`, true},
		{"wildcard miss", `{"detail":{"jobQueue":[{"wildcard":"*:job-queue/low"}]}}`, false},
		{"cidr", `{"detail":{"ip":[{"cidr":"10.0.0.0/8"}]}}`, true},
		{"cidr miss", `{"detail":{"ip":[{"cidr":"192.168.0.0/16"}]}}`, false},
		{"empty string does not match", `{"detail":{"status":[""]}}`, false},
		{"$or, one branch", `{"source":["aws.batch"],"$or":[{"detail":{"status":["SUCCEEDED"]}},{"detail":{"retries":[{"numeric":[">",1]}]}}]}`, true},
		{"$or, no branch", `{"$or":[{"detail":{"status":["SUCCEEDED"]}},{"source":["aws.ec2"]}]}`, false},
		{"mixed alternatives", `{"detail":{"status":["RUNNING",{"prefix":"FAI"}]}}`, true},
		{"empty pattern matches all", `{}`, true},
		{"pattern deeper than the event", `{"detail":{"status":{"code":["x"]}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := eventbridge.CompilePattern(tt.pattern)
			require.NoError(t, err)
			got, err := p.Match([]byte(batchEvent))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPatternErrors(t *testing.T) {
	tests := []struct{ name, pattern, reason string }{
		{"not JSON", `{"source":`, "Filter is not valid JSON"},
		{"not an object", `["aws.batch"]`, "Filter is not an object"},
		{"scalar leaf", `{"source":"aws.batch"}`, "'source' must be an object or an array"},
		{"empty array", `{"source":[]}`, "Empty arrays are not allowed"},
		{"unknown match type", `{"detail":{"status":[{"contains":"FAIL"}]}}`, "Unrecognized match type contains"},
		{"two match types", `{"source":[{"prefix":"a","suffix":"b"}]}`, "exactly one match type"},
		{"nested array value", `{"source":[["a"]]}`, "Match value must be String, number, true, false, or null"},
		{"prefix not a string", `{"source":[{"prefix":1}]}`, "prefix match pattern must be a string"},
		{"exists not a boolean", `{"source":[{"exists":"yes"}]}`, "exists match pattern must be either true or false."},
		{"bad numeric operator", `{"x":[{"numeric":["~",1]}]}`, "Unrecognized numeric range operator: ~"},
		{"numeric value not a number", `{"x":[{"numeric":[">","1"]}]}`, "Value of > must be numeric"},
		{"numeric empty range", `{"x":[{"numeric":[">",5,"<",1]}]}`, "Bad numeric range"},
		{"anything-but mixed types", `{"x":[{"anything-but":["a",1]}]}`, "mixed types"},
		{"anything-but unknown", `{"x":[{"anything-but":{"numeric":[">",1]}}]}`, "Unsupported anything-but pattern: numeric"},
		{"bad cidr", `{"x":[{"cidr":"10.0.0.0/33"}]}`, "Nonstandard IP address"},
		{"$or not a list", `{"$or":{"a":["b"]}}`, "$or must be an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eventbridge.CompilePattern(tt.pattern)
			var pe *eventbridge.PatternError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.Contains(t, pe.Error(), tt.reason)
			assert.Contains(t, pe.Error(), "Event pattern is not valid. Reason: ")
		})
	}
}

func FuzzPattern(f *testing.F) {
	f.Add(`{"source":["aws.batch"],"detail":{"status":[{"anything-but":"x"}]}}`, batchEvent)
	f.Add(`{"x":[{"wildcard":"a*b*"}]}`, `{"x":"aXbY"}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := eventbridge.CompilePattern(pattern)
		if err != nil {
			return
		}
		_, _ = p.Match([]byte(event)) // must not panic
	})
}
