package compare

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
)

// Machine describes the computer a comparison ran on.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	OS        string `json:"os"`
	GoVersion string `json:"go_version"`
}

// ThisMachine returns the CPU model (from /proc/cpuinfo on Linux, "unknown"
// elsewhere), the logical CPU count and the Go version of this binary.
func ThisMachine() Machine {
	return Machine{
		CPU:       cpuModel(),
		Cores:     goruntime.NumCPU(),
		OS:        goruntime.GOOS + "/" + goruntime.GOARCH,
		GoVersion: goruntime.Version(),
	}
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d logical CPUs, %s, %s", m.CPU, m.Cores, m.OS, m.GoVersion)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}
