package batch

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// The wire structs are filled from a fastjson tree rather than by
// reflection: at 250,000 events a day, in bursts, parsing is the largest
// cost of ingest, and this is about three times faster than the fastest
// struct decoder we measured. Every getter is lenient: a value of an
// unexpected type reads as absent.

// The val* helpers read a value already found (by Visit); the get* helpers
// look a key up first. Visiting an object once and switching on its keys is
// much cheaper than one linear Get per field on objects of 20-30 keys.

func valStr(f *fastjson.Value) string {
	if f.Type() != fastjson.TypeString {
		return ""
	}
	return string(f.GetStringBytes())
}

func valInt64(f *fastjson.Value) int64 {
	if f.Type() != fastjson.TypeNumber {
		return 0
	}
	if n, err := f.Int64(); err == nil {
		return n
	}
	fl, err := f.Float64()
	if err != nil || fl != fl || fl > 9.2e18 || fl < -9.2e18 {
		return 0
	}
	return int64(fl)
}

func valIntPtr(f *fastjson.Value) *int {
	if f.Type() != fastjson.TypeNumber {
		return nil
	}
	n, err := f.Int()
	if err != nil {
		return nil
	}
	return &n
}

func valArr(f *fastjson.Value) []*fastjson.Value {
	if f.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := f.Array()
	return a
}

func valObj(f *fastjson.Value) *fastjson.Object {
	if f.Type() != fastjson.TypeObject {
		return nil
	}
	o, _ := f.Object()
	return o
}

func valStrMap(f *fastjson.Value) map[string]string {
	o := valObj(f)
	if o == nil || o.Len() == 0 {
		return nil
	}
	m := make(map[string]string, o.Len())
	o.Visit(func(k []byte, val *fastjson.Value) {
		if val.Type() == fastjson.TypeString {
			m[string(k)] = string(val.GetStringBytes())
		}
	})
	return m
}

func getStr(v *fastjson.Value, key string) string {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeString {
		return ""
	}
	return string(f.GetStringBytes())
}

func getInt64(v *fastjson.Value, key string) int64 {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeNumber {
		return 0
	}
	if n, err := f.Int64(); err == nil {
		return n
	}
	fl, err := f.Float64()
	if err != nil || fl != fl || fl > 9.2e18 || fl < -9.2e18 {
		return 0
	}
	return int64(fl)
}

func getIntPtr(v *fastjson.Value, key string) *int {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeNumber {
		return nil
	}
	n, err := f.Int()
	if err != nil {
		return nil
	}
	return &n
}

func getBool(v *fastjson.Value, key string) bool {
	f := v.Get(key)
	return f != nil && f.Type() == fastjson.TypeTrue
}

func getObj(v *fastjson.Value, key string) *fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeObject {
		return nil
	}
	return f
}

func getArr(v *fastjson.Value, key string) []*fastjson.Value {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := f.Array()
	return a
}

// getStrMap reads an object of strings (tags, parameters, resource limits);
// other values are skipped.
func getStrMap(v *fastjson.Value, key string) map[string]string {
	o := getObj(v, key)
	if o == nil {
		return nil
	}
	obj, _ := o.Object()
	m := make(map[string]string, obj.Len())
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if val.Type() == fastjson.TypeString {
			m[string(k)] = string(val.GetStringBytes())
		}
	})
	return m
}

func getIntMap(v *fastjson.Value, key string) map[string]int {
	o := getObj(v, key)
	if o == nil {
		return nil
	}
	obj, _ := o.Object()
	m := make(map[string]int, obj.Len())
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if n, err := val.Int(); err == nil {
			m[string(k)] = n
		}
	})
	return m
}

func fillEnvelope(v *fastjson.Value, w *wireEnvelope) {
	o := valObj(v)
	if o == nil {
		return
	}
	o.Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "version":
			w.Version = valStr(f)
		case "id":
			w.ID = valStr(f)
		case "detail-type":
			w.DetailType = valStr(f)
		case "source":
			w.Source = valStr(f)
		case "account":
			w.Account = valStr(f)
		case "time":
			w.Time = valStr(f)
		case "region":
			w.Region = valStr(f)
		case "resources":
			for _, e := range valArr(f) {
				if e.Type() == fastjson.TypeString {
					w.Resources = append(w.Resources, string(e.GetStringBytes()))
				}
			}
		case "detail":
			if f.Type() == fastjson.TypeObject && w.Detail == nil {
				w.Detail = &wireDetail{}
				fillDetail(f, w.Detail)
			}
		case "Type":
			w.Type = valStr(f)
		case "Message":
			w.Message = valStr(f)
		case "MessageId":
			w.MessageID = valStr(f)
		case "TopicArn":
			w.TopicArn = valStr(f)
		}
	})
}

func fillResourceReqs(v *fastjson.Value, key string) []wireResourceRequirement {
	return resourceReqs(getArr(v, key))
}

func resourceReqs(arr []*fastjson.Value) []wireResourceRequirement {
	if len(arr) == 0 {
		return nil
	}
	out := make([]wireResourceRequirement, 0, len(arr))
	for _, r := range arr {
		rr := wireResourceRequirement{Type: getStr(r, "type"), Value: getStr(r, "value")}
		if rr.Value == "" {
			// Some producers write the value as a number.
			if f := r.Get("value"); f != nil && f.Type() == fastjson.TypeNumber {
				rr.Value = strconv.FormatFloat(getFloatVal(f), 'f', -1, 64)
			}
		}
		out = append(out, rr)
	}
	return out
}

func fillDetail(v *fastjson.Value, d *wireDetail) {
	o := valObj(v)
	if o == nil {
		return
	}
	o.Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "jobArn":
			d.JobArn = valStr(f)
		case "jobName":
			d.JobName = valStr(f)
		case "jobId":
			d.JobID = valStr(f)
		case "jobQueue":
			d.JobQueue = valStr(f)
		case "status":
			d.Status = valStr(f)
		case "statusReason":
			d.StatusReason = valStr(f)
		case "shareIdentifier":
			d.ShareIdentifier = valStr(f)
		case "schedulingPriority":
			if f.Type() == fastjson.TypeNumber {
				n := valInt64(f)
				d.SchedulingPriority = &n
			}
		case "createdAt":
			d.CreatedAt = valInt64(f)
		case "startedAt":
			d.StartedAt = valInt64(f)
		case "stoppedAt":
			d.StoppedAt = valInt64(f)
		case "retryStrategy":
			if f.Type() == fastjson.TypeObject {
				d.RetryStrategy = &wireRetryStrategy{Attempts: int(getInt64(f, "attempts"))}
			}
		case "dependsOn":
			for _, dep := range valArr(f) {
				d.DependsOn = append(d.DependsOn, wireDependency{JobID: getStr(dep, "jobId"), Type: getStr(dep, "type")})
			}
		case "jobDefinition":
			d.JobDefinition = valStr(f)
		case "parameters":
			d.Parameters = valStrMap(f)
		case "tags":
			d.Tags = valStrMap(f)
		case "propagateTags":
			d.PropagateTags = f.Type() == fastjson.TypeTrue
		case "platformCapabilities":
			for _, e := range valArr(f) {
				if e.Type() == fastjson.TypeString {
					d.PlatformCapabilities = append(d.PlatformCapabilities, string(e.GetStringBytes()))
				}
			}
		case "attempts":
			d.Attempts = fillAttempts(valArr(f))
		case "container":
			if f.Type() == fastjson.TypeObject {
				d.Container = fillContainer(f)
			}
		case "nodeDetails":
			if f.Type() == fastjson.TypeObject {
				d.NodeDetails = &wireNodeDetails{NodeIndex: getIntPtr(f, "nodeIndex"), IsMainNode: getBool(f, "isMainNode")}
			}
		case "nodeProperties":
			if f.Type() == fastjson.TypeObject {
				d.NodeProperties = &wireNodeProps{NumNodes: int(getInt64(f, "numNodes")), MainNode: int(getInt64(f, "mainNode"))}
			}
		case "arrayProperties":
			if f.Type() == fastjson.TypeObject {
				d.ArrayProperties = &wireArrayProps{Size: int(getInt64(f, "size")), Index: getIntPtr(f, "index"), StatusSummary: getIntMap(f, "statusSummary")}
			}
		case "timeout":
			if f.Type() == fastjson.TypeObject {
				d.Timeout = &wireTimeout{AttemptDurationSeconds: getInt64(f, "attemptDurationSeconds")}
			}
		case "eksProperties":
			if f.Type() == fastjson.TypeObject {
				d.EksProperties = fillEksProps(f)
			}
		case "eksAttempts":
			d.EksAttempts = fillEksAttempts(valArr(f))
		case "ecsProperties":
			if f.Type() == fastjson.TypeObject {
				d.EcsProperties = fillEcsProps(f)
			}
		}
	})
}

func fillAttempts(arr []*fastjson.Value) []wireAttempt {
	if len(arr) == 0 {
		return nil
	}
	out := make([]wireAttempt, 0, len(arr))
	for _, a := range arr {
		at := wireAttempt{StartedAt: getInt64(a, "startedAt"), StoppedAt: getInt64(a, "stoppedAt"), StatusReason: getStr(a, "statusReason")}
		if c := getObj(a, "container"); c != nil {
			at.Container = &wireAttemptContainer{
				ContainerInstanceArn: getStr(c, "containerInstanceArn"),
				ExitCode:             getIntPtr(c, "exitCode"),
				LogStreamName:        getStr(c, "logStreamName"),
				Reason:               getStr(c, "reason"),
				TaskArn:              getStr(c, "taskArn"),
			}
		}
		for _, tp := range getArr(a, "taskProperties") {
			t := wireAttemptTask{ContainerInstanceArn: getStr(tp, "containerInstanceArn"), TaskArn: getStr(tp, "taskArn")}
			for _, c := range getArr(tp, "containers") {
				t.Containers = append(t.Containers, wireAttemptTaskContainers{
					Name: getStr(c, "name"), ExitCode: getIntPtr(c, "exitCode"),
					LogStreamName: getStr(c, "logStreamName"), Reason: getStr(c, "reason"),
				})
			}
			at.TaskProperties = append(at.TaskProperties, t)
		}
		out = append(out, at)
	}
	return out
}

func fillContainer(c *fastjson.Value) *wireContainer {
	w := &wireContainer{}
	valObj(c).Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "image":
			w.Image = valStr(f)
		case "vcpus":
			w.Vcpus = getFloatVal(f)
		case "memory":
			w.Memory = getFloatVal(f)
		case "resourceRequirements":
			w.ResourceRequirements = resourceReqs(valArr(f))
		case "exitCode":
			w.ExitCode = valIntPtr(f)
		case "reason":
			w.Reason = valStr(f)
		case "logStreamName":
			w.LogStreamName = valStr(f)
		case "taskArn":
			w.TaskArn = valStr(f)
		case "containerInstanceArn":
			w.ContainerInstanceArn = valStr(f)
		case "instanceType":
			w.InstanceType = valStr(f)
		}
	})
	return w
}

func getFloatVal(f *fastjson.Value) float64 {
	if f.Type() != fastjson.TypeNumber {
		return 0
	}
	fl, _ := f.Float64()
	return fl
}

func fillEksProps(ep *fastjson.Value) *wireEksProps {
	out := &wireEksProps{}
	pp := getObj(ep, "podProperties")
	if pp == nil {
		return out
	}
	props := &wireEksPod{PodName: getStr(pp, "podName"), NodeName: getStr(pp, "nodeName")}
	for _, c := range getArr(pp, "containers") {
		ec := wireEksContainer{Name: getStr(c, "name"), Image: getStr(c, "image"), ExitCode: getIntPtr(c, "exitCode"), Reason: getStr(c, "reason")}
		if r := getObj(c, "resources"); r != nil {
			ec.Resources = &wireEksResources{Limits: getStrMap(r, "limits"), Requests: getStrMap(r, "requests")}
		}
		props.Containers = append(props.Containers, ec)
	}
	out.PodProperties = props
	return out
}

func fillEksAttempts(arr []*fastjson.Value) []wireEksAttempt {
	var out []wireEksAttempt
	for _, a := range arr {
		ea := wireEksAttempt{PodName: getStr(a, "podName"), NodeName: getStr(a, "nodeName"),
			StartedAt: getInt64(a, "startedAt"), StoppedAt: getInt64(a, "stoppedAt"), StatusReason: getStr(a, "statusReason")}
		for _, c := range getArr(a, "containers") {
			ea.Containers = append(ea.Containers, wireEksAttemptContainer{Name: getStr(c, "name"), ExitCode: getIntPtr(c, "exitCode"), Reason: getStr(c, "reason")})
		}
		out = append(out, ea)
	}
	return out
}

func fillEcsProps(ep *fastjson.Value) *wireEcsProps {
	out := &wireEcsProps{}
	for _, tp := range getArr(ep, "taskProperties") {
		t := wireEcsTask{TaskArn: getStr(tp, "taskArn"), ContainerInstanceArn: getStr(tp, "containerInstanceArn")}
		for _, c := range getArr(tp, "containers") {
			ec := wireEcsContainer{Name: getStr(c, "name"), Image: getStr(c, "image"),
				ResourceRequirements: fillResourceReqs(c, "resourceRequirements"), ExitCode: getIntPtr(c, "exitCode"),
				Reason: getStr(c, "reason"), LogStreamName: getStr(c, "logStreamName")}
			if f := c.Get("essential"); f != nil && (f.Type() == fastjson.TypeTrue || f.Type() == fastjson.TypeFalse) {
				b := f.Type() == fastjson.TypeTrue
				ec.Essential = &b
			}
			t.Containers = append(t.Containers, ec)
		}
		out.TaskProperties = append(out.TaskProperties, t)
	}
	return out
}
