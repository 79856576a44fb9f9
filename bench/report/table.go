// Package report renders load results as a text table, JSON and a
// self-contained HTML page with SVG charts.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/megaflow/megaflow/bench/load"
)

// WriteTable writes the human-readable summary of res.
func WriteTable(w io.Writer, res *load.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s %s\n", res.Method, res.Target)
	fmt.Fprintf(tw, "mode\t%s\n", describeMode(res))
	fmt.Fprintf(tw, "measured\t%.2fs after %.2fs of warmup\n", res.ElapsedSeconds, res.WarmupSeconds)
	fmt.Fprintf(tw, "requests\t%d responses, %d below status 400", res.Requests, res.Succeeded)
	if res.Unsent > 0 {
		fmt.Fprintf(tw, ", %d scheduled but unsent (the target did not sustain the rate)", res.Unsent)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "throughput\t%.0f req/s, %s/s read\n", res.Throughput, formatBytes(float64(res.BytesRead)/max(res.ElapsedSeconds, 1e-9)))
	writeLatencyRow(tw, "latency", res.Latency)
	if sse := res.SSE; sse != nil {
		writeLatencyRow(tw, "time to first token", sse.TTFT)
		writeLatencyRow(tw, "inter-token latency", sse.ITL)
		fmt.Fprintf(tw, "tokens\t%d in %d streams: %.0f tokens/s overall, %.1f tokens/s per stream\n",
			sse.Tokens, sse.Streams, sse.TokensPerSecond, sse.StreamTokensPerSecond)
	}
	e := res.Errors
	fmt.Fprintf(tw, "errors\t%d: connect %d, timeout %d, closed %d, other %d, status %s\n",
		e.Total, e.Connect, e.Timeout, e.Closed, e.Other, formatStatus(e.Status))
	for _, kind := range sortedKeys(e.Samples) {
		fmt.Fprintf(tw, "  first %s error\t%s\n", kind, e.Samples[kind])
	}
	return tw.Flush()
}

func describeMode(res *load.Result) string {
	if res.Mode == "open" {
		return fmt.Sprintf("open loop at %g req/s, up to %d connections; latency counted from each scheduled send time", res.Rate, res.Connections)
	}
	return fmt.Sprintf("closed loop, %d connections", res.Connections)
}

func writeLatencyRow(tw io.Writer, name string, s load.Summary) {
	if s.Count == 0 {
		fmt.Fprintf(tw, "%s\tno samples\n", name)
		return
	}
	fmt.Fprintf(tw, "%s\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, stddev %s)\n", name,
		load.FormatMs(s.P50Ms), load.FormatMs(s.P90Ms), load.FormatMs(s.P99Ms), load.FormatMs(s.P999Ms),
		load.FormatMs(s.MaxMs), load.FormatMs(s.MeanMs), load.FormatMs(s.StdDevMs))
}

func formatStatus(status map[int]int64) string {
	if len(status) == 0 {
		return "none"
	}
	codes := make([]int, 0, len(status))
	for code := range status {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, code := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", code, status[code]))
	}
	return strings.Join(parts, " ")
}

func formatBytes(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WriteJSONFile writes v as indented JSON to path.
func WriteJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
