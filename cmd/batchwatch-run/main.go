//go:build linux

// Command batchwatch-run is an AWS Batch job's entrypoint wrapper: it runs
// the job's command as its child, forwards signals to it, returns its exit
// code unchanged, and reports what the attempt used (memory, CPU, throttling,
// GPU) as one EventBridge event (source batchwatch.usage) and one JSON line on
// stderr. Build it static (CGO_ENABLED=0) and copy it into the job's image:
//
//	ENTRYPOINT ["/batchwatch-run", "--"]
//	CMD ["python", "train.py"]
//
// A failure to send the usage never changes the job's outcome.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/batchwatch/batchwatch/usage"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

type config struct {
	interval    time.Duration
	mode        string
	bus         string
	send        bool
	sendTimeout time.Duration
	nvidiaSMI   string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, []string, error) {
	fs := flag.NewFlagSet("batchwatch-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: batchwatch-run [flags] -- CMD [ARGS...]")
		fs.PrintDefaults()
	}
	var c config
	interval := envOr(getenv, "BATCHWATCH_RUN_INTERVAL", "5s")
	d, err := time.ParseDuration(interval)
	if err != nil {
		return c, nil, fmt.Errorf("BATCHWATCH_RUN_INTERVAL %q: %w", interval, err)
	}
	fs.DurationVar(&c.interval, "interval", d, "time between samples (env BATCHWATCH_RUN_INTERVAL)")
	fs.StringVar(&c.mode, "source", envOr(getenv, "BATCHWATCH_RUN_SOURCE", "auto"), "what to sample: auto (the container's cgroup when it is the wrapper's own, else the process tree), cgroup or proc (env BATCHWATCH_RUN_SOURCE)")
	fs.StringVar(&c.bus, "event-bus", getenv("BATCHWATCH_RUN_EVENT_BUS"), "EventBridge bus name or ARN; empty is the default bus, where Batch's events are (env BATCHWATCH_RUN_EVENT_BUS)")
	fs.BoolVar(&c.send, "send", getenv("BATCHWATCH_RUN_SEND") != "false", "send the usage event to EventBridge (env BATCHWATCH_RUN_SEND=false turns it off)")
	fs.DurationVar(&c.sendTimeout, "send-timeout", 10*time.Second, "give up sending after this long; the job's exit code is returned either way")
	fs.StringVar(&c.nvidiaSMI, "nvidia-smi", "auto", "nvidia-smi to sample GPUs with: auto (from PATH when there), a path, or none")
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if c.interval <= 0 {
		return c, nil, fmt.Errorf("--interval %s: must be positive", c.interval)
	}
	switch c.nvidiaSMI {
	case "auto":
		c.nvidiaSMI, _ = exec.LookPath("nvidia-smi")
	case "none":
		c.nvidiaSMI = ""
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return c, nil, fmt.Errorf("no command given")
	}
	return c, fs.Args(), nil
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// run returns the command's exit code; the wrapper's own trouble before the
// command starts is 2 (flags) or 126/127 (as a shell: cannot run, not found).
func run(args []string, getenv func(string) string, stderr *os.File) int {
	c, argv, err := parseFlags(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "batchwatch-run: %v\n", err)
		return 2
	}
	id, err := usage.IdentityFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "batchwatch-run: %v\n", err)
	}
	res, err := usage.Run(context.Background(), argv, usage.Options{
		Interval: c.interval, Mode: c.mode, NvidiaSMI: c.nvidiaSMI, Identity: id,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: stderr, Now: time.Now,
	})
	if err != nil {
		fmt.Fprintf(stderr, "batchwatch-run: %v\n", err)
	}
	if !res.Started {
		return res.ExitCode
	}
	if line, err := usage.LogLine(res.Record); err == nil {
		_, _ = stderr.Write(line)
	}
	if c.send {
		if err := send(res.Record, c, getenv); err != nil {
			fmt.Fprintf(stderr, "batchwatch-run: usage not sent: %v\n", err)
		}
	}
	return res.ExitCode
}

func send(r usage.Record, c config, getenv func(string) string) error {
	client := &http.Client{Timeout: c.sendTimeout}
	s, err := usage.SenderFromEnv(getenv, c.bus, client, time.Now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.sendTimeout)
	defer cancel()
	return s.Send(ctx, r)
}
