package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Builder builds one dashboard.
type Builder interface {
	Build() (dashboard.Dashboard, error)
}

// All lists every batchwatch dashboard, in menu order.
func All(cfg Config) []Builder {
	return []Builder{
		Overview{Config: cfg},
		WaitRun{Config: cfg},
		CapacityCost{Config: cfg},
		JobHistory{Config: cfg},
		Job{Config: cfg},
		RightSizing{Config: cfg},
		SelfMonitoring{Config: cfg},
	}
}

// Generate builds every dashboard and renders it: file name (<uid>.json)
// to JSON.
func Generate(cfg Config) (map[string][]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, b := range All(cfg) {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %T: %w", b, err)
		}
		if d.Uid == nil || *d.Uid == "" {
			return nil, fmt.Errorf("dashboard %T has no uid", b)
		}
		data, err := Render(d)
		if err != nil {
			return nil, fmt.Errorf("render dashboard %s: %w", *d.Uid, err)
		}
		name := *d.Uid + ".json"
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("two dashboards with uid %s", *d.Uid)
		}
		out[name] = data
	}
	return out, nil
}

// Render is the committed form of a dashboard: indented JSON with a final
// newline. encoding/json sorts map keys, so the output is deterministic.
func Render(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("marshal dashboard: %w", err)
	}
	return unescapeHTML(buf.Bytes()), nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes that the SDK's
// own MarshalJSON methods write back into <, > and &, so SQL comparisons
// stay readable in the committed JSON. Both forms are the same JSON.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out, i = append(out, '<'), i+5
				continue
			case "003e":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		// Any other escape, \\ included, is copied whole.
		out, i = append(out, b[i], b[i+1]), i+1
	}
	return out
}

// Write writes files into dir and removes the batchwatch-*.json files there
// that are no longer generated (renamed or dropped dashboards).
func Write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "batchwatch-*.json"))
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, p := range old {
		if _, keep := files[filepath.Base(p)]; !keep {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove stale dashboard: %w", err)
			}
		}
	}
	for _, name := range sortedKeys(files) {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return fmt.Errorf("write dashboard: %w", err)
		}
	}
	return nil
}

// Diff compares files with the batchwatch-*.json files in dir and describes
// every difference; empty means dir is up to date.
func Diff(dir string, files map[string][]byte) ([]string, error) {
	var diffs []string
	onDisk, err := filepath.Glob(filepath.Join(dir, "batchwatch-*.json"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, p := range onDisk {
		if _, ok := files[filepath.Base(p)]; !ok {
			diffs = append(diffs, filepath.Base(p)+": committed but no longer generated")
		}
	}
	for _, name := range sortedKeys(files) {
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			diffs = append(diffs, name+": generated but not committed")
		case err != nil:
			return nil, fmt.Errorf("read committed dashboard: %w", err)
		case !bytes.Equal(got, files[name]):
			diffs = append(diffs, name+": "+firstDifference(got, files[name]))
		}
	}
	return diffs, nil
}

// firstDifference names the first line that differs, to make a stale file
// easy to understand from a test log.
func firstDifference(committed, generated []byte) string {
	a, b := strings.Split(string(committed), "\n"), strings.Split(string(generated), "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d differs: committed %q, generated %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "differs"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
