//go:build integration

package deploy

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/batchwatch/batchwatch/testenv"
)

// describeAlarms is CloudWatch's DescribeAlarms against moto.
func describeAlarms(t *testing.T, names ...string) []cwAlarm {
	t.Helper()
	form := url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}}
	for i, n := range names {
		form.Set(fmt.Sprintf("AlarmNames.member.%d", i+1), n)
	}
	var out struct {
		Alarms []cwAlarm `xml:"DescribeAlarmsResult>MetricAlarms>member"`
	}
	body := cloudwatch(t, form)
	if err := xml.Unmarshal(body, &out); err != nil {
		t.Fatalf("DescribeAlarms answer: %v\n%s", err, body)
	}
	return out.Alarms
}

// cloudwatch sends one query-protocol request to moto's CloudWatch, routed
// by its credential scope (the module has no CloudWatch client, and moto
// checks no signature).
func cloudwatch(t *testing.T, form url.Values) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, testenv.MotoURL()+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/"+time.Now().UTC().Format("20060102")+
		"/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s\n%s", form.Get("Action"), resp.Status, body)
	}
	return body
}

type cwAlarm struct {
	AlarmName          string  `xml:"AlarmName"`
	Namespace          string  `xml:"Namespace"`
	MetricName         string  `xml:"MetricName"`
	Threshold          float64 `xml:"Threshold"`
	ComparisonOperator string  `xml:"ComparisonOperator"`
	Dimensions         []struct {
		Name  string `xml:"Name"`
		Value string `xml:"Value"`
	} `xml:"Dimensions>member"`
}

// putTemplateAlarms creates the template's alarms through CloudWatch's
// PutMetricAlarm, as CloudFormation would (moto's CloudFormation skips
// AWS::CloudWatch::Alarm): the properties as written, ${NamePrefix} and the
// queue names resolved from the deployed stack. Alarms whose condition the
// stack does not meet (no such queue deployed) are left out.
func putTemplateAlarms(t *testing.T, d *deployed, prefix string) {
	t.Helper()
	for name, r := range section(t, loadTemplate(t), "Resources") {
		r := r.(map[string]any)
		if r["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := props(r)
		dim := p["Dimensions"].([]any)[0].(map[string]any)
		queue := dim["Value"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		queueURL, ok := d.resources[queue]
		if !ok {
			continue
		}
		alarmName := strings.ReplaceAll(p["AlarmName"].(map[string]any)["Fn::Sub"].(string), "${NamePrefix}", prefix)
		form := url.Values{"Action": {"PutMetricAlarm"}, "Version": {"2010-08-01"},
			"AlarmName": {alarmName}, "Namespace": {p["Namespace"].(string)}, "MetricName": {p["MetricName"].(string)},
			"Dimensions.member.1.Name": {dim["Name"].(string)}, "Dimensions.member.1.Value": {queueURL[strings.LastIndex(queueURL, "/")+1:]},
			"Statistic": {p["Statistic"].(string)}, "Period": {fmt.Sprint(p["Period"])},
			"EvaluationPeriods": {fmt.Sprint(p["EvaluationPeriods"])}, "Threshold": {fmt.Sprint(p["Threshold"])},
			"ComparisonOperator": {p["ComparisonOperator"].(string)}, "TreatMissingData": {p["TreatMissingData"].(string)}}
		cloudwatch(t, form)
		t.Cleanup(func() {
			cloudwatch(t, url.Values{"Action": {"DeleteAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {alarmName}})
		})
		t.Logf("alarm %s (%s) created through PutMetricAlarm", alarmName, name)
	}
}

// checkDLQAlarmsDeployed: one alarm per deployed dead-letter queue, on that
// queue's visible messages.
func checkDLQAlarmsDeployed(t *testing.T, d *deployed, prefix string, queues ...string) {
	t.Helper()
	putTemplateAlarms(t, d, prefix)
	var names []string
	for _, q := range queues {
		names = append(names, prefix+"-"+q+"-dlq-not-empty")
	}
	got := map[string]cwAlarm{}
	for _, a := range describeAlarms(t, names...) {
		got[a.AlarmName] = a
	}
	for i, q := range queues {
		a, ok := got[names[i]]
		if !ok {
			t.Errorf("no alarm %s; moto has %v", names[i], got)
			continue
		}
		dlq := d.output(t, strings.ToUpper(q[:1])+q[1:]+"DeadLetterQueueUrl")
		dlqName := dlq[strings.LastIndex(dlq, "/")+1:]
		if a.Namespace != "AWS/SQS" || a.MetricName != "ApproximateNumberOfMessagesVisible" || a.Threshold != 0 ||
			a.ComparisonOperator != "GreaterThanThreshold" || len(a.Dimensions) != 1 || a.Dimensions[0].Value != dlqName {
			t.Errorf("alarm %s: %+v, want ApproximateNumberOfMessagesVisible of %s > 0", names[i], a, dlqName)
		}
	}
}
