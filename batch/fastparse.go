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

func getFloat(v *fastjson.Value, key string) float64 {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeNumber {
		return 0
	}
	fl, _ := f.Float64()
	return fl
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

func getStrs(v *fastjson.Value, key string) []string {
	arr := getArr(v, key)
	if arr == nil {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if e.Type() == fastjson.TypeString {
			out = append(out, string(e.GetStringBytes()))
		}
	}
	return out
}

func fillEnvelope(v *fastjson.Value, w *wireEnvelope) {
	w.Version = getStr(v, "version")
	w.ID = getStr(v, "id")
	w.DetailType = getStr(v, "detail-type")
	w.Source = getStr(v, "source")
	w.Account = getStr(v, "account")
	w.Time = getStr(v, "time")
	w.Region = getStr(v, "region")
	w.Resources = getStrs(v, "resources")
	if d := getObj(v, "detail"); d != nil {
		w.Detail = &wireDetail{}
		fillDetail(d, w.Detail)
	}
	w.Type = getStr(v, "Type")
	w.Message = getStr(v, "Message")
	w.MessageID = getStr(v, "MessageId")
	w.TopicArn = getStr(v, "TopicArn")
}

func fillResourceReqs(v *fastjson.Value, key string) []wireResourceRequirement {
	arr := getArr(v, key)
	if len(arr) == 0 {
		return nil
	}
	out := make([]wireResourceRequirement, 0, len(arr))
	for _, r := range arr {
		rr := wireResourceRequirement{Type: getStr(r, "type"), Value: getStr(r, "value")}
		if rr.Value == "" {
			// Some producers write the value as a number.
			if f := r.Get("value"); f != nil && f.Type() == fastjson.TypeNumber {
				rr.Value = strconv.FormatFloat(getFloat(r, "value"), 'f', -1, 64)
			}
		}
		out = append(out, rr)
	}
	return out
}

func fillDetail(v *fastjson.Value, d *wireDetail) {
	d.JobArn = getStr(v, "jobArn")
	d.JobName = getStr(v, "jobName")
	d.JobID = getStr(v, "jobId")
	d.JobQueue = getStr(v, "jobQueue")
	d.Status = getStr(v, "status")
	d.StatusReason = getStr(v, "statusReason")
	d.ShareIdentifier = getStr(v, "shareIdentifier")
	if f := v.Get("schedulingPriority"); f != nil && f.Type() == fastjson.TypeNumber {
		n := getInt64(v, "schedulingPriority")
		d.SchedulingPriority = &n
	}
	d.CreatedAt = getInt64(v, "createdAt")
	d.StartedAt = getInt64(v, "startedAt")
	d.StoppedAt = getInt64(v, "stoppedAt")
	if rs := getObj(v, "retryStrategy"); rs != nil {
		d.RetryStrategy = &wireRetryStrategy{Attempts: int(getInt64(rs, "attempts"))}
	}
	for _, dep := range getArr(v, "dependsOn") {
		d.DependsOn = append(d.DependsOn, wireDependency{JobID: getStr(dep, "jobId"), Type: getStr(dep, "type")})
	}
	d.JobDefinition = getStr(v, "jobDefinition")
	d.Parameters = getStrMap(v, "parameters")
	d.Tags = getStrMap(v, "tags")
	d.PropagateTags = getBool(v, "propagateTags")
	d.PlatformCapabilities = getStrs(v, "platformCapabilities")

	for _, a := range getArr(v, "attempts") {
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
		d.Attempts = append(d.Attempts, at)
	}

	if c := getObj(v, "container"); c != nil {
		d.Container = &wireContainer{
			Image:                getStr(c, "image"),
			Vcpus:                getFloat(c, "vcpus"),
			Memory:               getFloat(c, "memory"),
			ResourceRequirements: fillResourceReqs(c, "resourceRequirements"),
			ExitCode:             getIntPtr(c, "exitCode"),
			Reason:               getStr(c, "reason"),
			LogStreamName:        getStr(c, "logStreamName"),
			TaskArn:              getStr(c, "taskArn"),
			ContainerInstanceArn: getStr(c, "containerInstanceArn"),
			InstanceType:         getStr(c, "instanceType"),
		}
	}
	if nd := getObj(v, "nodeDetails"); nd != nil {
		d.NodeDetails = &wireNodeDetails{NodeIndex: getIntPtr(nd, "nodeIndex"), IsMainNode: getBool(nd, "isMainNode")}
	}
	if np := getObj(v, "nodeProperties"); np != nil {
		d.NodeProperties = &wireNodeProps{NumNodes: int(getInt64(np, "numNodes")), MainNode: int(getInt64(np, "mainNode"))}
	}
	if ap := getObj(v, "arrayProperties"); ap != nil {
		d.ArrayProperties = &wireArrayProps{Size: int(getInt64(ap, "size")), Index: getIntPtr(ap, "index"), StatusSummary: getIntMap(ap, "statusSummary")}
	}
	if t := getObj(v, "timeout"); t != nil {
		d.Timeout = &wireTimeout{AttemptDurationSeconds: getInt64(t, "attemptDurationSeconds")}
	}
	if ep := getObj(v, "eksProperties"); ep != nil {
		d.EksProperties = &wireEksProps{}
		if pp := getObj(ep, "podProperties"); pp != nil {
			props := &wireEksPod{PodName: getStr(pp, "podName"), NodeName: getStr(pp, "nodeName")}
			for _, c := range getArr(pp, "containers") {
				ec := wireEksContainer{Name: getStr(c, "name"), Image: getStr(c, "image"), ExitCode: getIntPtr(c, "exitCode"), Reason: getStr(c, "reason")}
				if r := getObj(c, "resources"); r != nil {
					ec.Resources = &wireEksResources{Limits: getStrMap(r, "limits"), Requests: getStrMap(r, "requests")}
				}
				props.Containers = append(props.Containers, ec)
			}
			d.EksProperties.PodProperties = props
		}
	}
	for _, a := range getArr(v, "eksAttempts") {
		ea := wireEksAttempt{PodName: getStr(a, "podName"), NodeName: getStr(a, "nodeName"),
			StartedAt: getInt64(a, "startedAt"), StoppedAt: getInt64(a, "stoppedAt"), StatusReason: getStr(a, "statusReason")}
		for _, c := range getArr(a, "containers") {
			ea.Containers = append(ea.Containers, wireEksAttemptContainer{Name: getStr(c, "name"), ExitCode: getIntPtr(c, "exitCode"), Reason: getStr(c, "reason")})
		}
		d.EksAttempts = append(d.EksAttempts, ea)
	}
	if ep := getObj(v, "ecsProperties"); ep != nil {
		d.EcsProperties = &wireEcsProps{}
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
			d.EcsProperties.TaskProperties = append(d.EcsProperties.TaskProperties, t)
		}
	}
}
