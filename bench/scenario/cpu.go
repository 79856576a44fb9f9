package scenario

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the number of /proc/PID/stat CPU time units per second.
// NOTE: it assumes USER_HZ is 100 (getconf CLK_TCK), as on x86-64 Linux.
// Another value would scale every CPU figure by the same factor.
const clockTicks = 100

// CPU returns the CPU time (user plus system) that each started process and
// its live descendants, such as nginx's workers, have used so far, keyed by
// process name ("megaflow", "mock-echo", "nginx-echo"). It reads /proc, so
// it returns an error on systems without it.
func (r *Running) CPU() (map[string]time.Duration, error) {
	stats, err := readProcStats()
	if err != nil {
		return nil, err
	}
	cpu := make(map[string]time.Duration, len(r.procs))
	for _, p := range r.procs {
		var ticks int64
		for _, pid := range descendants(stats, p.cmd.Process.Pid) {
			ticks += stats[pid].ticks
		}
		cpu[p.name] = time.Duration(ticks) * time.Second / clockTicks
	}
	return cpu, nil
}

// procStat contains the fields of /proc/PID/stat that CPU uses.
type procStat struct {
	ppid  int
	ticks int64 // utime + stime
}

// readProcStats reads /proc/PID/stat of every process, skipping processes
// that exit while it runs.
func readProcStats() (map[int]procStat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read CPU times: %w", err)
	}
	stats := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, err := parseProcStat(string(data)); err == nil {
			stats[pid] = st
		}
	}
	if len(stats) == 0 {
		return nil, errors.New("read CPU times: /proc lists no processes")
	}
	return stats, nil
}

// parseProcStat parses one /proc/PID/stat line (proc(5)). The command
// name in brackets may contain spaces, so fields are counted after its
// closing bracket: state is field 3, ppid 4, utime 14 and stime 15.
func parseProcStat(line string) (procStat, error) {
	end := strings.LastIndexByte(line, ')')
	if end < 0 {
		return procStat{}, errors.New("no command name")
	}
	fields := strings.Fields(line[end+1:])
	if len(fields) < 13 {
		return procStat{}, errors.New("too few fields")
	}
	ppid, err1 := strconv.Atoi(fields[1])
	utime, err2 := strconv.ParseInt(fields[11], 10, 64)
	stime, err3 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, err
	}
	return procStat{ppid: ppid, ticks: utime + stime}, nil
}

// descendants returns root and every process below it.
func descendants(stats map[int]procStat, root int) []int {
	children := map[int][]int{}
	for pid, st := range stats {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if _, ok := stats[pid]; ok {
			out = append(out, pid)
		}
		queue = append(queue, children[pid]...)
	}
	return out
}
