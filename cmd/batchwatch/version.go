package main

import (
	"runtime/debug"
	"time"
)

// version reports the module version stamped by the Go toolchain, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// timeNow is the process clock; commands pass it down.
func timeNow() time.Time { return time.Now() }
