//go:build unix

package compare

import (
	"syscall"
	"time"
)

// selfCPU returns the CPU time (user plus system) this process has used.
func selfCPU() (time.Duration, bool) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, false
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()), true
}
