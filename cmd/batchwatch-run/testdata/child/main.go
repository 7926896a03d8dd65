// Command child is the process batchwatch-run's tests wrap: it holds memory,
// spins on one core, waits for signals or exits with a given code, and
// reports what it did itself, so the wrapper's figures can be checked against
// the child's own.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: child hold MiB SECONDS | spin SECONDS FILE | trap | exit N | kill9")
		os.Exit(2)
	}
	arg := func(i int) int {
		n, err := strconv.Atoi(os.Args[i])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return n
	}
	switch os.Args[1] {
	case "hold":
		b := make([]byte, arg(2)<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("held")
		time.Sleep(time.Duration(arg(3)) * time.Second)
		fmt.Println(b[len(b)/2])
	case "spin":
		spin(time.Duration(arg(2))*time.Second, os.Args[3])
	case "trap":
		trap()
	case "exit":
		fmt.Println("out")
		fmt.Fprintln(os.Stderr, "err")
		os.Exit(arg(2))
	case "kill9":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
}

// spin keeps one core busy for d of wall time and writes its own CPU seconds
// and wall seconds to file.
func spin(d time.Duration, file string) {
	start := time.Now()
	x := 0
	for time.Since(start) < d {
		for i := 0; i < 1_000_000; i++ {
			x += i
		}
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	wall := time.Since(start).Seconds()
	if err := os.WriteFile(file, fmt.Appendf(nil, "%f %f %d\n", cpu, wall, x%2), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// trap prints every signal it gets; SIGTERM ends it with 42.
func trap() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP)
	fmt.Println("ready")
	for s := range c {
		fmt.Println("got", s.(syscall.Signal).String())
		if s == syscall.SIGTERM {
			os.Exit(42)
		}
	}
}
