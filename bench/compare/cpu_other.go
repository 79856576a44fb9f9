//go:build !unix

package compare

import "time"

// selfCPU reports false: this platform has no getrusage.
func selfCPU() (time.Duration, bool) { return 0, false }
