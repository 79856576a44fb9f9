package compare

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/megaflow/megaflow/bench/load"
)

// WriteTable writes the medians and ratios as an aligned text table.
func (c *Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	first := ""
	if len(c.Targets) > 0 {
		first = c.Targets[0].Name
	}
	streaming := c.streaming()
	fmt.Fprintf(tw, "target\treq/s\tvs %s\tp50\tp90\tp99\tp99.9\terrors\t", first)
	if streaming {
		fmt.Fprint(tw, "TTFT p50\tTTFT p99\tITL p50\ttokens/s\t")
	}
	fmt.Fprintln(tw)
	for _, t := range c.Targets {
		m := t.Median
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t%.0f\t", t.Name, m.Throughput, t.Ratio.Throughput,
			latencyWithRatio(m.P50Ms, t.Ratio.P50Ms), latencyWithRatio(m.P90Ms, t.Ratio.P90Ms),
			latencyWithRatio(m.P99Ms, t.Ratio.P99Ms), latencyWithRatio(m.P999Ms, t.Ratio.P999Ms), m.Errors)
		if streaming {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t", latencyWithRatio(m.TTFTP50Ms, t.Ratio.TTFTP50Ms),
				latencyWithRatio(m.TTFTP99Ms, t.Ratio.TTFTP99Ms), latencyWithRatio(m.ITLP50Ms, t.Ratio.ITLP50Ms), m.TokensPerSecond)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "Medians over %d rounds; latency ratios to %s in brackets.\n", c.Rounds, first); err != nil {
		return err
	}
	return c.writeCPU(w, "")
}

// writeCPU writes one line per target with the median CPU microseconds per
// request of each process, each line starting with prefix.
func (c *Comparison) writeCPU(w io.Writer, prefix string) error {
	for _, t := range c.Targets {
		if len(t.MedianCPUPerRequest) == 0 {
			continue
		}
		line := prefix + "CPU µs per request via " + t.Name + " (median): " + FormatCPU(t.MedianCPUPerRequest) + "\n"
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}

func latencyWithRatio(ms, ratio float64) string {
	return fmt.Sprintf("%s (%.2f)", load.FormatMs(ms), ratio)
}

// FormatCPU formats CPU microseconds per request by process, sorted by
// name, with their total: "bench 10.5, mock-echo 10.1; total 20.6".
// Processes below 0.05 µs per request, idle for the target, are left out.
func FormatCPU(perRequest map[string]float64) string {
	parts := make([]string, 0, len(perRequest))
	var total float64
	for _, name := range slices.Sorted(maps.Keys(perRequest)) {
		us := perRequest[name]
		if us < 0.05 {
			continue
		}
		total += us
		parts = append(parts, fmt.Sprintf("%s %.1f", name, us))
	}
	return fmt.Sprintf("%s; total %.1f", strings.Join(parts, ", "), total)
}

// WriteMarkdown writes the medians, the ratios and each round's throughput
// as a Markdown table, with the streaming figures when the runs read event
// streams.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	first := ""
	if len(c.Targets) > 0 {
		first = c.Targets[0].Name
	}
	streaming := c.streaming()

	var b strings.Builder
	fmt.Fprintf(&b, "| target | req/s (median of %d) | vs %s | p50 | p90 | p99 | p99.9 | errors |", c.Rounds, first)
	if streaming {
		b.WriteString(" TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | tokens/s |")
	}
	b.WriteString(" req/s per round |\n|---|--:|--:|--:|--:|--:|--:|--:|")
	if streaming {
		b.WriteString("--:|--:|--:|--:|--:|")
	}
	b.WriteString("---|\n")

	for _, t := range c.Targets {
		m := t.Median
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %s | %s | %s | %s | %.0f |", t.Name, m.Throughput, t.Ratio.Throughput,
			load.FormatMs(m.P50Ms), load.FormatMs(m.P90Ms), load.FormatMs(m.P99Ms), load.FormatMs(m.P999Ms), m.Errors)
		if streaming {
			fmt.Fprintf(&b, " %s | %s | %s | %s | %.0f |", load.FormatMs(m.TTFTP50Ms), load.FormatMs(m.TTFTP99Ms),
				load.FormatMs(m.ITLP50Ms), load.FormatMs(m.ITLP99Ms), m.TokensPerSecond)
		}
		rounds := make([]string, 0, len(t.Runs))
		for _, r := range t.Runs {
			rounds = append(rounds, fmt.Sprintf("%.0f", r.Throughput))
		}
		fmt.Fprintf(&b, " %s |\n", strings.Join(rounds, ", "))
	}
	if c.hasCPU() {
		b.WriteString("\n")
		if err := c.writeCPU(&b, "- "); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// hasCPU reports whether any target has CPU figures.
func (c *Comparison) hasCPU() bool {
	for _, t := range c.Targets {
		if len(t.MedianCPUPerRequest) > 0 {
			return true
		}
	}
	return false
}

// streaming reports whether any run read event streams.
func (c *Comparison) streaming() bool {
	for _, t := range c.Targets {
		for _, r := range t.Runs {
			if r.SSE != nil {
				return true
			}
		}
	}
	return false
}
