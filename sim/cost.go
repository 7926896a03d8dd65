package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cost Explorer: costs are accrued from the simulated instance-hours (and
// Fargate task-hours) at the scenario's prices, per hour, per cost
// dimensions and per tag set, and GetCostAndUsage aggregates them.

const (
	serviceEC2 = "Amazon Elastic Compute Cloud - Compute"
	serviceECS = "Amazon Elastic Container Service"
)

type costDims struct {
	service, usageType, purchase, instanceType, operation, unit string
	normFactor                                                  float64
}

type costKey struct {
	hour int64 // epoch ms of the hour's start
	dims int32
	tags int32
}

type costVal struct{ cost, usage float64 }

type costBook struct {
	region, account, prefix string
	dims                    []costDims
	dimIdx                  map[costDims]int32
	tags                    []map[string]string
	tagIdx                  map[string]int32
	cells                   map[costKey]*costVal
}

// regionUsagePrefix is the prefix of usage types in a region's bills.
func regionUsagePrefix(region string) string {
	switch region {
	case "us-east-2":
		return "USE2-"
	case "us-west-1":
		return "USW1-"
	case "us-west-2":
		return "USW2-"
	case "eu-west-1":
		return "EU-"
	case "eu-west-2":
		return "EUW2-"
	case "eu-central-1":
		return "EUC1-"
	case "ap-southeast-1":
		return "APS1-"
	case "ap-southeast-2":
		return "APS2-"
	case "ap-northeast-1":
		return "APN1-"
	}
	return ""
}

func newCostBook(sc *Scenario) *costBook {
	return &costBook{
		region: sc.Region, account: sc.Account, prefix: regionUsagePrefix(sc.Region),
		dimIdx: map[costDims]int32{}, tagIdx: map[string]int32{}, cells: map[costKey]*costVal{},
	}
}

func (b *costBook) dimID(d costDims) int32 {
	if id, ok := b.dimIdx[d]; ok {
		return id
	}
	id := int32(len(b.dims))
	b.dims = append(b.dims, d)
	b.dimIdx[d] = id
	return id
}

func (b *costBook) tagID(tags map[string]string) int32 {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(tags[k])
		sb.WriteByte(0)
	}
	key := sb.String()
	if id, ok := b.tagIdx[key]; ok {
		return id
	}
	id := int32(len(b.tags))
	b.tags = append(b.tags, copyMap(tags))
	b.tagIdx[key] = id
	return id
}

// add books rate (USD per hour) and usage rate (units per hour) over
// [from, to), split by hour.
func (b *costBook) add(from, to int64, dims, tags int32, rate, usage float64) {
	const hour = int64(time.Hour / time.Millisecond)
	for from < to {
		h := from - ((from%hour)+hour)%hour
		end := min(to, h+hour)
		frac := float64(end-from) / float64(hour)
		k := costKey{hour: h, dims: dims, tags: tags}
		v := b.cells[k]
		if v == nil {
			v = &costVal{}
			b.cells[k] = v
		}
		v.cost += rate * frac
		v.usage += usage * frac
		from = end
	}
}

func normalizationFactor(instanceType string) float64 {
	_, size, _ := strings.Cut(instanceType, ".")
	switch size {
	case "nano":
		return 0.25
	case "micro":
		return 0.5
	case "small":
		return 1
	case "medium":
		return 2
	case "large":
		return 4
	case "xlarge":
		return 8
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge")); err == nil {
		return float64(8 * n)
	}
	return 1
}

func (s *Sim) ec2Dims(inst *instance) int32 {
	usage, purchase := "BoxUsage:", "On Demand Instances"
	if inst.spot {
		usage, purchase = "SpotUsage:", "Spot Instances"
	}
	return s.cost.dimID(costDims{
		service: serviceEC2, usageType: s.cost.prefix + usage + inst.typ.Name, purchase: purchase,
		instanceType: inst.typ.Name, operation: "RunInstances", unit: "Hrs",
		normFactor: normalizationFactor(inst.typ.Name),
	})
}

// costTags returns the tag set a job's cost is attributed to: the compute
// environment's tags (computeResources.tags, on the instances; Fargate has
// no instances and Batch puts them on no task), plus the job's and its
// definition's when the job propagates tags.
func (s *Sim) costTags(j *job, ce *computeEnv) int32 {
	if j.costCE == ce {
		return j.costTagID
	}
	tags := map[string]string{}
	if !ce.fargate {
		tags = copyMap(ce.tags)
		if tags == nil {
			tags = map[string]string{}
		}
	}
	if j.propagateTags {
		for k, v := range j.def.detail.Tags {
			tags[k] = v
		}
		for k, v := range j.tags {
			tags[k] = v
		}
	}
	j.costCE, j.costTagID = ce, s.cost.tagID(tags)
	return j.costTagID
}

func (s *Sim) ceTags(ce *computeEnv) int32 {
	if !ce.costTagsSet {
		ce.costTagID = s.cost.tagID(ce.tags)
		ce.costTagsSet = true
	}
	return ce.costTagID
}

// accrue books an instance's cost up to now, split between the jobs
// running on it (by their share of its vCPUs) and idle time.
func (s *Sim) accrue(inst *instance) {
	now := s.cur
	if inst.terminated || now <= inst.accruedTo {
		return
	}
	from := inst.accruedTo
	inst.accruedTo = now
	price := inst.ce.price(inst.typ)
	dims := s.ec2Dims(inst)
	used := 0.0
	for _, j := range inst.jobs {
		if j.status != stStarting && j.status != stRunning {
			continue
		}
		share := math.Min(1-used, j.vcpus/float64(inst.typ.VCPUs))
		used += share
		s.cost.add(from, now, dims, s.costTags(j, inst.ce), price*share, share)
	}
	if idle := 1 - used; idle > 1e-9 {
		s.cost.add(from, now, dims, s.ceTags(inst.ce), price*idle, idle)
	}
}

// addFargate books a Fargate task from STARTING to its end.
func (b *costBook) addFargate(s *Sim, ce *computeEnv, j *job, a *attempt) {
	usagePrefix, purchase := "", "On Demand Instances"
	mult := 1.0
	if ce.spot {
		usagePrefix, purchase, mult = "SpotUsage-", "Spot Instances", 0.3
	}
	tags := s.costTags(j, ce)
	gb := float64(j.memMiB) / 1024
	cpu := b.dimID(costDims{service: serviceECS, usageType: b.prefix + usagePrefix + "Fargate-vCPU-Hours:perCPU",
		purchase: purchase, operation: "FargateTask", unit: "Hrs", normFactor: 1})
	mem := b.dimID(costDims{service: serviceECS, usageType: b.prefix + usagePrefix + "Fargate-GB-Hours",
		purchase: purchase, operation: "FargateTask", unit: "GB-Hrs", normFactor: 1})
	b.add(a.startingAt, a.stoppedAt, cpu, tags, j.vcpus*ce.spec.FargateVCPUPrice*mult, j.vcpus)
	b.add(a.startingAt, a.stoppedAt, mem, tags, gb*ce.spec.FargateGBPrice*mult, gb)
}

// Cost Explorer wire shapes (awsJson1_1, service AWSInsightsIndexService).

type ceDateInterval struct {
	Start string `json:"Start"`
	End   string `json:"End"`
}

type ceGroupDefinition struct {
	Type string `json:"Type,omitempty"`
	Key  string `json:"Key,omitempty"`
}

type ceValues struct {
	Key          string   `json:"Key"`
	Values       []string `json:"Values"`
	MatchOptions []string `json:"MatchOptions"`
}

type ceExpression struct {
	Or             []ceExpression `json:"Or"`
	And            []ceExpression `json:"And"`
	Not            *ceExpression  `json:"Not"`
	Dimensions     *ceValues      `json:"Dimensions"`
	Tags           *ceValues      `json:"Tags"`
	CostCategories *ceValues      `json:"CostCategories"`
}

type getCostAndUsageInput struct {
	TimePeriod     *ceDateInterval     `json:"TimePeriod"`
	Granularity    string              `json:"Granularity"`
	Filter         *ceExpression       `json:"Filter"`
	Metrics        []string            `json:"Metrics"`
	GroupBy        []ceGroupDefinition `json:"GroupBy"`
	NextPageToken  string              `json:"NextPageToken"`
	BillingViewArn string              `json:"BillingViewArn"`
}

type ceMetricValue struct {
	Amount string `json:"Amount"`
	Unit   string `json:"Unit"`
}

type ceGroup struct {
	Keys    []string                 `json:"Keys"`
	Metrics map[string]ceMetricValue `json:"Metrics"`
}

type ceResultByTime struct {
	TimePeriod ceDateInterval           `json:"TimePeriod"`
	Total      map[string]ceMetricValue `json:"Total"`
	Groups     []ceGroup                `json:"Groups"`
	Estimated  bool                     `json:"Estimated"`
}

type getCostAndUsageOutput struct {
	NextPageToken            string              `json:"NextPageToken,omitempty"`
	GroupDefinitions         []ceGroupDefinition `json:"GroupDefinitions,omitempty"`
	ResultsByTime            []ceResultByTime    `json:"ResultsByTime"`
	DimensionValueAttributes []struct{}          `json:"DimensionValueAttributes"`
}

func ceMetrics() []string {
	return []string{"AmortizedCost", "BlendedCost", "NetAmortizedCost", "NetUnblendedCost",
		"NormalizedUsageAmount", "UnblendedCost", "UsageQuantity"}
}

func ceGroupDimensions() []string {
	return []string{"AZ", "INSTANCE_TYPE", "LEGAL_ENTITY_NAME", "INVOICING_ENTITY",
		"LINKED_ACCOUNT", "OPERATION", "PLATFORM", "PURCHASE_TYPE", "SERVICE", "TENANCY", "RECORD_TYPE",
		"USAGE_TYPE", "REGION", "DATABASE_ENGINE", "INSTANCE_TYPE_FAMILY", "BILLING_ENTITY", "RESERVATION_ID",
		"SAVINGS_PLAN_ARN", "OPERATING_SYSTEM", "USAGE_TYPE_GROUP", "CACHE_ENGINE", "DEPLOYMENT_OPTION"}
}

type ceError struct{ code, msg string }

func (e *ceError) Error() string { return e.code + ": " + e.msg }

func ceValidation(format string, args ...any) error {
	return &ceError{code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

// serveCostExplorer answers AWSInsightsIndexService.* requests.
func (s *Sim) serveCostExplorer(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSInsightsIndexService.")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", newRequestID())
	writeErr := func(status int, code, msg string) {
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
	}
	if op != "GetCostAndUsage" {
		writeErr(http.StatusBadRequest, "UnknownOperationException", "The operation "+op+" is not supported by the simulator.")
		return
	}
	s.metrics.ceCalls.Inc()
	var in getCostAndUsageInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(http.StatusBadRequest, "SerializationException", "Cannot parse the request: "+err.Error())
		return
	}
	out, err := s.getCostAndUsage(&in)
	if err != nil {
		if ce, ok := err.(*ceError); ok {
			writeErr(http.StatusBadRequest, ce.code, ce.msg)
			return
		}
		writeErr(http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

type cePeriod struct {
	start, end int64
	label      ceDateInterval
}

func (s *Sim) getCostAndUsage(in *getCostAndUsageInput) (*getCostAndUsageOutput, error) {
	if in.TimePeriod == nil {
		return nil, ceValidation("TimePeriod must be specified")
	}
	if len(in.Metrics) == 0 {
		return nil, ceValidation("Metrics must be specified")
	}
	for _, m := range in.Metrics {
		if !slices.Contains(ceMetrics(), m) {
			return nil, ceValidation("Metric %s is not valid. Valid values are %s", m, strings.Join(ceMetrics(), ", "))
		}
	}
	if len(in.GroupBy) > 2 {
		return nil, ceValidation("GroupBy can have at most 2 group definitions")
	}
	for _, g := range in.GroupBy {
		switch g.Type {
		case "TAG":
			if g.Key == "" {
				return nil, ceValidation("Group Definition tag key is required")
			}
		case "DIMENSION":
			if !slices.Contains(ceGroupDimensions(), g.Key) {
				return nil, ceValidation("Group Definition dimension is invalid. Valid values are %s", strings.Join(ceGroupDimensions(), ", "))
			}
		case "COST_CATEGORY":
		default:
			return nil, ceValidation("Group Definition type is invalid. Valid values are DIMENSION, TAG, COST_CATEGORY")
		}
	}
	periods, err := cePeriods(in.TimePeriod, in.Granularity)
	if err != nil {
		return nil, err
	}
	fingerprint := ceFingerprint(in)
	offset := 0
	if in.NextPageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextPageToken)
		fp, off, ok := strings.Cut(string(raw), ":")
		n, aerr := strconv.Atoi(off)
		if err != nil || !ok || aerr != nil || fp != fingerprint {
			return nil, &ceError{code: "InvalidNextTokenException", msg: "The pagination token is invalid."}
		}
		offset = n
	}

	s.mu.Lock()
	s.syncClock()
	for _, ce := range s.ceOrder {
		for _, inst := range ce.instances {
			s.accrue(inst)
		}
	}
	now := s.cur
	cutoff := now - int64(s.sc.CostExplorer.Lag/time.Millisecond)
	type agg struct {
		keys  []string
		vals  costVal
		norm  float64
		units map[string]bool
	}
	perPeriod := make([]map[string]*agg, len(periods))
	for i := range perPeriod {
		perPeriod[i] = map[string]*agg{}
	}
	for k, v := range s.cost.cells {
		if k.hour >= cutoff {
			continue
		}
		d := s.cost.dims[k.dims]
		tags := s.cost.tags[k.tags]
		if in.Filter != nil && !s.ceMatch(in.Filter, d, tags) {
			continue
		}
		pi := sort.Search(len(periods), func(i int) bool { return periods[i].end > k.hour })
		if pi == len(periods) || periods[pi].start > k.hour {
			continue
		}
		keys := make([]string, len(in.GroupBy))
		for gi, g := range in.GroupBy {
			if g.Type == "TAG" {
				keys[gi] = g.Key + "$" + tags[g.Key]
			} else {
				keys[gi] = s.ceDimension(g.Key, d)
			}
		}
		id := strings.Join(keys, "\x00")
		a := perPeriod[pi][id]
		if a == nil {
			a = &agg{keys: keys, units: map[string]bool{}}
			perPeriod[pi][id] = a
		}
		a.vals.cost += v.cost
		a.vals.usage += v.usage
		a.norm += v.usage * d.normFactor
		a.units[d.unit] = true
	}
	s.mu.Unlock()

	metrics := func(a *agg) map[string]ceMetricValue {
		out := make(map[string]ceMetricValue, len(in.Metrics))
		for _, m := range in.Metrics {
			switch m {
			case "UsageQuantity":
				unit := "N/A"
				if len(a.units) == 1 {
					for u := range a.units {
						unit = u
					}
				}
				out[m] = ceMetricValue{Amount: ceAmount(a.vals.usage), Unit: unit}
			case "NormalizedUsageAmount":
				out[m] = ceMetricValue{Amount: ceAmount(a.norm), Unit: "N/A"}
			default:
				out[m] = ceMetricValue{Amount: ceAmount(a.vals.cost), Unit: "USD"}
			}
		}
		return out
	}
	type cell struct {
		period int
		group  *agg
	}
	var cells []cell
	for pi, groups := range perPeriod {
		if len(in.GroupBy) == 0 {
			a := groups[""]
			if a == nil {
				a = &agg{units: map[string]bool{"USD": true}}
			}
			cells = append(cells, cell{pi, a})
			continue
		}
		ids := make([]string, 0, len(groups))
		for id := range groups {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) == 0 {
			cells = append(cells, cell{pi, nil})
		}
		for _, id := range ids {
			cells = append(cells, cell{pi, groups[id]})
		}
	}
	out := &getCostAndUsageOutput{GroupDefinitions: in.GroupBy, ResultsByTime: []ceResultByTime{}, DimensionValueAttributes: []struct{}{}}
	end := min(len(cells), offset+s.sc.CostExplorer.PageSize)
	if offset > len(cells) {
		offset = len(cells)
	}
	for _, c := range cells[offset:end] {
		p := periods[c.period]
		n := len(out.ResultsByTime)
		if n == 0 || out.ResultsByTime[n-1].TimePeriod != p.label {
			out.ResultsByTime = append(out.ResultsByTime, ceResultByTime{
				TimePeriod: p.label, Total: map[string]ceMetricValue{}, Groups: []ceGroup{},
				Estimated: p.end > now-int64(24*time.Hour/time.Millisecond),
			})
			n++
		}
		res := &out.ResultsByTime[n-1]
		switch {
		case len(in.GroupBy) == 0:
			res.Total = metrics(c.group)
		case c.group != nil:
			res.Groups = append(res.Groups, ceGroup{Keys: c.group.keys, Metrics: metrics(c.group)})
		}
	}
	if end < len(cells) {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(fingerprint + ":" + strconv.Itoa(end)))
	}
	return out, nil
}

func ceAmount(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e10)/1e10, 'f', -1, 64)
}

// ceFingerprint ties a page token to the request it came from.
func ceFingerprint(in *getCostAndUsageInput) string {
	c := *in
	c.NextPageToken = ""
	b, _ := json.Marshal(&c)
	h := fnv.New64a()
	_, _ = h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

func cePeriods(tp *ceDateInterval, granularity string) ([]cePeriod, error) {
	parse := func(v string) (time.Time, error) {
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t, nil
		}
		return time.Parse(time.RFC3339, v)
	}
	start, err1 := parse(tp.Start)
	end, err2 := parse(tp.End)
	if err1 != nil || err2 != nil {
		return nil, ceValidation("TimePeriod Start and End must be dates (YYYY-MM-DD) or, for HOURLY, times (YYYY-MM-DDThh:mm:ssZ)")
	}
	if !start.Before(end) {
		return nil, ceValidation("Start date (and hour) should be before end date (and hour)")
	}
	layout := "2006-01-02"
	var step func(time.Time) time.Time
	switch granularity {
	case "DAILY", "":
		step = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC) }
	case "MONTHLY":
		step = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC) }
	case "HOURLY":
		if end.Sub(start) > 14*24*time.Hour {
			return nil, ceValidation("Time range for HOURLY granularity must not exceed 14 days")
		}
		layout = "2006-01-02T15:04:05Z"
		step = func(t time.Time) time.Time { return t.Truncate(time.Hour).Add(time.Hour) }
	default:
		return nil, ceValidation("Granularity %s is not valid. Valid values are DAILY, MONTHLY, HOURLY", granularity)
	}
	var out []cePeriod
	for t := start; t.Before(end); {
		n := step(t)
		if n.After(end) {
			n = end
		}
		out = append(out, cePeriod{start: t.UnixMilli(), end: n.UnixMilli(),
			label: ceDateInterval{Start: t.Format(layout), End: n.Format(layout)}})
		t = n
	}
	if len(out) > 5000 {
		return nil, ceValidation("The requested time range has too many periods")
	}
	return out, nil
}

func (s *Sim) ceDimension(key string, d costDims) string {
	switch key {
	case "SERVICE":
		return d.service
	case "USAGE_TYPE":
		return d.usageType
	case "INSTANCE_TYPE":
		return d.instanceType
	case "INSTANCE_TYPE_FAMILY":
		f, _, _ := strings.Cut(d.instanceType, ".")
		return f
	case "PURCHASE_TYPE":
		return d.purchase
	case "OPERATION":
		return d.operation
	case "REGION":
		return s.cost.region
	case "LINKED_ACCOUNT":
		return s.cost.account
	case "RECORD_TYPE":
		return "Usage"
	case "PLATFORM", "OPERATING_SYSTEM":
		if d.service == serviceEC2 {
			return "Linux/UNIX"
		}
	case "TENANCY":
		if d.service == serviceEC2 {
			return "Shared"
		}
	case "AZ":
		return s.cost.region + "a"
	}
	return "NoValue"
}

// ceMatch evaluates a Cost Explorer filter expression.
func (s *Sim) ceMatch(e *ceExpression, d costDims, tags map[string]string) bool {
	switch {
	case len(e.And) > 0:
		for i := range e.And {
			if !s.ceMatch(&e.And[i], d, tags) {
				return false
			}
		}
		return true
	case len(e.Or) > 0:
		for i := range e.Or {
			if s.ceMatch(&e.Or[i], d, tags) {
				return true
			}
		}
		return false
	case e.Not != nil:
		return !s.ceMatch(e.Not, d, tags)
	case e.Dimensions != nil:
		return valuesMatch(e.Dimensions, s.ceDimension(e.Dimensions.Key, d), true)
	case e.Tags != nil:
		v, ok := tags[e.Tags.Key]
		if slices.Contains(e.Tags.MatchOptions, "ABSENT") {
			return !ok || v == ""
		}
		return valuesMatch(e.Tags, v, ok)
	case e.CostCategories != nil:
		return slices.Contains(e.CostCategories.MatchOptions, "ABSENT")
	}
	return true
}

func valuesMatch(v *ceValues, got string, present bool) bool {
	opts := v.MatchOptions
	fold := slices.Contains(opts, "CASE_INSENSITIVE")
	cmp := func(a, b string) (string, string) {
		if fold {
			return strings.ToLower(a), strings.ToLower(b)
		}
		return a, b
	}
	for _, want := range v.Values {
		g, w := cmp(got, want)
		switch {
		case slices.Contains(opts, "STARTS_WITH"):
			if present && strings.HasPrefix(g, w) {
				return true
			}
		case slices.Contains(opts, "ENDS_WITH"):
			if present && strings.HasSuffix(g, w) {
				return true
			}
		case slices.Contains(opts, "CONTAINS"):
			if present && strings.Contains(g, w) {
				return true
			}
		default:
			if g == w && (present || w == "") {
				return true
			}
		}
	}
	return false
}
