package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/sirupsen/logrus"

	"github.com/batchwatch/batchwatch/batch"
)

func inspectCommand(app *kingpin.Application) *command {
	inspect := app.Command("inspect", "Show what batchwatch reads from AWS Batch events.")
	ev := inspect.Command("event", "Parse events (one JSON event, a JSON array, or JSON lines; SNS-wrapped or not) and print one JSON object per event.")
	file := ev.Arg("file", "File to read, or - for standard input.").Default("-").String()
	return &command{
		clause: ev,
		run: func(_ context.Context, _ *logrus.Logger) error {
			return runInspect(*file, os.Stdin, os.Stdout, os.Stderr)
		},
	}
}

func runInspect(file string, stdin io.Reader, stdout, stderr io.Writer) error {
	in, name := stdin, "stdin"
	if file != "-" && file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open events: %w", err)
		}
		defer f.Close()
		in, name = f, file
	}
	r := batch.NewReader(in, name)
	enc := json.NewEncoder(stdout)
	var ok, bad int
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		ev, err := batch.Parse(m.Body)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "%s: %v\n", m.Pos, err)
			continue
		}
		ok++
		if err := enc.Encode(ev.Summary()); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d events could not be parsed", bad, ok+bad)
	}
	if ok == 0 {
		return errors.New("no events in input")
	}
	return nil
}
