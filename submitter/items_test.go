package submitter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestReadItemsJSONL(t *testing.T) {
	in := `{"key": "acct-1", "size": 12, "params": {"accountId": "1", "dry": true, "n": 3}}

{"key": 42, "size": "1e5", "priority": "high", "tier": "large"}
`
	items, bad, err := ReadItems("items.jsonl", strings.NewReader(in), FormatJSONL)
	if err != nil || len(bad) != 0 {
		t.Fatalf("err %v bad %v", err, bad)
	}
	want := []Item{
		{Key: "acct-1", Size: 12, Params: map[string]string{"accountId": "1", "dry": "true", "n": "3"}, Line: 1},
		{Key: "42", Size: 1e5, Priority: "high", Tier: "large", Line: 3},
	}
	if !reflect.DeepEqual(items, want) {
		t.Errorf("items = %+v\nwant %+v", items, want)
	}
}

func TestReadItemsCSV(t *testing.T) {
	in := "key,size,priority,accountId,region\nacct-1,12,,1,eu\n\"acct,2\",300.5,high,2,\"us \"\"east\"\"\"\n"
	items, bad, err := ReadItems("items.csv", strings.NewReader(in), FormatCSV)
	if err != nil || len(bad) != 0 {
		t.Fatalf("err %v bad %v", err, bad)
	}
	want := []Item{
		{Key: "acct-1", Size: 12, Params: map[string]string{"accountId": "1", "region": "eu"}, Line: 2},
		{Key: "acct,2", Size: 300.5, Priority: "high", Params: map[string]string{"accountId": "2", "region": `us "east"`}, Line: 3},
	}
	if !reflect.DeepEqual(items, want) {
		t.Errorf("items = %+v\nwant %+v", items, want)
	}
}

// TestBadItems covers every bad input of the issue: unknown tier, size
// outside every range, malformed line, missing key, duplicate key; each
// error names the file and the line, and nothing is returned to submit.
func TestBadItems(t *testing.T) {
	p := mustPlan(t, minimalPlan)
	cases := []struct {
		name, file, format, in string
		want                   []string
	}{
		{"malformed json", "items.jsonl", FormatJSONL, `{"key": "a", "size": 1}` + "\n" + `{"key": "b", "size": 2` + "\n",
			[]string{"items.jsonl:2: malformed line: unexpected end of line"}},
		{"not an object", "items.jsonl", FormatJSONL, "[1,2]\n", []string{"items.jsonl:1: malformed line"}},
		{"unknown field", "items.jsonl", FormatJSONL, `{"key": "a", "sise": 1}` + "\n", []string{`items.jsonl:1: malformed line: unknown field "sise"`}},
		{"missing key", "items.jsonl", FormatJSONL, `{"key": "a", "size": 1}` + "\n" + `{"size": 2}` + "\n", []string{"items.jsonl:2: missing key"}},
		{"empty key", "items.jsonl", FormatJSONL, `{"key": " ", "size": 2}` + "\n", []string{"items.jsonl:1: missing key"}},
		{"duplicate key", "items.jsonl", FormatJSONL,
			`{"key": "acct-42", "size": 1}` + "\n" + `{"key": "x", "size": 1}` + "\n" + `{"key": "acct-42", "size": 2}` + "\n",
			[]string{`items.jsonl:3: duplicate key "acct-42" (first at line 1)`}},
		{"missing size", "items.jsonl", FormatJSONL, `{"key": "a"}` + "\n", []string{`items.jsonl:1: key "a": missing size`}},
		{"bad size", "items.jsonl", FormatJSONL, `{"key": "a", "size": "lots"}` + "\n", []string{`items.jsonl:1: key "a": size "lots" is not a number`}},
		{"object param", "items.jsonl", FormatJSONL, `{"key": "a", "size": 1, "params": {"x": {}}}` + "\n", []string{`parameter "x" must be a string`}},
		{"unknown tier", "items.jsonl", FormatJSONL, `{"key": "a", "size": 1, "tier": "xl"}` + "\n", []string{`items.jsonl:1: key "a": unknown tier "xl"`}},
		{"unknown priority", "items.jsonl", FormatJSONL, `{"key": "a", "size": 1, "priority": "asap"}` + "\n", []string{`items.jsonl:1: key "a": unknown priority "asap"`}},
		{"size outside every range", "items.jsonl", FormatJSONL, "", nil}, // filled below with a plan that has gaps
		{"csv wrong field count", "items.csv", FormatCSV, "key,size\na,1\nb,2,3\n", []string{"items.csv:3: malformed line: wrong number of fields"}},
		{"csv bad quote", "items.csv", FormatCSV, "key,size\na,1\n\"b,2\n", []string{"items.csv:3: malformed line"}},
		{"csv missing key", "items.csv", FormatCSV, "key,size\n,1\n", []string{"items.csv:2: missing key"}},
		{"csv duplicate key", "items.csv", FormatCSV, "key,size\nacct-42,1\nb,1\nacct-42,1\n", []string{`items.csv:4: duplicate key "acct-42" (first at line 2)`}},
		{"csv no key column", "items.csv", FormatCSV, "id,size\na,1\n", []string{`items.csv:1: header: column "key" is required`}},
		{"csv empty", "items.csv", FormatCSV, "", []string{"items.csv:1: empty file"}},
		{"csv unknown tier", "items.csv", FormatCSV, "key,size,tier\na,5,tiny\n", []string{`items.csv:2: key "a": unknown tier "tiny"`}},
	}
	gapPlan := mustPlan(t, strings.Replace(minimalPlan, "{min: 1000, max: 100000, tier: medium}", "{min: 2000, max: 100000, tier: medium}", 1))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := p
			if c.name == "size outside every range" {
				plan = gapPlan
				c.in = `{"key": "a", "size": 1}` + "\n" + `{"key": "b", "size": 1500}` + "\n"
				c.want = []string{`items.jsonl:2: key "b": size 1500 is outside every size range (small [-Inf, 1000), medium [2000, 100000), large [100000, +Inf))`}
			}
			items, readErrs, err := ReadItems(c.file, strings.NewReader(c.in), c.format)
			if err != nil {
				t.Fatal(err)
			}
			as, bad, err := Load(plan, c.file, items, readErrs, false)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			if as != nil {
				t.Errorf("assignments returned despite errors: %d", len(as))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(bad) != len(ve.Errors) {
				t.Errorf("bad lines %d != errors %d", len(bad), len(ve.Errors))
			}
		})
	}
}

func TestSkipInvalid(t *testing.T) {
	p := mustPlan(t, minimalPlan)
	in := strings.Join([]string{
		`{"key": "a", "size": 1}`,
		`{"key": "b", "size": 5000, "priority": "high"}`,
		`{"key": "a", "size": 2}`,
		`not json`,
		`{"key": "c", "size": 1, "tier": "xl"}`,
		`{"key": "d", "size": 200000}`,
	}, "\n")
	items, readErrs, err := ReadItems("items.jsonl", strings.NewReader(in), FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	as, bad, err := Load(p, "items.jsonl", items, readErrs, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, fmt.Sprintf("%s:%s:%s:%s", a.Item.Key, p.Tiers[a.Tier].Name, a.Priority, a.Queue))
	}
	want := []string{"a:small:low:q-default", "b:medium:high:q-high", "d:large:low:q-large"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assignments %v, want %v", got, want)
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
	}
	if !reflect.DeepEqual(lines, []int{3, 4, 5}) {
		t.Errorf("skipped lines %v, want 3 4 5 (%v)", lines, bad)
	}
}

func TestPrepare(t *testing.T) {
	_, err := Prepare("plan.yaml", []byte(minimalPlan), "items.csv", strings.NewReader("key,size\n"), "", false)
	if err == nil || !strings.Contains(err.Error(), "items.csv: no valid items") {
		t.Errorf("empty items: %v", err)
	}
	prep, err := Prepare("plan.yaml", []byte(minimalPlan), "items.csv", strings.NewReader("key,size\na,1\nb,x\n"), "", true)
	if err != nil || len(prep.Assignments) != 1 || len(prep.Skipped) != 1 {
		t.Errorf("skip invalid: %+v %v", prep, err)
	}
}

func FuzzReadItems(f *testing.F) {
	f.Add([]byte(`{"key": "a", "size": 1, "params": {"x": "y"}}`), false)
	f.Add([]byte("key,size,x\na,1,2\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := FormatJSONL
		if csv {
			format = FormatCSV
		}
		items, bad, err := ReadItems("f", strings.NewReader(string(data)), format)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, it := range items {
			if it.Key == "" || seen[it.Key] || it.Line <= 0 {
				t.Fatalf("bad item %+v", it)
			}
			seen[it.Key] = true
		}
		for _, b := range bad {
			if b.File != "f" {
				t.Fatalf("error without file: %v", b)
			}
		}
	})
}
