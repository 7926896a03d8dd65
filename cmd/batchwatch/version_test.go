package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/batchwatch/batchwatch/buildinfo"
)

func TestVersionFlag(t *testing.T) {
	app, _, _ := newApp()
	var out bytes.Buffer
	app.UsageWriter(&out)
	app.ErrorWriter(&out)
	exited := false
	app.Terminate(func(int) { exited = true })
	_, _ = app.Parse([]string{"--version"})
	if !exited {
		t.Fatal("--version did not end the program")
	}
	// The terminate hook returns, so kingpin goes on to complain about the
	// missing command; the version is the first line.
	first, _, _ := strings.Cut(out.String(), "\n")
	if got, want := first, buildinfo.Read().String(); got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
}
