package batch

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
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

// TestReaderSlowPipe: JSON lines trickling in are handed out as they come;
// the reader does not wait for more input than the line it returns.
func TestReaderSlowPipe(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := NewReader(pr, "stdin")
	got := make(chan Message)
	go func() {
		for {
			m, err := r.Next()
			if err != nil {
				close(got)
				return
			}
			got <- m
		}
	}()
	for i, line := range []string{`{"id":"a"}`, `{"id":"b"}`} {
		if _, err := io.WriteString(pw, line+"\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if string(m.Body) != line || m.Pos != "stdin:"+string(rune('1'+i)) {
				t.Fatalf("got %q at %s, want %q", m.Body, m.Pos, line)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("line %d not handed out while the writer waits", i+1)
		}
	}
}

// FuzzReader: any input ends in io.EOF or an error, never a panic, and
// every body handed out is non-empty and part of the input.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"{\"id\":\"a\"}\n{\"id\":\"b\"}\n", "[{\"id\":\"a\"},{\"id\":\"b\"}]", "{\n \"id\": \"a\"\n}\n{\"id\":\"b\"}",
		"\n\n  {\"a\":1}", "{broken\n{\"a\":1}\n", "[", "", " \t\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in), "f")
		for i := 0; i <= len(in)+1; i++ {
			m, err := r.Next()
			if err != nil {
				return
			}
			if len(m.Body) == 0 || m.Pos == "" {
				t.Fatalf("empty body or position for %q", in)
			}
		}
		t.Fatalf("more documents than bytes in %q", in)
	})
}
