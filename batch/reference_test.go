package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceParse decodes with encoding/json into the same wire structs (by
// their json tags): an independent second reading of an event, used to
// check the fastjson getters field by field.
func referenceParse(body []byte) (*Event, error) {
	body = bytes.TrimSpace(body)
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return nil, err
		}
	}
	if w.Type == "Notification" && w.Message != "" && w.Detail == nil {
		ev, err := referenceParse([]byte(w.Message))
		if err != nil {
			return nil, err
		}
		ev.SNSMessageID = w.MessageID
		return ev, nil
	}
	if w.DetailType == DetailTypeAttemptUsage && w.Detail != nil {
		var env struct {
			Detail json.RawMessage `json:"detail"`
		}
		_ = json.Unmarshal(body, &env)
		w.Usage = &wireUsage{}
		if err := json.Unmarshal(env.Detail, w.Usage); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return nil, err
			}
		}
	}
	return fromWire(&w, body)
}

// FuzzParseMatchesReference: wherever both readers accept an event and
// encoding/json met no field of an unexpected type, they agree.
func FuzzParseMatchesReference(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var probe wireEnvelope
		if err := json.Unmarshal(bytes.TrimSpace(body), &probe); err != nil {
			return // type mismatches: the readers may legitimately differ
		}
		// Invalid UTF-8 is kept as is by fastjson and replaced by U+FFFD by
		// encoding/json; both are fine, they just differ.
		if !json.Valid(body) || !utf8.Valid(body) {
			return
		}
		// encoding/json matches keys case-insensitively ("stoppEdAt" reads
		// as stoppedAt) and unescapes them; AWS writes exact keys, and so
		// does our reader. Skip inputs where that could matter.
		if bytes.Contains(body, []byte(`\u`)) || caseAmbiguous(body) {
			return
		}
		ref, rerr := referenceParse(body)
		got, gerr := Parse(body)
		if (rerr == nil) != (gerr == nil) {
			t.Fatalf("reference err %v, fastjson err %v for %q", rerr, gerr, body)
		}
		if rerr != nil {
			return
		}
		rj, _ := json.Marshal(ref.Summary())
		gj, _ := json.Marshal(got.Summary())
		if !bytes.Equal(rj, gj) {
			t.Fatalf("summaries differ for %q:\nref %s\ngot %s", body, rj, gj)
		}
	})
}

// wireKeys lists every json key the wire structs read.
func wireKeys() []string {
	var keys []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag := f.Tag.Get("json"); tag != "" {
				keys = append(keys, tag)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(wireEnvelope{}))
	return keys
}

// caseAmbiguous reports whether some key appears in a case other than the
// ones the wire structs use ("type" and "Type" are both legitimate).
func caseAmbiguous(body []byte) bool {
	lower := bytes.ToLower(body)
	exact := map[string]int{}
	for _, k := range wireKeys() {
		lk := strings.ToLower(k)
		if _, done := exact[lk+"\x00"+k]; done {
			continue
		}
		exact[lk+"\x00"+k] = 0
		exact[lk] += keyCount(body, k)
	}
	for lk, n := range exact {
		if strings.Contains(lk, "\x00") {
			continue
		}
		if keyCount(lower, lk) != n {
			return true
		}
	}
	return false
}

// keyCount counts occurrences of k as an object key ("k" followed by ':').
func keyCount(body []byte, k string) int {
	return len(regexp.MustCompile(`"`+regexp.QuoteMeta(k)+`"\s*:`).FindAllIndex(body, -1))
}
