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

// CPUWindow measures CPU time per process over one run's measured window.
// Set its Hook as the run's load.Config.OnWindow, then call PerRequest.
type CPUWindow struct {
	read func() (map[string]time.Duration, error)

	mu     sync.Mutex
	before map[string]time.Duration
	used   map[string]time.Duration
}

// NewCPUWindow returns a CPUWindow over the processes that read reports,
// such as scenario.Running.CPU, plus this process. read may be nil.
func NewCPUWindow(read func() (map[string]time.Duration, error)) *CPUWindow {
	return &CPUWindow{read: read}
}

// snapshot returns the CPU time of every process read reports, plus this
// process under SelfName. Processes that read cannot report are left out.
func (w *CPUWindow) snapshot() map[string]time.Duration {
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

// Hook is a load.Config.OnWindow function.
func (w *CPUWindow) Hook(open bool) {
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

// PerRequest returns the CPU microseconds per request of each process
// over the last window, or nil when requests is zero.
func (w *CPUWindow) PerRequest(requests int64) map[string]float64 {
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
