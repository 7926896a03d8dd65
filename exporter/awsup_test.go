package exporter

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A missing Cost Explorer permission makes aws_up 0 (its meaning is kept)
// but only the cost kind of aws_call_up, which the paging alert ignores.
func TestAWSCallUpPerKind(t *testing.T) {
	clock := newFakeClock()
	x, _ := testExporter(t, &Config{}, oneQueue(), clock, Deps{})
	started(t, x)
	x.awsResult(CallCost, errors.New("AccessDeniedException: not authorized to perform ce:GetCostAndUsage"))
	if got := testutil.ToFloat64(x.awsUp); got != 0 {
		t.Errorf("aws_up %v with Cost Explorer failing", got)
	}
	want := `# HELP batchwatch_exporter_aws_call_up 1 when the latest AWS call of the kind (resync, capacity, sqs, cost, queue_attributes) succeeded; a kind appears with its first call.
# TYPE batchwatch_exporter_aws_call_up gauge
batchwatch_exporter_aws_call_up{kind="capacity"} 1
batchwatch_exporter_aws_call_up{kind="cost"} 0
batchwatch_exporter_aws_call_up{kind="resync"} 1
`
	if err := testutil.CollectAndCompare(x.awsCallUp, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	x.awsResult(CallCost, nil)
	if got := testutil.ToFloat64(x.awsUp); got != 1 {
		t.Errorf("aws_up %v after Cost Explorer recovered", got)
	}
}
