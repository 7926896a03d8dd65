package batch

import (
	"bytes"
	"strconv"
	"strings"
	"unsafe"

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
//
// Strings are read through a filler, which points them into the message
// body when they appear there as is, and else copies them into an arena,
// rather than allocating each: fastjson reuses its buffers between calls,
// so nothing may point into them after Parse returns.

// filler reads one event (or one job detail) out of a fastjson tree.
type filler struct {
	// body is the document being read when the event keeps it (as Raw),
	// else nil. fastjson parses a copy of the document, so a string without
	// escapes lies in its buffer at the offset where it lies in body: body
	// holds it too, and str points the string there rather than copying
	// it. base is the address of the copy, found from the first key of the
	// envelope, which must lie at keyOff; 0 until then. A string is taken
	// from body only when the bytes there equal it, so an offset that is
	// wrong, for any reason, costs a copy, never a wrong value.
	body   []byte
	base   uintptr
	keyOff int

	// arena holds the bytes of the other strings, back to back; the strings
	// are views of it (a strings.Builder only appends: what it returned
	// stays as it was). It is never let grow, which would copy it: when a
	// string does not fit, a new arena is started, with room for the whole
	// document (need), which bounds what the rest of the event can take (an
	// unescaped string is never longer than its escaped form, and each
	// string of the document is read once), so an event spans at most two.
	//
	// A Parser's arena is a slab shared by the events it returns, started
	// only when an escaped string comes; the one-shot Parse and
	// ParseJobDetail take just the document's length.
	arena strings.Builder
	slab  int // least size of a new arena
	need  int // length of the document being read

	// message is the SNS Message of the envelope read, if any.
	message []byte

	// Tags and parameters are sorted here; normalize copies them out.
	tags, params []KV

	// The wire structs of one event, reused from event to event: normalize
	// and fromWire copy out whatever the event keeps, so none of this is
	// reachable from an event.
	detail    wireDetail
	detailVal *fastjson.Value // the detail object of the envelope read
	container wireContainer
	retry     wireRetryStrategy
	timeout   wireTimeout
	array     wireArrayProps
	nodeDet   wireNodeDetails
	nodeProps wireNodeProps
	priority  int64
	resources []string
	deps      []wireDependency
	caps      []string
	ints      pool[int]
	attempts  pool[wireAttempt]
	attCtrs   pool[wireAttemptContainer]
	reqs      pool[wireResourceRequirement]
	logConfs  pool[wireLogConfiguration]
}

// start starts reading an event from body, which the event keeps.
func (fl *filler) start(body []byte) {
	fl.reset(len(body))
	fl.body = body
	// fastjson has checked that body is an object: '{', blanks, then the
	// first key's '"' (or '}').
	i := 1
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	fl.keyOff = i + 1
}

// reset starts a new event read from a document of n bytes. The scratch
// space is not cleared (whatever is taken from it is overwritten whole):
// what it still holds of earlier events keeps a few earlier documents and
// arenas alive, no more than its few entries can point to.
func (fl *filler) reset(n int) {
	fl.need = n
	fl.body, fl.base, fl.message = nil, 0, nil
	fl.tags = fl.tags[:0]
	fl.params = fl.params[:0]
	fl.resources = fl.resources[:0]
	fl.deps = fl.deps[:0]
	fl.caps = fl.caps[:0]
	fl.ints.reset()
	fl.attempts.reset()
	fl.attCtrs.reset()
	fl.reqs.reset()
	fl.logConfs.reset()
}

// pool hands out slices of T carved from a chunk reused between events. A
// chunk that runs out is replaced by a bigger one rather than grown, so what
// was handed out stays where it is.
type pool[T any] struct{ buf []T }

// take returns n values, with capacity n, that the caller must overwrite:
// they may hold what an earlier event left.
func (p *pool[T]) take(n int) []T {
	if n > cap(p.buf)-len(p.buf) {
		p.buf = make([]T, 0, max(n, 2*cap(p.buf), 4))
	}
	i := len(p.buf)
	p.buf = p.buf[:i+n]
	return p.buf[i : i+n : i+n]
}

func (p *pool[T]) reset() { p.buf = p.buf[:0] }

// intPtr returns a pointer to a copy of n in scratch space.
func (fl *filler) intPtr(n int) *int {
	p := &fl.ints.take(1)[0]
	*p = n
	return p
}

// str returns b as a string of the event's: a view of body when b appears
// there, else a copy in the arena.
func (fl *filler) str(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	if fl.base != 0 && n <= len(fl.body) {
		off := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - fl.base
		if off <= uintptr(len(fl.body)-n) {
			if in := fl.body[off : off+uintptr(n)]; string(in) == string(b) {
				return unsafe.String(&in[0], n)
			}
		}
	}
	if n > fl.arena.Cap()-fl.arena.Len() {
		fl.arena = strings.Builder{}
		fl.arena.Grow(max(fl.slab, fl.need, n))
	}
	fl.arena.Write(b)
	s := fl.arena.String()
	return s[len(s)-len(b):]
}

// strBytes returns the bytes of a value known to be a string.
func strBytes(f *fastjson.Value) []byte {
	b, _ := f.StringBytes()
	return b
}

// strList reads the strings of an array (other elements are skipped) into
// scratch, which is reused between events; nil when there are none.
func (fl *filler) strList(f *fastjson.Value, scratch *[]string) []string {
	var out []string
	for _, e := range valArr(f) {
		if e.Type() == fastjson.TypeString {
			if out == nil {
				out = (*scratch)[:0]
			}
			out = append(out, fl.str(strBytes(e)))
		}
	}
	if cap(out) > cap(*scratch) {
		*scratch = out[:0]
	}
	return out
}

func (fl *filler) valStr(f *fastjson.Value) string {
	if f.Type() != fastjson.TypeString {
		return ""
	}
	return fl.str(strBytes(f))
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

func (fl *filler) valIntPtr(f *fastjson.Value) *int {
	if f.Type() != fastjson.TypeNumber {
		return nil
	}
	n, err := f.Int()
	if err != nil {
		return nil
	}
	return fl.intPtr(n)
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

// sortedStrs reads an object of strings into kvs sorted by key, as
// sortedKVs(valStrMap(f)) would: non-strings are skipped, and of a key given
// twice the last string value wins. Objects usually arrive sorted, so an
// insertion sort from the end is about free.
func (fl *filler) sortedStrs(kvs []KV, f *fastjson.Value) []KV {
	kvs = kvs[:0]
	o := valObj(f)
	if o == nil || o.Len() == 0 {
		return kvs
	}
	o.Visit(func(k []byte, val *fastjson.Value) {
		if val.Type() != fastjson.TypeString {
			return
		}
		i := len(kvs)
		for i > 0 && kvs[i-1].Key > string(k) {
			i--
		}
		if i > 0 && kvs[i-1].Key == string(k) {
			kvs[i-1].Value = fl.str(strBytes(val))
			return
		}
		kv := KV{Key: fl.str(k), Value: fl.str(strBytes(val))}
		if i == len(kvs) { // in order: the usual case
			kvs = append(kvs, kv)
			return
		}
		kvs = append(kvs, KV{})
		copy(kvs[i+1:], kvs[i:])
		kvs[i] = kv
	})
	return kvs
}

// finishKVs points the detail at the sorted tags and parameters.
func (fl *filler) finishKVs(d *wireDetail) {
	d.tagKVs, d.paramKVs = fl.tags, fl.params
}

func (fl *filler) getStr(v *fastjson.Value, key string) string {
	f := v.Get(key)
	if f == nil || f.Type() != fastjson.TypeString {
		return ""
	}
	return fl.str(strBytes(f))
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

func (fl *filler) getIntPtr(v *fastjson.Value, key string) *int {
	f := v.Get(key)
	if f == nil {
		return nil
	}
	return fl.valIntPtr(f)
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
func (fl *filler) getStrMap(v *fastjson.Value, key string) map[string]string {
	o := getObj(v, key)
	if o == nil {
		return nil
	}
	obj, _ := o.Object()
	m := make(map[string]string, obj.Len())
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if val.Type() == fastjson.TypeString {
			m[fl.str(k)] = fl.str(strBytes(val))
		}
	})
	return m
}

func (fl *filler) getIntMap(v *fastjson.Value, key string) map[string]int {
	o := getObj(v, key)
	if o == nil {
		return nil
	}
	obj, _ := o.Object()
	m := make(map[string]int, obj.Len())
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if n, err := val.Int(); err == nil {
			m[fl.str(k)] = n
		}
	})
	return m
}

func (fl *filler) fillEnvelope(v *fastjson.Value, w *wireEnvelope) {
	o := valObj(v)
	fl.detailVal = nil
	if o == nil {
		return
	}
	first := true
	o.Visit(func(k []byte, f *fastjson.Value) {
		if first {
			first = false
			if fl.body != nil && len(k) > 0 {
				fl.base = uintptr(unsafe.Pointer(unsafe.SliceData(k))) - uintptr(fl.keyOff)
			}
		}
		switch string(k) {
		case "id":
			w.ID = fl.valStr(f)
		case "detail-type":
			w.DetailType = fl.valStr(f)
		case "source":
			w.Source = fl.valStr(f)
		case "account":
			w.Account = fl.valStr(f)
		case "time":
			w.Time = fl.valStr(f)
		case "region":
			w.Region = fl.valStr(f)
		case "resources":
			w.Resources = fl.strList(f, &fl.resources)
		case "detail":
			if f.Type() == fastjson.TypeObject && w.Detail == nil {
				fl.detail = wireDetail{}
				w.Detail = &fl.detail
				fl.detailVal = f
				fl.fillDetail(f, w.Detail)
			}
		case "Type":
			w.Type = fl.valStr(f)
		case "Message":
			// An SNS message is the next document to parse, and its
			// event keeps it as Raw: it gets its own copy.
			fl.message = nil
			w.Message = ""
			if f.Type() == fastjson.TypeString {
				if b := strBytes(f); len(b) > 0 {
					fl.message = bytes.Clone(b)
					w.Message = unsafe.String(&fl.message[0], len(b))
				}
			}
		case "MessageId":
			w.MessageID = fl.valStr(f)
		}
	})
}

func (fl *filler) fillResourceReqs(v *fastjson.Value, key string) []wireResourceRequirement {
	return fl.resourceReqs(getArr(v, key))
}

func (fl *filler) resourceReqs(arr []*fastjson.Value) []wireResourceRequirement {
	if len(arr) == 0 {
		return nil
	}
	out := fl.reqs.take(len(arr))[:0]
	for _, r := range arr {
		rr := wireResourceRequirement{Type: fl.getStr(r, "type"), Value: fl.getStr(r, "value")}
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

func (fl *filler) fillDetail(v *fastjson.Value, d *wireDetail) {
	o := valObj(v)
	if o == nil {
		return
	}
	defer fl.finishKVs(d)
	o.Visit(func(k []byte, f *fastjson.Value) {
		if !fl.fillDetailField(k, f, d) {
			fl.fillDetailNested(k, f, d)
		}
	})
}

// fillDetailField fills the detail's identity, status, times, definition,
// tags and parameters; it reports whether k was one of them.
func (fl *filler) fillDetailField(k []byte, f *fastjson.Value, d *wireDetail) bool {
	switch string(k) {
	case "jobArn":
		d.JobArn = fl.valStr(f)
	case "jobName":
		d.JobName = fl.valStr(f)
	case "jobId":
		d.JobID = fl.valStr(f)
	case "jobQueue":
		d.JobQueue = fl.valStr(f)
	case "status":
		d.Status = fl.valStr(f)
	case "statusReason":
		d.StatusReason = fl.valStr(f)
	case "shareIdentifier":
		d.ShareIdentifier = fl.valStr(f)
	case "schedulingPriority":
		if f.Type() == fastjson.TypeNumber {
			fl.priority = valInt64(f)
			d.SchedulingPriority = &fl.priority
		}
	case "createdAt":
		d.CreatedAt = valInt64(f)
	case "startedAt":
		d.StartedAt = valInt64(f)
	case "stoppedAt":
		d.StoppedAt = valInt64(f)
	case "retryStrategy":
		if f.Type() == fastjson.TypeObject {
			fl.retry = wireRetryStrategy{Attempts: int(getInt64(f, "attempts"))}
			d.RetryStrategy = &fl.retry
		}
	case "dependsOn":
		for _, dep := range valArr(f) {
			if d.DependsOn == nil {
				d.DependsOn = fl.deps[:0]
			}
			d.DependsOn = append(d.DependsOn, wireDependency{JobID: fl.getStr(dep, "jobId")})
		}
		if cap(d.DependsOn) > cap(fl.deps) {
			fl.deps = d.DependsOn[:0]
		}
	case "jobDefinition":
		d.JobDefinition = fl.valStr(f)
	case "parameters":
		fl.params = fl.sortedStrs(fl.params, f)
	case "tags":
		fl.tags = fl.sortedStrs(fl.tags, f)
	case "propagateTags":
		d.PropagateTags = f.Type() == fastjson.TypeTrue
	case "platformCapabilities":
		d.PlatformCapabilities = fl.strList(f, &fl.caps)
	default:
		return false
	}
	return true
}

// fillDetailNested fills the detail's attempts, container, array and node
// properties, timeout and EKS/ECS properties.
func (fl *filler) fillDetailNested(k []byte, f *fastjson.Value, d *wireDetail) {
	switch string(k) {
	case "attempts":
		d.Attempts = fl.fillAttempts(valArr(f))
	case "container":
		if f.Type() == fastjson.TypeObject {
			d.Container = fl.fillContainer(f)
		}
	case "nodeDetails":
		if f.Type() == fastjson.TypeObject {
			fl.nodeDet = wireNodeDetails{NodeIndex: fl.getIntPtr(f, "nodeIndex"), IsMainNode: getBool(f, "isMainNode")}
			d.NodeDetails = &fl.nodeDet
		}
	case "nodeProperties":
		if f.Type() == fastjson.TypeObject {
			fl.nodeProps = wireNodeProps{NumNodes: int(getInt64(f, "numNodes")), MainNode: int(getInt64(f, "mainNode"))}
			d.NodeProperties = &fl.nodeProps
		}
	case "arrayProperties":
		if f.Type() == fastjson.TypeObject {
			fl.array = wireArrayProps{Size: int(getInt64(f, "size")), Index: fl.getIntPtr(f, "index"), StatusSummary: fl.getIntMap(f, "statusSummary")}
			d.ArrayProperties = &fl.array
		}
	case "timeout":
		if f.Type() == fastjson.TypeObject {
			fl.timeout = wireTimeout{AttemptDurationSeconds: getInt64(f, "attemptDurationSeconds")}
			d.Timeout = &fl.timeout
		}
	case "eksProperties":
		if f.Type() == fastjson.TypeObject {
			d.EksProperties = fl.fillEksProps(f)
		}
	case "eksAttempts":
		d.EksAttempts = fl.fillEksAttempts(valArr(f))
	case "ecsProperties":
		if f.Type() == fastjson.TypeObject {
			d.EcsProperties = fl.fillEcsProps(f)
		}
	}
}

func (fl *filler) fillAttempts(arr []*fastjson.Value) []wireAttempt {
	if len(arr) == 0 {
		return nil
	}
	out := fl.attempts.take(len(arr))[:0]
	for _, a := range arr {
		at := wireAttempt{StartedAt: getInt64(a, "startedAt"), StoppedAt: getInt64(a, "stoppedAt"), StatusReason: fl.getStr(a, "statusReason")}
		if c := getObj(a, "container"); c != nil {
			at.Container = &fl.attCtrs.take(1)[0]
			*at.Container = wireAttemptContainer{
				ContainerInstanceArn: fl.getStr(c, "containerInstanceArn"),
				ExitCode:             fl.getIntPtr(c, "exitCode"),
				LogStreamName:        fl.getStr(c, "logStreamName"),
				Reason:               fl.getStr(c, "reason"),
				TaskArn:              fl.getStr(c, "taskArn"),
			}
		}
		for _, tp := range getArr(a, "taskProperties") {
			t := wireAttemptTask{ContainerInstanceArn: fl.getStr(tp, "containerInstanceArn"), TaskArn: fl.getStr(tp, "taskArn")}
			for _, c := range getArr(tp, "containers") {
				t.Containers = append(t.Containers, wireAttemptTaskContainers{
					Name: fl.getStr(c, "name"), ExitCode: fl.getIntPtr(c, "exitCode"),
					LogStreamName: fl.getStr(c, "logStreamName"), Reason: fl.getStr(c, "reason"),
				})
			}
			at.TaskProperties = append(at.TaskProperties, t)
		}
		out = append(out, at)
	}
	return out
}

func (fl *filler) fillContainer(c *fastjson.Value) *wireContainer {
	w := &fl.container
	*w = wireContainer{}
	valObj(c).Visit(func(k []byte, f *fastjson.Value) {
		switch string(k) {
		case "image":
			w.Image = fl.valStr(f)
		case "vcpus":
			w.Vcpus = getFloatVal(f)
		case "memory":
			w.Memory = getFloatVal(f)
		case "resourceRequirements":
			w.ResourceRequirements = fl.resourceReqs(valArr(f))
		case "exitCode":
			w.ExitCode = fl.valIntPtr(f)
		case "reason":
			w.Reason = fl.valStr(f)
		case "logStreamName":
			w.LogStreamName = fl.valStr(f)
		case "instanceType":
			w.InstanceType = fl.valStr(f)
		case "logConfiguration":
			w.LogConfiguration = fl.logConfiguration(f)
		}
	})
	return w
}

// logConfiguration reads a container's logConfiguration into scratch; nil
// when it is no object.
func (fl *filler) logConfiguration(f *fastjson.Value) *wireLogConfiguration {
	if f.Type() != fastjson.TypeObject {
		return nil
	}
	lc := &fl.logConfs.take(1)[0]
	*lc = wireLogConfiguration{LogDriver: fl.getStr(f, "logDriver")}
	if opts := getObj(f, "options"); opts != nil {
		o := valObj(opts)
		o.Visit(func(k []byte, v *fastjson.Value) {
			switch string(k) {
			case "awslogs-group":
				lc.Options.Group = fl.valStr(v)
			case "awslogs-region":
				lc.Options.Region = fl.valStr(v)
			case "awslogs-stream-prefix":
				lc.Options.StreamPrefix = fl.valStr(v)
			}
		})
	}
	return lc
}

func getFloatVal(f *fastjson.Value) float64 {
	if f.Type() != fastjson.TypeNumber {
		return 0
	}
	fl, _ := f.Float64()
	return fl
}

func (fl *filler) fillEksProps(ep *fastjson.Value) *wireEksProps {
	out := &wireEksProps{}
	pp := getObj(ep, "podProperties")
	if pp == nil {
		return out
	}
	props := &wireEksPod{PodName: fl.getStr(pp, "podName"), NodeName: fl.getStr(pp, "nodeName")}
	for _, c := range getArr(pp, "containers") {
		ec := wireEksContainer{Name: fl.getStr(c, "name"), Image: fl.getStr(c, "image"), ExitCode: fl.getIntPtr(c, "exitCode"), Reason: fl.getStr(c, "reason")}
		if r := getObj(c, "resources"); r != nil {
			ec.Resources = &wireEksResources{Limits: fl.getStrMap(r, "limits"), Requests: fl.getStrMap(r, "requests")}
		}
		props.Containers = append(props.Containers, ec)
	}
	out.PodProperties = props
	return out
}

func (fl *filler) fillEksAttempts(arr []*fastjson.Value) []wireEksAttempt {
	var out []wireEksAttempt
	for _, a := range arr {
		ea := wireEksAttempt{PodName: fl.getStr(a, "podName"), NodeName: fl.getStr(a, "nodeName"),
			StartedAt: getInt64(a, "startedAt"), StoppedAt: getInt64(a, "stoppedAt"), StatusReason: fl.getStr(a, "statusReason")}
		for _, c := range getArr(a, "containers") {
			ea.Containers = append(ea.Containers, wireEksAttemptContainer{Name: fl.getStr(c, "name"), ExitCode: fl.getIntPtr(c, "exitCode"), Reason: fl.getStr(c, "reason")})
		}
		out = append(out, ea)
	}
	return out
}

func (fl *filler) fillEcsProps(ep *fastjson.Value) *wireEcsProps {
	out := &wireEcsProps{}
	for _, tp := range getArr(ep, "taskProperties") {
		t := wireEcsTask{TaskArn: fl.getStr(tp, "taskArn"), ContainerInstanceArn: fl.getStr(tp, "containerInstanceArn")}
		for _, c := range getArr(tp, "containers") {
			ec := wireEcsContainer{Name: fl.getStr(c, "name"), Image: fl.getStr(c, "image"),
				ResourceRequirements: fl.fillResourceReqs(c, "resourceRequirements"), ExitCode: fl.getIntPtr(c, "exitCode"),
				Reason: fl.getStr(c, "reason"), LogStreamName: fl.getStr(c, "logStreamName")}
			if f := c.Get("logConfiguration"); f != nil {
				ec.LogConfiguration = fl.logConfiguration(f)
			}
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
