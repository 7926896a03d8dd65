package main

import "time"

// timeNow is the process clock; commands pass it down.
func timeNow() time.Time { return time.Now() }
