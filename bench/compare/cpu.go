package compare

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// SelfName is the key of the load generator's own CPU time in
// TargetResult.CPUPerRequest.
const SelfName = "bench"

// cpuWindow measures CPU time per process over one run's measured window.
type cpuWindow struct {
	read func() (map[string]time.Duration, error)

	mu     sync.Mutex
	before map[string]time.Duration
	used   map[string]time.Duration
}

// snapshot returns the CPU time of every process read reports, plus this
// process under SelfName. Processes that read cannot report are left out.
func (w *cpuWindow) snapshot() map[string]time.Duration {
	cpu := map[string]time.Duration{}
	if w.read != nil {
		if processes, err := w.read(); err == nil {
			maps.Copy(cpu, processes)
		}
	}
	if self, ok := selfCPU(); ok {
		cpu[SelfName] = self
	}
	return cpu
}

// hook is a load.Config.OnWindow function.
func (w *cpuWindow) hook(open bool) {
	now := w.snapshot()
	w.mu.Lock()
	defer w.mu.Unlock()
	if open {
		w.before, w.used = now, nil
		return
	}
	w.used = map[string]time.Duration{}
	for name, end := range now {
		if start, ok := w.before[name]; ok {
			w.used[name] = end - start
		}
	}
}

// perRequest returns the CPU microseconds per request of each process
// over the last window, or nil when requests is zero.
func (w *cpuWindow) perRequest(requests int64) map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if requests == 0 || len(w.used) == 0 {
		return nil
	}
	out := make(map[string]float64, len(w.used))
	for name, d := range w.used {
		out[name] = float64(d.Microseconds()) / float64(requests)
	}
	return out
}

// medianCPU returns the median over runs of each process's CPU per
// request, for the processes present in every run.
func medianCPU(runs []map[string]float64) map[string]float64 {
	if len(runs) == 0 || runs[0] == nil {
		return nil
	}
	out := map[string]float64{}
	for _, name := range slices.Sorted(maps.Keys(runs[0])) {
		values := make([]float64, 0, len(runs))
		for _, run := range runs {
			if v, ok := run[name]; ok {
				values = append(values, v)
			}
		}
		if len(values) == len(runs) {
			out[name] = median(values)
		}
	}
	return out
}
