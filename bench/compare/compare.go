// Package compare runs several targets in alternating rounds (A B A B …)
// with the same load. It reports the median of each figure over the rounds
// and its ratio to the first target. Alternating spreads a noisy
// neighbour's effect over every target instead of letting it land on one.
package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/megaflow/megaflow/bench/load"
)

// Target is one endpoint to compare.
type Target struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Options configures a comparison.
type Options struct {
	// Rounds is the number of times each target is run. Zero means 5.
	Rounds int
	// Load is the load of every run. Each target's URL replaces its URL.
	Load load.Config
	// Log receives one line per finished run. Nil prints nothing.
	Log io.Writer
	// CPU, when set, returns the CPU time used so far by each process
	// behind the targets, keyed by process name. Run divides what each one
	// used in a measured window by the window's requests.
	CPU func() (map[string]time.Duration, error)
	// Check, when set, runs after every run. An error stops the
	// comparison and is returned, so that a target process that died is
	// reported instead of recorded as a run full of errors.
	Check func() error
}

// Comparison contains every run and the medians.
type Comparison struct {
	Rounds  int            `json:"rounds"`
	Targets []TargetResult `json:"targets"`
}

// TargetResult contains one target's runs, in round order, and its medians.
type TargetResult struct {
	Target
	Runs   []*load.Result `json:"runs"`
	Median Figures        `json:"median"`
	// Ratio is Median divided by the first target's Median, figure by
	// figure. The first target's ratios are all 1.
	Ratio Figures `json:"ratio_to_first"`
	// CPUPerRequest contains, per run, the CPU microseconds per request
	// that each process used in the measured window: the load generator
	// under SelfName and the processes of Options.CPU. Every process on
	// the machine counts, whichever target it serves. Nil entries mean
	// that no CPU time could be read.
	CPUPerRequest []map[string]float64 `json:"cpu_us_per_request,omitempty"`
	// MedianCPUPerRequest is the median of CPUPerRequest over the runs.
	MedianCPUPerRequest map[string]float64 `json:"median_cpu_us_per_request,omitempty"`
}

// Figures are the compared figures of one run, or their medians. The
// streaming figures are zero unless the load reads event streams.
type Figures struct {
	Throughput float64 `json:"throughput_rps"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p99_9_ms"`
	Errors     float64 `json:"errors"`

	TTFTP50Ms       float64 `json:"ttft_p50_ms,omitempty"`
	TTFTP99Ms       float64 `json:"ttft_p99_ms,omitempty"`
	ITLP50Ms        float64 `json:"itl_p50_ms,omitempty"`
	ITLP99Ms        float64 `json:"itl_p99_ms,omitempty"`
	TokensPerSecond float64 `json:"tokens_per_second,omitempty"`
}

// fields returns pointers to every figure, in declaration order, so that
// medians and ratios treat them alike.
func (f *Figures) fields() []*float64 {
	return []*float64{
		&f.Throughput, &f.P50Ms, &f.P90Ms, &f.P99Ms, &f.P999Ms, &f.Errors,
		&f.TTFTP50Ms, &f.TTFTP99Ms, &f.ITLP50Ms, &f.ITLP99Ms, &f.TokensPerSecond,
	}
}

func figuresOf(r *load.Result) Figures {
	f := Figures{
		Throughput: r.Throughput,
		P50Ms:      r.Latency.P50Ms,
		P90Ms:      r.Latency.P90Ms,
		P99Ms:      r.Latency.P99Ms,
		P999Ms:     r.Latency.P999Ms,
		Errors:     float64(r.Errors.Total),
	}
	if sse := r.SSE; sse != nil {
		f.TTFTP50Ms = sse.TTFT.P50Ms
		f.TTFTP99Ms = sse.TTFT.P99Ms
		f.ITLP50Ms = sse.ITL.P50Ms
		f.ITLP99Ms = sse.ITL.P99Ms
		f.TokensPerSecond = sse.TokensPerSecond
	}
	return f
}

// Run runs every target once per round, in the order given, for
// opts.Rounds rounds. When ctx is cancelled it stops after the current run
// and returns the rounds that finished with ctx's error.
func Run(ctx context.Context, targets []Target, opts Options) (*Comparison, error) {
	if len(targets) == 0 {
		return nil, errors.New("nothing to compare: give at least one target")
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 5
	}
	for _, t := range targets {
		cfg := opts.Load
		cfg.URL = t.URL
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
	}
	c := &Comparison{}
	for _, t := range targets {
		c.Targets = append(c.Targets, TargetResult{Target: t})
	}
	for round := 1; round <= opts.Rounds; round++ {
		for i := range c.Targets {
			tr := &c.Targets[i]
			cfg := opts.Load
			cfg.URL = tr.URL
			window := NewCPUWindow(opts.CPU)
			cfg.OnWindow = window.Hook
			res, err := load.Run(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("target %s, round %d: %w", tr.Name, round, err)
			}
			if ctx.Err() != nil {
				c.finish()
				return c, ctx.Err()
			}
			if opts.Check != nil {
				if err := opts.Check(); err != nil {
					return nil, fmt.Errorf("target %s, round %d: %w", tr.Name, round, err)
				}
			}
			tr.Runs = append(tr.Runs, res)
			tr.CPUPerRequest = append(tr.CPUPerRequest, window.PerRequest(res.Requests))
			if opts.Log != nil {
				fmt.Fprintf(opts.Log, "round %d of %d, %-10s %9.0f req/s  p99 %s  errors %d\n",
					round, opts.Rounds, tr.Name, res.Throughput, load.FormatMs(res.Latency.P99Ms), res.Errors.Total)
			}
		}
		c.Rounds = round
	}
	c.finish()
	return c, nil
}

// finish computes the medians and the ratios of the finished rounds.
func (c *Comparison) finish() {
	for i := range c.Targets {
		tr := &c.Targets[i]
		tr.Runs = tr.Runs[:min(len(tr.Runs), c.Rounds)]
		tr.CPUPerRequest = tr.CPUPerRequest[:len(tr.Runs)]
		tr.Median = medianFigures(tr.Runs)
		tr.MedianCPUPerRequest = medianCPU(tr.CPUPerRequest)
	}
	if len(c.Targets) == 0 {
		return
	}
	base := c.Targets[0].Median
	baseFields := base.fields()
	for i := range c.Targets {
		tr := &c.Targets[i]
		ratios := tr.Ratio.fields()
		for j, value := range tr.Median.fields() {
			*ratios[j] = ratio(*value, *baseFields[j])
		}
	}
}

func medianFigures(runs []*load.Result) Figures {
	all := make([]Figures, len(runs))
	for i, r := range runs {
		all[i] = figuresOf(r)
	}
	var m Figures
	for j, field := range m.fields() {
		values := make([]float64, len(all))
		for i := range all {
			values[i] = *all[i].fields()[j]
		}
		*field = median(values)
	}
	return m
}

// median returns the middle value, or the mean of the two middle values for
// an even count; 0 for none.
func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sort.Float64s(values)
	mid := len(values) / 2
	if len(values)%2 == 1 {
		return values[mid]
	}
	return (values[mid-1] + values[mid]) / 2
}

// ratio returns a/b, 1 when both are 0 and 0 when only b is 0.
func ratio(a, b float64) float64 {
	switch {
	case b != 0:
		return a / b
	case a == 0:
		return 1
	}
	return 0
}
