package eventbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
)

// PatternError is an invalid event pattern (InvalidEventPatternException).
type PatternError struct{ Reason string }

func (e *PatternError) Error() string { return "Event pattern is not valid. Reason: " + e.Reason }

func patternErr(format string, args ...any) error {
	return &PatternError{Reason: fmt.Sprintf(format, args...)}
}

// Pattern is a compiled event pattern, matched as EventBridge documents it
// ("Content filtering in Amazon EventBridge event patterns"): every field of
// the pattern must match (AND); a field's array lists alternatives (OR);
// an event array matches when any element does; nested objects match
// nested objects, element by element through arrays of objects; a field
// missing from the event matches only {"exists": false}; $or lists
// alternative sub-patterns. Match types: exact strings, numbers, booleans
// and null, prefix, suffix (both also with equals-ignore-case),
// equals-ignore-case, anything-but (values, prefix, suffix,
// equals-ignore-case, wildcard), numeric ranges, exists, wildcard and cidr.
type Pattern struct {
	src  string
	root *objPattern
}

// String returns the pattern's source.
func (p *Pattern) String() string { return p.src }

type objPattern struct {
	fields []fieldPattern
	ors    [][]*objPattern // every $or must have one matching alternative
}

type fieldPattern struct {
	name string
	sub  *objPattern // nested object pattern, or
	leaf []matcher   // alternatives for a leaf value
}

type opKind uint8

const (
	opString opKind = iota
	opNumber
	opBool
	opNull
	opPrefix
	opSuffix
	opPrefixIC
	opSuffixIC
	opEqualsIC
	opWildcard
	opNumeric
	opExists
	opCIDR
	opAnythingBut // not any of the nested matchers
)

type numCond struct {
	op  string
	val float64
}

type matcher struct {
	op      opKind
	str     string
	num     float64
	b       bool
	conds   []numCond
	prefix  netip.Prefix
	nested  []matcher // anything-but alternatives
	ruleKey string    // the match type as written, for messages
}

// CompilePattern parses and validates an event pattern.
func CompilePattern(src string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, patternErr("Filter is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, patternErr("Filter is not valid JSON: trailing data")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, patternErr("Filter is not an object")
	}
	root, err := compileObject(obj)
	if err != nil {
		return nil, err
	}
	return &Pattern{src: src, root: root}, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func compileObject(obj map[string]any) (*objPattern, error) {
	p := &objPattern{}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, patternErr("$or must be an array of at least two objects")
			}
			var or []*objPattern
			for _, a := range alts {
				ao, ok := a.(map[string]any)
				if !ok {
					return nil, patternErr("$or must be an array of at least two objects")
				}
				sub, err := compileObject(ao)
				if err != nil {
					return nil, err
				}
				or = append(or, sub)
			}
			p.ors = append(p.ors, or)
			continue
		}
		switch vv := v.(type) {
		case map[string]any:
			sub, err := compileObject(vv)
			if err != nil {
				return nil, err
			}
			p.fields = append(p.fields, fieldPattern{name: k, sub: sub})
		case []any:
			if len(vv) == 0 {
				return nil, patternErr("Empty arrays are not allowed")
			}
			ms := make([]matcher, 0, len(vv))
			for _, item := range vv {
				m, err := compileMatcher(item)
				if err != nil {
					return nil, err
				}
				ms = append(ms, m)
			}
			p.fields = append(p.fields, fieldPattern{name: k, leaf: ms})
		default:
			return nil, patternErr("'%s' must be an object or an array", k)
		}
	}
	return p, nil
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// compileMatcher compiles one alternative of a leaf array.
func compileMatcher(item any) (matcher, error) {
	switch v := item.(type) {
	case string:
		return matcher{op: opString, str: v}, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return matcher{}, patternErr("Bad number %s", v)
		}
		return matcher{op: opNumber, num: f}, nil
	case bool:
		return matcher{op: opBool, b: v}, nil
	case nil:
		return matcher{op: opNull}, nil
	case map[string]any:
		if len(v) != 1 {
			return matcher{}, patternErr("Match object must have exactly one match type, has %d", len(v))
		}
		for k, arg := range v {
			return compileOperator(k, arg)
		}
	}
	return matcher{}, patternErr("Match value must be String, number, true, false, or null")
}

func compileOperator(op string, arg any) (matcher, error) {
	str := func() (string, error) {
		s, ok := arg.(string)
		if !ok {
			return "", patternErr("%s match pattern must be a string", op)
		}
		return s, nil
	}
	switch op {
	case "prefix", "suffix":
		if o, ok := arg.(map[string]any); ok {
			s, isStr := o["equals-ignore-case"].(string)
			if len(o) != 1 || !isStr {
				return matcher{}, patternErr("Unsupported %s pattern", op)
			}
			kind := opPrefixIC
			if op == "suffix" {
				kind = opSuffixIC
			}
			return matcher{op: kind, str: strings.ToLower(s), ruleKey: op}, nil
		}
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		kind := opPrefix
		if op == "suffix" {
			kind = opSuffix
		}
		return matcher{op: kind, str: s, ruleKey: op}, nil
	case "equals-ignore-case":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		return matcher{op: opEqualsIC, str: strings.ToLower(s), ruleKey: op}, nil
	case "wildcard":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		if strings.Contains(s, "**") {
			return matcher{}, patternErr("Consecutive wildcard characters at pos %d", strings.Index(s, "**")+1)
		}
		return matcher{op: opWildcard, str: s, ruleKey: op}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return matcher{}, patternErr("exists match pattern must be either true or false.")
		}
		return matcher{op: opExists, b: b, ruleKey: op}, nil
	case "cidr":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		pfx, perr := netip.ParsePrefix(s)
		if perr != nil {
			return matcher{}, patternErr("Nonstandard IP address: %s", s)
		}
		return matcher{op: opCIDR, prefix: pfx.Masked(), ruleKey: op}, nil
	case "numeric":
		return compileNumeric(arg)
	case "anything-but":
		return compileAnythingBut(arg)
	}
	return matcher{}, patternErr("Unrecognized match type %s", op)
}

func compileNumeric(arg any) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return matcher{}, patternErr("Value of numeric must be an array of operator, number pairs")
	}
	m := matcher{op: opNumeric, ruleKey: "numeric"}
	lower, upper := false, false
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok {
			return matcher{}, patternErr("Unrecognized numeric range operator: %v", list[i])
		}
		val, ok := number(list[i+1])
		if !ok {
			return matcher{}, patternErr("Value of %s must be numeric", op)
		}
		switch op {
		case ">", ">=":
			if lower {
				return matcher{}, patternErr("Bad numeric range: two lower bounds")
			}
			lower = true
		case "<", "<=":
			if upper {
				return matcher{}, patternErr("Bad numeric range: two upper bounds")
			}
			upper = true
		case "=":
			if len(list) != 2 {
				return matcher{}, patternErr("Bad numeric range: = cannot be combined")
			}
		default:
			return matcher{}, patternErr("Unrecognized numeric range operator: %s", op)
		}
		m.conds = append(m.conds, numCond{op: op, val: val})
	}
	if len(m.conds) == 2 && m.conds[0].op[0] == '<' {
		m.conds[0], m.conds[1] = m.conds[1], m.conds[0]
	}
	if len(m.conds) == 2 && m.conds[0].val >= m.conds[1].val {
		return matcher{}, patternErr("Bad numeric range: lower bound must be below upper bound")
	}
	return m, nil
}

func compileAnythingBut(arg any) (matcher, error) {
	m := matcher{op: opAnythingBut, ruleKey: "anything-but"}
	switch v := arg.(type) {
	case string:
		m.nested = []matcher{{op: opString, str: v}}
	case json.Number:
		f, _ := number(v)
		m.nested = []matcher{{op: opNumber, num: f}}
	case []any:
		if len(v) == 0 {
			return matcher{}, patternErr("Empty arrays are not allowed")
		}
		strs, nums := false, false
		for _, x := range v {
			switch xv := x.(type) {
			case string:
				strs = true
				m.nested = append(m.nested, matcher{op: opString, str: xv})
			case json.Number:
				nums = true
				f, _ := number(xv)
				m.nested = append(m.nested, matcher{op: opNumber, num: f})
			default:
				return matcher{}, patternErr("Inside anything but list, start|null|boolean is not supported.")
			}
		}
		if strs && nums {
			return matcher{}, patternErr("Inside anything but list, mixed types are not supported.")
		}
	case map[string]any:
		if len(v) != 1 {
			return matcher{}, patternErr("Unsupported anything-but pattern")
		}
		for k, inner := range v {
			switch k {
			case "prefix", "suffix", "equals-ignore-case", "wildcard":
				// A list of values is accepted for these, as in EventBridge.
				if list, ok := inner.([]any); ok && k != "prefix" && k != "suffix" {
					for _, x := range list {
						n, err := compileOperator(k, x)
						if err != nil {
							return matcher{}, err
						}
						m.nested = append(m.nested, n)
					}
					continue
				}
				n, err := compileOperator(k, inner)
				if err != nil {
					return matcher{}, err
				}
				m.nested = append(m.nested, n)
			default:
				return matcher{}, patternErr("Unsupported anything-but pattern: %s", k)
			}
		}
	default:
		return matcher{}, patternErr("Value of anything-but must be an array or single string/number value.")
	}
	return m, nil
}

// ---- matching ----

// node is a lazily decoded part of an event: objects are split into
// members only when a pattern looks inside them.
type node struct {
	raw     []byte
	members []member
	done    bool
}

func (n *node) kind() byte {
	i := skipSpace(n.raw, 0)
	if i >= len(n.raw) {
		return 0
	}
	return n.raw[i]
}

func (n *node) field(name string) *node {
	if !n.done {
		n.done = true
		if n.kind() == '{' {
			n.members, _ = members(n.raw)
		}
	}
	for i := range n.members {
		if keyIs(n.members[i].key, name) {
			return &node{raw: n.members[i].val}
		}
	}
	return nil
}

// value is a scalar event value.
type value struct {
	kind byte // 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	num  float64
	b    bool
}

// leaves flattens a leaf field's value: scalars, and the scalars of
// (nested) arrays. Objects are not leaves.
func leaves(raw []byte, out []value) []value {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return out
	}
	raw = raw[i:]
	switch raw[0] {
	case '"':
		if s, ok := stringValue(raw); ok {
			out = append(out, value{kind: 's', str: s})
		}
	case 't', 'f':
		out = append(out, value{kind: 'b', b: raw[0] == 't'})
	case 'n':
		out = append(out, value{kind: 'z'})
	case '[':
		items, _ := elements(raw)
		for _, it := range items {
			out = leaves(it, out)
		}
	case '{':
	default:
		if f, ok := numberValue(raw); ok {
			out = append(out, value{kind: 'n', num: f})
		}
	}
	return out
}

// Match reports whether a JSON event matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	if !json.Valid(event) {
		return false, errors.New("event is not valid JSON")
	}
	return p.root.match(&node{raw: event}), nil
}

func (p *objPattern) match(n *node) bool {
	for i := range p.fields {
		f := &p.fields[i]
		var child *node
		if n != nil {
			child = n.field(f.name)
		}
		if f.sub != nil {
			if !matchNested(f.sub, child) {
				return false
			}
			continue
		}
		if !matchLeaf(f.leaf, child) {
			return false
		}
	}
	for _, alts := range p.ors {
		ok := false
		for _, a := range alts {
			if a.match(n) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchNested matches a nested pattern against an object, or any object of
// an array; a missing or scalar value is matched as an empty object (only
// exists:false can then match).
func matchNested(p *objPattern, n *node) bool {
	if n != nil && n.kind() == '[' {
		items, _ := elements(n.raw)
		for _, it := range items {
			if matchNested(p, &node{raw: it}) {
				return true
			}
		}
		return false
	}
	if n != nil && n.kind() != '{' {
		n = nil
	}
	return p.match(n)
}

func matchLeaf(ms []matcher, n *node) bool {
	var vals []value
	if n != nil {
		vals = leaves(n.raw, make([]value, 0, 1))
	}
	for i := range ms {
		m := &ms[i]
		if m.op == opExists {
			if (len(vals) > 0) == m.b {
				return true
			}
			continue
		}
		for j := range vals {
			if m.matches(&vals[j]) {
				return true
			}
		}
	}
	return false
}

func (m *matcher) matches(v *value) bool {
	switch m.op {
	case opString:
		return v.kind == 's' && v.str == m.str
	case opNumber:
		return v.kind == 'n' && v.num == m.num
	case opBool:
		return v.kind == 'b' && v.b == m.b
	case opNull:
		return v.kind == 'z'
	case opPrefix:
		return v.kind == 's' && strings.HasPrefix(v.str, m.str)
	case opSuffix:
		return v.kind == 's' && strings.HasSuffix(v.str, m.str)
	case opPrefixIC:
		return v.kind == 's' && strings.HasPrefix(strings.ToLower(v.str), m.str)
	case opSuffixIC:
		return v.kind == 's' && strings.HasSuffix(strings.ToLower(v.str), m.str)
	case opEqualsIC:
		return v.kind == 's' && strings.ToLower(v.str) == m.str
	case opWildcard:
		return v.kind == 's' && wildcardMatch(m.str, v.str)
	case opNumeric:
		if v.kind != 'n' {
			return false
		}
		for _, c := range m.conds {
			if !compare(v.num, c.op, c.val) {
				return false
			}
		}
		return true
	case opCIDR:
		if v.kind != 's' {
			return false
		}
		addr, err := netip.ParseAddr(v.str)
		return err == nil && m.prefix.Contains(addr)
	case opAnythingBut:
		// "Anything-but matching matches anything except what's provided
		// in the rule": values of other types match too.
		for i := range m.nested {
			if m.nested[i].matches(v) {
				return false
			}
		}
		return true
	}
	return false
}

func compare(a float64, op string, b float64) bool {
	const eps = 1e-9
	switch op {
	case "=":
		return math.Abs(a-b) < eps
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// wildcardMatch matches s against a pattern where * is any run of
// characters and \* a literal star.
func wildcardMatch(pattern, s string) bool {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '\\' && i+1 < len(pattern) && (pattern[i+1] == '*' || pattern[i+1] == '\\') {
			cur.WriteByte(pattern[i+1])
			i++
			continue
		}
		if c == '*' {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	parts = append(parts, cur.String())
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
