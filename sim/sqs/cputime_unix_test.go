//go:build unix

package sqs_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the test process has used:
// on a shared machine it measures cost where wall-clock rates only measure
// the neighbours.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
