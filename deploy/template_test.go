package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const templateFile = "aws/batchwatch.yaml"

// loadTemplate reads the CloudFormation template (long-form intrinsics, so
// plain YAML) as generic maps.
func loadTemplate(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	return tmpl
}

func section(t testing.TB, tmpl map[string]any, name string) map[string]any {
	t.Helper()
	m, ok := tmpl[name].(map[string]any)
	if !ok {
		t.Fatalf("%s: no %s section", templateFile, name)
	}
	return m
}

// resource returns a resource's map (Type, Condition, Properties).
func resource(t testing.TB, tmpl map[string]any, name string) map[string]any {
	t.Helper()
	r, ok := section(t, tmpl, "Resources")[name].(map[string]any)
	if !ok {
		t.Fatalf("%s: no resource %s", templateFile, name)
	}
	return r
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// walk calls fn on every map in v, depth first.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walk(c, fn)
		}
	case []any:
		for _, c := range x {
			walk(c, fn)
		}
	}
}

// Resources moto 5.2's CloudFormation does not implement: it skips them with
// a warning. The test deployments leave them out (see motoVariant); the
// template keeps them, AWS needs them. The alarms are created by the test
// through the CloudWatch API instead, from the template's properties
// (alarms_integration_test.go).
var motoUnsupported = []string{"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::CloudWatch::Alarm"}

var noValue = map[string]any{"Ref": "AWS::NoValue"}

// optionalElement tells whether a list element is {"Fn::If": [cond, x,
// {"Ref": "AWS::NoValue"}]}, returning cond and x.
func optionalElement(e any) (any, any, bool) {
	m, ok := e.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, nil, false
	}
	args, ok := m["Fn::If"].([]any)
	if !ok || len(args) != 3 || !reflect.DeepEqual(args[2], noValue) {
		return nil, nil, false
	}
	return args[0], args[1], true
}

// hoistNoValue rewrites every list holding optional elements into an
// Fn::If between the list with and without the element:
// [a, If(c, x, NoValue)] becomes If(c, [a, x], [a]). CloudFormation treats
// both the same; moto 5.2 keeps AWS::NoValue in a list as a null element
// (and then fails on it), but evaluates Fn::If over whole lists correctly.
func hoistNoValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			out[k] = hoistNoValue(c)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = hoistNoValue(c)
		}
		for i, e := range out {
			if cond, val, ok := optionalElement(e); ok {
				with := append(append(slices.Clone(out[:i]), val), out[i+1:]...)
				without := append(slices.Clone(out[:i]), out[i+1:]...)
				return map[string]any{"Fn::If": []any{cond, hoistNoValue(with), hoistNoValue(without)}}
			}
		}
		return out
	}
	return v
}

// motoVariant is the template moto can deploy: without the resource types
// it does not implement (returned, sorted) and with optional list elements
// hoisted. Nothing else changes.
func motoVariant(t testing.TB, tmpl map[string]any) (map[string]any, []string) {
	t.Helper()
	out := hoistNoValue(tmpl).(map[string]any)
	res := out["Resources"].(map[string]any)
	var removed []string
	for name, r := range res {
		if slices.Contains(motoUnsupported, r.(map[string]any)["Type"].(string)) {
			delete(res, name)
			removed = append(removed, name)
		}
	}
	sort.Strings(removed)
	// Nothing left may refer to what was removed.
	walk(out, func(m map[string]any) {
		for _, key := range []string{"Ref", "Fn::GetAtt"} {
			target := fmt.Sprint(m[key])
			if a, ok := m[key].([]any); ok && len(a) > 0 {
				target = fmt.Sprint(a[0])
			}
			if slices.Contains(removed, target) {
				t.Fatalf("the moto variant removes %s, but %s still refers to it", target, key)
			}
		}
	})
	return out, removed
}

func TestHoistNoValue(t *testing.T) {
	in := []any{"a", map[string]any{"Fn::If": []any{"C1", "x", noValue}}, "b",
		map[string]any{"Fn::If": []any{"C2", "y", noValue}}, map[string]any{"Fn::If": []any{"C3", "z", "w"}}}
	want := map[string]any{"Fn::If": []any{"C1",
		map[string]any{"Fn::If": []any{"C2",
			[]any{"a", "x", "b", "y", map[string]any{"Fn::If": []any{"C3", "z", "w"}}},
			[]any{"a", "x", "b", map[string]any{"Fn::If": []any{"C3", "z", "w"}}}}},
		map[string]any{"Fn::If": []any{"C2",
			[]any{"a", "b", "y", map[string]any{"Fn::If": []any{"C3", "z", "w"}}},
			[]any{"a", "b", map[string]any{"Fn::If": []any{"C3", "z", "w"}}}}},
	}}
	if got := hoistNoValue(in); !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("hoistNoValue:\n got %s\nwant %s", g, w)
	}
	tmpl := loadTemplate(t)
	v, removed := motoVariant(t, tmpl)
	if len(removed) == 0 {
		t.Error("the moto variant removes nothing; drop motoUnsupported if moto learned them")
	}
	walk(v, func(m map[string]any) {
		if l, ok := m["Fn::If"].([]any); ok {
			for _, branch := range l[1:] {
				if bl, ok := branch.([]any); ok {
					for _, e := range bl {
						if _, _, opt := optionalElement(e); opt {
							t.Errorf("an optional list element is left in the moto variant: %v", e)
						}
					}
				}
			}
		}
	})
	if _, ok := section(t, tmpl, "Resources")[removed[0]]; !ok {
		t.Error("motoVariant changed the template it was given")
	}
}

// Every Ref, GetAtt and condition names something the template defines.
func TestTemplateReferences(t *testing.T) {
	tmpl := loadTemplate(t)
	params := section(t, tmpl, "Parameters")
	res := section(t, tmpl, "Resources")
	conds := section(t, tmpl, "Conditions")
	usedConds := map[string]bool{}
	check := func(where string, v any) {
		walk(v, func(m map[string]any) {
			if ref, ok := m["Ref"].(string); ok {
				_, isParam := params[ref]
				_, isRes := res[ref]
				if !isParam && !isRes && !strings.HasPrefix(ref, "AWS::") {
					t.Errorf("%s: Ref %s is neither a parameter nor a resource", where, ref)
				}
			}
			if ga, ok := m["Fn::GetAtt"].([]any); ok {
				if _, ok := res[fmt.Sprint(ga[0])]; !ok || len(ga) != 2 {
					t.Errorf("%s: Fn::GetAtt %v", where, ga)
				}
			}
			if c, ok := m["Condition"].(string); ok {
				usedConds[c] = true
			}
			if f, ok := m["Fn::If"].([]any); ok {
				usedConds[fmt.Sprint(f[0])] = true
			}
			if sub, ok := m["Fn::Sub"].(string); ok {
				for _, name := range subVariables(sub) {
					_, isParam := params[name]
					_, isRes := res[strings.Split(name, ".")[0]]
					if !isParam && !isRes && !strings.HasPrefix(name, "AWS::") {
						t.Errorf("%s: Fn::Sub ${%s} is neither a parameter nor a resource", where, name)
					}
				}
			}
		})
	}
	for name, r := range res {
		check("resource "+name, r)
	}
	check("Outputs", tmpl["Outputs"])
	check("Conditions", conds)
	for c := range usedConds {
		if _, ok := conds[c]; !ok {
			t.Errorf("condition %s is used but not defined", c)
		}
	}
	for c := range conds {
		if !usedConds[c] {
			t.Errorf("condition %s is defined but never used", c)
		}
	}
	for name := range params {
		used := false
		walk(tmpl, func(m map[string]any) {
			if m["Ref"] == name {
				used = true
			}
			if sub, ok := m["Fn::Sub"].(string); ok && slices.Contains(subVariables(sub), name) {
				used = true
			}
		})
		if !used {
			t.Errorf("parameter %s is never used", name)
		}
	}
}

func subVariables(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return out
		}
		out = append(out, s[i+2:i+j])
		s = s[i+j:]
	}
}

// The queues, the rule and the outputs are what the deployment guide and the
// compose file rely on.
func TestTemplateWiring(t *testing.T) {
	tmpl := loadTemplate(t)
	res := section(t, tmpl, "Resources")

	rule := props(resource(t, tmpl, "BatchEventsRule"))
	pattern, _ := json.Marshal(rule["EventPattern"])
	if string(pattern) != `{"$or":[{"detail-type":["Batch Job State Change","Batch Job Queue Blocked"],"source":["aws.batch"]},`+
		`{"detail-type":["Batch Job Attempt Usage"],"source":["batchwatch.usage"]}]}` {
		t.Errorf("event pattern %s", pattern)
	}

	policed := map[string]bool{}
	for _, r := range res {
		r := r.(map[string]any)
		if r["Type"] == "AWS::SQS::QueuePolicy" {
			for _, q := range props(r)["Queues"].([]any) {
				policed[fmt.Sprint(q.(map[string]any)["Ref"])] = true
			}
		}
	}
	for _, q := range []string{"Ingest", "Exporter", "Submitter"} {
		qp := props(resource(t, tmpl, q+"Queue"))
		dlq := props(resource(t, tmpl, q+"DeadLetterQueue"))
		if qp["MessageRetentionPeriod"] != 345600 || qp["VisibilityTimeout"] != 60 {
			t.Errorf("%sQueue: retention %v, visibility %v; want 4 days (345600) and 60", q, qp["MessageRetentionPeriod"], qp["VisibilityTimeout"])
		}
		redrive, _ := qp["RedrivePolicy"].(map[string]any)
		target, _ := json.Marshal(redrive["deadLetterTargetArn"])
		if string(target) != `{"Fn::GetAtt":["`+q+`DeadLetterQueue","Arn"]}` || redrive["maxReceiveCount"] != 5 {
			t.Errorf("%sQueue: redrive policy %v, want its DLQ after 5 receives", q, redrive)
		}
		if dlq["MessageRetentionPeriod"] != 1209600 {
			t.Errorf("%sDeadLetterQueue keeps messages %v s, want 14 days", q, dlq["MessageRetentionPeriod"])
		}
		if !policed[q+"Queue"] {
			t.Errorf("%sQueue has no queue policy: neither EventBridge nor SNS may send to it", q)
		}
	}

	checkSourceAccount(t, res)
	checkDLQAlarms(t, tmpl, res)
	checkTagResource(t, tmpl)

	outputs := section(t, tmpl, "Outputs")
	for _, o := range []string{"IngestQueueUrl", "ExporterQueueUrl", "IngestPolicyArn", "ExporterPolicyArn", "SubmitterPolicyArn", "UsageReporterPolicyArn", "EventRuleArn"} {
		if _, ok := outputs[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
}

// checkSourceAccount: every condition on aws:SourceArn comes with
// aws:SourceAccount, the stack's own account.
func checkSourceAccount(t *testing.T, res map[string]any) {
	t.Helper()
	n := 0
	walk(res, func(m map[string]any) {
		cond, ok := m["Condition"].(map[string]any)
		if !ok {
			return
		}
		arnEq, _ := cond["ArnEquals"].(map[string]any)
		if _, ok := arnEq["aws:SourceArn"]; !ok {
			return
		}
		n++
		strEq, _ := cond["StringEquals"].(map[string]any)
		acct, _ := json.Marshal(strEq["aws:SourceAccount"])
		if string(acct) != `{"Ref":"AWS::AccountId"}` {
			t.Errorf("statement %v: aws:SourceArn without aws:SourceAccount = the stack's account (%s)", m["Sid"], acct)
		}
	})
	if n < 7 {
		t.Errorf("%d conditions on aws:SourceArn, want the 3 queue, 3 dead-letter queue and topic policies", n)
	}
}

// checkDLQAlarms: every dead-letter queue has an alarm on its visible
// messages, created with it.
func checkDLQAlarms(t *testing.T, tmpl map[string]any, res map[string]any) {
	t.Helper()
	alarmed := map[string]bool{}
	for name, r := range res {
		r := r.(map[string]any)
		if r["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := props(r)
		dims, _ := p["Dimensions"].([]any)
		if p["Namespace"] != "AWS/SQS" || p["MetricName"] != "ApproximateNumberOfMessagesVisible" || len(dims) != 1 ||
			p["ComparisonOperator"] != "GreaterThanThreshold" || p["Threshold"] != 0 {
			t.Errorf("%s: %v, want ApproximateNumberOfMessagesVisible of one queue > 0", name, p)
			continue
		}
		v, _ := json.Marshal(dims[0].(map[string]any)["Value"])
		var ref struct {
			GetAtt []string `json:"Fn::GetAtt"`
		}
		if json.Unmarshal(v, &ref) != nil || len(ref.GetAtt) != 2 || ref.GetAtt[1] != "QueueName" {
			t.Errorf("%s: dimension %s, want a queue's QueueName", name, v)
			continue
		}
		alarmed[ref.GetAtt[0]] = true
		if q := resource(t, tmpl, ref.GetAtt[0]); q["Condition"] != r["Condition"] {
			t.Errorf("%s: condition %v, its queue's %v", name, r["Condition"], q["Condition"])
		}
	}
	for name, r := range res {
		if r.(map[string]any)["Type"] == "AWS::SQS::Queue" && strings.HasSuffix(name, "DeadLetterQueue") && !alarmed[name] {
			t.Errorf("dead-letter queue %s has no alarm", name)
		}
	}
}

// checkTagResource: the submitter may tag only on SubmitJob, only jobs with
// a run_id, only with batchwatch's keys and the configured ones.
func checkTagResource(t *testing.T, tmpl map[string]any) {
	t.Helper()
	doc := props(resource(t, tmpl, "SubmitterPolicy"))["PolicyDocument"].(map[string]any)
	for _, s := range statementsOf(t, doc) {
		if !slices.Contains(actions(s["Action"]), "batch:TagResource") {
			continue
		}
		cond, _ := json.Marshal(s["Condition"])
		for _, want := range []string{`"batch:CreateAction":"SubmitJob"`, `"aws:RequestTag/run_id":"false"`,
			`"ForAllValues:StringEquals":{"aws:TagKeys":{"Fn::Split":[",",{"Fn::Sub":"product,tier,run_id,${SubmitterTagKeys}"}]}}`} {
			if !strings.Contains(string(cond), want) {
				t.Errorf("TagResource condition %s lacks %s", cond, want)
			}
		}
		return
	}
	t.Error("the submitter policy has no batch:TagResource statement")
}

// statementsOf returns a policy document's statements, the optional ones
// (Fn::If with AWS::NoValue) included.
func statementsOf(t testing.TB, doc map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range doc["Statement"].([]any) {
		if _, v, ok := optionalElement(s); ok {
			s = v
		}
		out = append(out, s.(map[string]any))
	}
	return out
}

func actions(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		for _, a := range x {
			out = append(out, fmt.Sprint(a))
		}
	}
	sort.Strings(out)
	return out
}

// policyFile reads one of aws/policies/*.json.
func policyFile(t testing.TB, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile("aws/policies/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("aws/policies/%s.json: %v", name, err)
	}
	return doc
}

// The plain JSON policies grant what the template's managed policies grant
// (the integration test compares the resources too, once CloudFormation has
// resolved them), and nothing beyond what the components call.
func TestPolicyDocumentsMatchTemplate(t *testing.T) {
	tmpl := loadTemplate(t)
	for c, name := range map[string]string{"Ingest": "ingest", "Exporter": "exporter", "Submitter": "submitter", "UsageReporter": "usage-reporter"} {
		doc := props(resource(t, tmpl, c+"Policy"))["PolicyDocument"].(map[string]any)
		file := policyFile(t, name)
		want := statementsOf(t, doc)
		got := statementsOf(t, file)
		if len(got) != len(want) {
			t.Errorf("%s: %d statements in the JSON, %d in the template", c, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i]["Sid"] != want[i]["Sid"] || got[i]["Effect"] != want[i]["Effect"] ||
				!slices.Equal(actions(got[i]["Action"]), actions(want[i]["Action"])) {
				t.Errorf("%s statement %d: JSON %v %v %v, template %v %v %v", c, i,
					got[i]["Sid"], got[i]["Effect"], got[i]["Action"], want[i]["Sid"], want[i]["Effect"], want[i]["Action"])
			}
		}
	}
	// Least privilege: the actions each component needs, no wildcards.
	// Every SQS consumer (sqsconsumer) extends the visibility of messages
	// whose work is pending.
	need := map[string][]string{
		"ingest": {"batch:DescribeJobQueues", "batch:DescribeJobs", "batch:ListJobs",
			"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"},
		"exporter": {"batch:DescribeComputeEnvironments", "batch:DescribeJobDefinitions", "batch:DescribeJobQueues",
			"batch:DescribeJobs", "batch:ListJobs", "ce:GetCostAndUsage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
		"submitter": {"batch:ListJobs", "batch:SubmitJob", "batch:TagResource",
			"s3:PutObject", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"},
		"usage-reporter": {"events:PutEvents"},
	}
	for c, want := range need {
		var got []string
		for _, s := range statementsOf(t, policyFile(t, c)) {
			if s["Effect"] != "Allow" {
				t.Errorf("%s: statement %v is not an Allow", c, s["Sid"])
			}
			for _, a := range actions(s["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %s", c, a)
				}
				if !slices.Contains(got, a) {
					got = append(got, a)
				}
			}
			if slices.Contains(actions(s["Resource"]), "*") {
				for _, a := range actions(s["Action"]) {
					if !strings.HasPrefix(a, "batch:Describe") && !strings.HasPrefix(a, "batch:List") && a != "ce:GetCostAndUsage" {
						t.Errorf("%s: %s on every resource; only Batch's List/Describe and Cost Explorer need that", c, a)
					}
				}
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s grants %v, want exactly %v", c, got, want)
		}
	}
}

// A job's role may put usage events and nothing else: the template and the
// JSON document both bind events:PutEvents to batchwatch-run's source and
// detail-type, on the bus the rule listens on.
func TestUsageReporterPolicyIsBoundToTheUsageEvent(t *testing.T) {
	tmpl := loadTemplate(t)
	doc := props(resource(t, tmpl, "UsageReporterPolicy"))["PolicyDocument"].(map[string]any)
	for where, st := range map[string]map[string]any{"template": statementsOf(t, doc)[0], "JSON": statementsOf(t, policyFile(t, "usage-reporter"))[0]} {
		cond, _ := json.Marshal(st["Condition"])
		if string(cond) != `{"StringEquals":{"events:detail-type":"Batch Job Attempt Usage","events:source":"batchwatch.usage"}}` {
			t.Errorf("%s: condition %s", where, cond)
		}
	}
	res, _ := json.Marshal(statementsOf(t, doc)[0]["Resource"])
	if !strings.Contains(string(res), "event-bus/${EventBusName}") {
		t.Errorf("resource %s: not the rule's bus", res)
	}
}
