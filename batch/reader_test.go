package batch

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([]Message, error) {
	t.Helper()
	r := NewReader(strings.NewReader(in), "in")
	var out []Message
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestReaderForms(t *testing.T) {
	cases := []struct {
		name, in string
		pos      []string
	}{
		{"single pretty", "{\n  \"id\": \"a\"\n}\n", []string{"in#1"}},
		{"single line", `{"id":"a"}`, []string{"in:1"}},
		{"lines", "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n{\"id\":\"c\"}", []string{"in:1", "in:3", "in:4"}},
		{"lines with a bad one", "{\"id\":\"a\"}\nnot json\n{\"id\":\"c\"}\n", []string{"in:1", "in:2", "in:3"}},
		{"array", " [ {\"id\":\"a\"}, {\"id\":\"b\"} ]", []string{"in[0]", "in[1]"}},
		{"concatenated pretty", "{\n\"id\":1\n}\n{\n\"id\":2\n}", []string{"in#1", "in#2"}},
		{"empty", "  \n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msgs, err := readAll(t, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != len(c.pos) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(c.pos))
			}
			for i, m := range msgs {
				if m.Pos != c.pos[i] {
					t.Errorf("message %d at %s, want %s", i, m.Pos, c.pos[i])
				}
			}
		})
	}
}

func TestReaderBrokenArray(t *testing.T) {
	msgs, err := readAll(t, `[{"id":"a"}, {"id": ]`)
	if err == nil || !strings.Contains(err.Error(), "in[1]") || len(msgs) != 1 {
		t.Fatalf("msgs=%d err=%v", len(msgs), err)
	}
}
