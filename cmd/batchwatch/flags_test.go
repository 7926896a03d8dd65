package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/flags.md")

// TestFlagReference keeps docs/flags.md — the reference of every command and
// flag — equal to what the binary prints. Run with -update after changing a
// flag (make generate does).
func TestFlagReference(t *testing.T) {
	app, commands, _ := newApp()
	var usage bytes.Buffer
	app.UsageWriter(&usage)
	app.Terminate(nil)
	var doc strings.Builder
	doc.WriteString("# Command and flag reference\n\n")
	doc.WriteString("Generated from the binary's help by `make generate` (`go test ./cmd/batchwatch -run TestFlagReference -update`); a test fails when it is stale.\n")
	doc.WriteString("Every command also takes `--log.level` and `--log.format`.\n")
	for _, c := range commands {
		usage.Reset()
		app.Usage(strings.Fields(c.clause.FullCommand()))
		fmt.Fprintf(&doc, "\n## batchwatch %s\n\n```text\n%s```\n", c.clause.FullCommand(), usage.String())
	}
	const path = "../../docs/flags.md"
	if *update {
		if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/batchwatch -run TestFlagReference -update)", err)
	}
	if string(have) != doc.String() {
		t.Fatal("docs/flags.md is stale: run make generate (or go test ./cmd/batchwatch -run TestFlagReference -update)")
	}
}
