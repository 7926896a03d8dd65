package eventbridge

import (
	"encoding/json"
	"testing"
)

// FuzzMembers checks the scanner against encoding/json on valid objects.
func FuzzMembers(f *testing.F) {
	f.Add(`{"a":1,"b":"x\"y\\","c":{"d":[1,{"e":"}"}]},"\u0066":null}`)
	f.Add(`{ }`)
	f.Fuzz(func(t *testing.T, doc string) {
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &want) != nil || want == nil {
			_, _ = members([]byte(doc)) // must not panic
			return
		}
		ms, err := members([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		got := map[string]string{}
		for _, m := range ms {
			var k string
			if err := json.Unmarshal(m.key, &k); err != nil {
				t.Fatalf("key %q: %v", m.key, err)
			}
			got[k] = string(m.val)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, want %d", doc, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != string(v) {
				t.Fatalf("%q: member %q = %q, want %q", doc, k, got[k], v)
			}
			if n := (&node{raw: []byte(doc)}).field(k); n == nil {
				t.Fatalf("%q: field %q not found", doc, k)
			}
		}
	})
}

func TestElements(t *testing.T) {
	els, err := elements([]byte(` [ 1 , "a,]" , {"b":[2]}, [] ] `))
	if err != nil || len(els) != 4 || string(els[1]) != `"a,]"` || string(els[2]) != `{"b":[2]}` {
		t.Fatalf("%q %v", els, err)
	}
	for _, bad := range []string{`[1,`, `[`, `{"a"}`, `{"a":}`, `"x`} {
		if _, err := elements([]byte(bad)); err == nil {
			if _, err := members([]byte(bad)); err == nil {
				t.Fatalf("%q accepted", bad)
			}
		}
	}
}
