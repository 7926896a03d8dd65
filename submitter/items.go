package submitter

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Item is one unit of work: a key unique in the run, a size measure that
// chooses its tier, and parameters for its job.
type Item struct {
	Key  string
	Size float64
	// Priority is empty for the plan's default.
	Priority string
	// Tier forces a tier instead of the size ranges; empty for none.
	Tier   string
	Params map[string]string
	// Line is where the item is in its file.
	Line int
}

// Items formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// FormatOf guesses the items format from a file name: .csv is CSV,
// everything else JSON lines.
func FormatOf(name string) string {
	if strings.EqualFold(filepath.Ext(name), ".csv") {
		return FormatCSV
	}
	return FormatJSONL
}

// maxParamBytes bounds an item's parameters: SubmitJob takes at most 30 KiB
// and the plan's own fields need room too.
const maxParamBytes = 16 * 1024

// ReadItems reads items in the given format. Lines that cannot be read are
// returned as LineErrors beside the items that could; the caller decides
// whether to stop. Duplicate keys are reported here, against the first
// occurrence, which is kept.
func ReadItems(name string, r io.Reader, format string) ([]Item, []LineError, error) {
	e := &errs{file: name}
	var items []Item
	var err error
	switch format {
	case FormatJSONL, "":
		items, err = readJSONL(r, e)
	case FormatCSV:
		items, err = readCSV(r, e)
	default:
		return nil, nil, fmt.Errorf("items format %q: use jsonl or csv", format)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	first := make(map[string]int, len(items))
	kept := items[:0]
	for _, it := range items {
		if ln, dup := first[it.Key]; dup {
			e.add(it.Line, "duplicate key %q (first at line %d)", it.Key, ln)
			continue
		}
		first[it.Key] = it.Line
		kept = append(kept, it)
	}
	sort.SliceStable(e.list, func(i, j int) bool { return e.list[i].Line < e.list[j].Line })
	return kept, e.list, nil
}

// jsonItem is one JSON line. Unknown fields are errors: a typo such as
// "sise" must not silently fall back to a default.
type jsonItem struct {
	Key      json.RawMessage            `json:"key"`
	Size     json.RawMessage            `json:"size"`
	Priority string                     `json:"priority"`
	Tier     string                     `json:"tier"`
	Params   map[string]json.RawMessage `json:"params"`
}

func readJSONL(r io.Reader, e *errs) ([]Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var items []Item
	ln := 0
	for sc.Scan() {
		ln++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		var ji jsonItem
		if err := dec.Decode(&ji); err != nil {
			e.add(ln, "malformed line: %s", jsonMsg(err))
			continue
		}
		if dec.More() {
			e.add(ln, "malformed line: more than one JSON value")
			continue
		}
		key, ok := scalar(ji.Key)
		if !ok {
			e.add(ln, "malformed line: key must be a string or a number")
			continue
		}
		it := Item{Key: strings.TrimSpace(key), Priority: strings.TrimSpace(ji.Priority), Tier: strings.TrimSpace(ji.Tier), Line: ln}
		if it.Key == "" {
			e.add(ln, "missing key")
			continue
		}
		sizeText, ok := scalar(ji.Size)
		if !ok {
			e.add(ln, "key %q: size must be a number", it.Key)
			continue
		}
		if !parseSize(e, ln, it.Key, sizeText, &it) {
			continue
		}
		if len(ji.Params) > 0 {
			it.Params = make(map[string]string, len(ji.Params))
			bad := false
			for k, v := range ji.Params {
				s, ok := scalar(v)
				if !ok {
					e.add(ln, "key %q: parameter %q must be a string, number or boolean", it.Key, k)
					bad = true
					break
				}
				it.Params[k] = s
			}
			if bad {
				continue
			}
		}
		if !checkParams(e, ln, &it) {
			continue
		}
		items = append(items, it)
	}
	return items, sc.Err()
}

// scalar renders a JSON string, number or boolean as text; absent and null
// give "" (ok), objects and arrays are not ok.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case '{', '[':
		return "", false
	}
	return string(raw), true
}

func jsonMsg(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must not be a %s", te.Field, te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of line"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func parseSize(e *errs, ln int, key, text string, it *Item) bool {
	text = strings.TrimSpace(text)
	if text == "" {
		e.add(ln, "key %q: missing size", key)
		return false
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		e.add(ln, "key %q: size %q is not a number", key, text)
		return false
	}
	it.Size = v
	return true
}

func checkParams(e *errs, ln int, it *Item) bool {
	n := 0
	for k, v := range it.Params {
		if k == "" {
			e.add(ln, "key %q: parameter with an empty name", it.Key)
			return false
		}
		n += len(k) + len(v)
	}
	if n > maxParamBytes {
		e.add(ln, "key %q: parameters take %d bytes, more than %d (SubmitJob's payload is limited to 30 KiB)", it.Key, n, maxParamBytes)
		return false
	}
	return true
}

// CSV columns with a meaning; every other column is a parameter.
const (
	colKey      = "key"
	colSize     = "size"
	colPriority = "priority"
	colTier     = "tier"
)

func readCSV(r io.Reader, e *errs) ([]Item, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	cr.TrimLeadingSpace = true
	header, cols := readCSVHeader(cr, e)
	if header == nil {
		return nil, nil
	}
	var items []Item
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, err
			}
			// The reader has consumed the record's lines (an unclosed
			// quote takes the rest of the file): go on with the next.
			e.add(csvLine(err, 0), "malformed line: %s", csvMsg(err))
			continue
		}
		ln, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		it := csvItem(header, rec, ln)
		if it.Key == "" {
			e.add(ln, "missing key")
			continue
		}
		if !parseSize(e, ln, it.Key, rec[cols[colSize]], &it) {
			continue
		}
		if !checkParams(e, ln, &it) {
			continue
		}
		items = append(items, it)
	}
	return items, nil
}

// readCSVHeader reads and checks the header line: named, unique columns
// including key and size. It returns the column names and their
// positions, or a nil header after adding the problem to e.
func readCSVHeader(cr *csv.Reader, e *errs) ([]string, map[string]int) {
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		e.add(1, "empty file: a header line (key,size,…) is required")
		return nil, nil
	}
	if err != nil {
		e.add(csvLine(err, 1), "malformed header: %s", csvMsg(err))
		return nil, nil
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if h == "" {
			e.add(1, "header: column %d has no name", i+1)
			return nil, nil
		}
		if _, dup := cols[h]; dup {
			e.add(1, "header: column %q appears twice", h)
			return nil, nil
		}
		cols[h] = i
	}
	for _, c := range []string{colKey, colSize} {
		if _, ok := cols[c]; !ok {
			e.add(1, "header: column %q is required", c)
			return nil, nil
		}
	}
	return header, cols
}

// csvItem reads one record's columns: key, priority and tier, every other
// column but size a parameter.
func csvItem(header, rec []string, ln int) Item {
	it := Item{Line: ln}
	for i, v := range rec {
		switch header[i] {
		case colKey:
			it.Key = strings.TrimSpace(v)
		case colPriority:
			it.Priority = strings.TrimSpace(v)
		case colTier:
			it.Tier = strings.TrimSpace(v)
		case colSize:
		default:
			if it.Params == nil {
				it.Params = map[string]string{}
			}
			it.Params[header[i]] = v
		}
	}
	return it
}

func csvLine(err error, fallback int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.StartLine > 0 {
		return pe.StartLine
	}
	return fallback
}

func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
