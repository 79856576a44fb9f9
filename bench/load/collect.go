package load

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// collector empties the shards once per tick into cumulative totals, keeps
// the timeline and prints the progress line. Only its own goroutine touches
// it until Run calls collect and result after the workers have stopped.
type collector struct {
	r    *runner
	tick time.Duration

	interval *hdrhistogram.Histogram
	latency  *hdrhistogram.Histogram
	ttft     *hdrhistogram.Histogram
	itl      *hdrhistogram.Histogram
	totals   counts

	timeline    []Sample
	lastSample  time.Time
	lastPrinted time.Time
	lastRate    float64
	printed     bool
}

func newCollector(r *runner) *collector {
	c := &collector{
		r:        r,
		tick:     time.Second,
		interval: newHistogram(),
		latency:  newHistogram(),
	}
	if r.cfg.SSE {
		c.ttft = newHistogram()
		c.itl = newHistogram()
	}
	// Short runs get a finer timeline: about 20 samples, 100 ms at least.
	if d := r.cfg.Duration; d > 0 {
		c.tick = min(max(d/20, 100*time.Millisecond), time.Second)
	}
	c.tick = min(c.tick, r.cfg.ProgressInterval)
	return c
}

// start runs the collection loop until the run stops and returns a channel
// closed when the loop has returned.
func (c *collector) start() <-chan struct{} {
	finished := make(chan struct{})
	c.lastSample = c.r.measureStart
	c.lastPrinted = c.r.start
	go func() {
		defer close(finished)
		ticker := time.NewTicker(c.tick)
		defer ticker.Stop()
		for {
			select {
			case now := <-ticker.C:
				c.collect(now, false)
				c.printProgress(now)
			case <-c.r.done:
				return
			}
		}
	}()
	return finished
}

// collect moves everything recorded since the last call into the totals
// and, inside the measured window, appends a timeline sample. The final
// call covers the tail after the last tick, while the last responses
// arrive. A tail shorter than half a tick adds no sample, because its rate
// would show a false dip.
func (c *collector) collect(now time.Time, final bool) {
	c.interval.Reset()
	var delta counts
	for _, s := range c.r.shards {
		s.mu.Lock()
		c.interval.Merge(s.latency)
		s.latency.Reset()
		if s.ttft != nil {
			c.ttft.Merge(s.ttft)
			s.ttft.Reset()
			c.itl.Merge(s.itl)
			s.itl.Reset()
		}
		delta.add(&s.counts)
		s.counts = counts{}
		s.mu.Unlock()
	}
	c.latency.Merge(c.interval)
	c.totals.add(&delta)

	if !now.After(c.r.measureStart) {
		return
	}
	seconds := now.Sub(c.lastSample).Seconds()
	if seconds <= 0 || (final && seconds < c.tick.Seconds()/2) {
		return
	}
	c.lastSample = now
	c.lastRate = float64(delta.responses) / seconds
	c.timeline = append(c.timeline, Sample{
		Seconds:    now.Sub(c.r.measureStart).Seconds(),
		Requests:   delta.responses,
		Errors:     delta.errors(),
		Throughput: c.lastRate,
		P50Ms:      microsToMs(c.interval.ValueAtPercentile(50)),
		P99Ms:      microsToMs(c.interval.ValueAtPercentile(99)),
		MaxMs:      microsToMs(c.interval.Max()),
	})
}

// printProgress writes the progress line: in place on a terminal, as a new
// line every ProgressInterval otherwise.
func (c *collector) printProgress(now time.Time) {
	cfg := &c.r.cfg
	if cfg.Progress == nil || now.Sub(c.lastPrinted) < cfg.ProgressInterval-c.tick/2 {
		return
	}
	c.lastPrinted = now
	var line string
	if now.Before(c.r.measureStart) {
		line = fmt.Sprintf("warmup %4.1fs of %.1fs", now.Sub(c.r.start).Seconds(), cfg.Warmup.Seconds())
	} else {
		line = fmt.Sprintf("%6.1fs  %9.0f req/s  p99 %s  errors %d  requests %d",
			now.Sub(c.r.measureStart).Seconds(), c.lastRate,
			FormatMs(microsToMs(c.latency.ValueAtPercentile(99))), c.totals.errors(), c.totals.responses)
	}
	if cfg.ProgressTTY {
		fmt.Fprintf(cfg.Progress, "\r%s\x1b[K", line)
		c.printed = true
	} else {
		fmt.Fprintln(cfg.Progress, line)
	}
}

// clearProgress erases the in-place progress line so that the final report
// starts on a clean line.
func (c *collector) clearProgress() {
	if c.printed {
		fmt.Fprint(c.r.cfg.Progress, "\r\x1b[K")
	}
}

func (c *collector) result(end time.Time, cancelled bool) *Result {
	cfg := &c.r.cfg
	res := &Result{
		Target:        cfg.URL,
		Method:        cfg.Method,
		Mode:          cfg.Mode(),
		Connections:   cfg.Connections,
		Rate:          cfg.Rate,
		StartedAt:     c.r.start,
		WarmupSeconds: cfg.Warmup.Seconds(),
		Requests:      c.totals.responses,
		Succeeded:     c.totals.succeeded,
		BytesRead:     c.totals.bytes,
		Latency:       summarize(c.latency),
		Timeline:      c.timeline,
	}
	if end.After(c.r.measureStart) {
		res.ElapsedSeconds = end.Sub(c.r.measureStart).Seconds()
		res.Throughput = float64(res.Requests) / res.ElapsedSeconds
	}
	if !cancelled {
		res.Unsent = c.r.unsent()
	}
	t := &c.totals
	res.Errors = Errors{
		Total:   t.errors(),
		Connect: t.connect,
		Timeout: t.timeout,
		Closed:  t.closed,
		Other:   t.other,
		Status:  t.status,
		Samples: t.samples,
	}
	if res.Errors.Status == nil {
		res.Errors.Status = map[int]int64{}
	}
	if cfg.SSE {
		res.SSE = &SSESummary{
			Streams: t.streams,
			Tokens:  t.tokens,
			TTFT:    summarize(c.ttft),
			ITL:     summarize(c.itl),
		}
		if res.ElapsedSeconds > 0 {
			res.SSE.TokensPerSecond = float64(t.tokens) / res.ElapsedSeconds
		}
		if t.streamRateCount > 0 {
			res.SSE.StreamTokensPerSecond = t.streamRateSum / float64(t.streamRateCount)
		}
	}
	return res
}

// FormatMs formats a latency in milliseconds with three significant digits
// and a unit: "412µs", "1.21ms", "1.50s".
func FormatMs(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
}
