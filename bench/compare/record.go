package compare

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/megaflow/megaflow/bench/load"
)

// Record is one dated entry of a results file such as bench/RESULTS.md.
type Record struct {
	Title   string
	Time    time.Time
	Machine Machine
	// Command is the exact command line that produced the entry.
	Command string
	// Load is the load of every run; its URL is ignored.
	Load       load.Config
	Comparison *Comparison
	// Notes are extra lines, each written as a list item below the table.
	Notes []string
}

// AppendTo appends the entry to the Markdown file at path, creating it if
// needed. Earlier content is never rewritten.
func (r *Record) AppendTo(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## %s: %s\n\n", r.Time.UTC().Format("2006-01-02 15:04 UTC"), r.Title)
	fmt.Fprintf(&b, "- Machine: %s.\n", r.Machine)
	fmt.Fprintf(&b, "- Command: `%s`.\n", r.Command)
	fmt.Fprintf(&b, "- Load per run: %s.\n\n", DescribeLoad(&r.Load))
	if err := r.Comparison.WriteMarkdown(&b); err != nil {
		return err
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, note := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", note)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("append to results file: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("append to results file %s: %w", path, err)
	}
	return f.Close()
}

// DescribeLoad summarizes a load configuration in one phrase, such as
// "closed loop, 32 connections, 5s measured after 1s of warmup, POST with a
// 64-byte body".
func DescribeLoad(cfg *load.Config) string {
	var parts []string
	if cfg.Rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %g req/s, up to %d connections", cfg.Rate, cfg.Connections))
	} else {
		parts = append(parts, fmt.Sprintf("closed loop, %d connections", cfg.Connections))
	}
	if cfg.Duration > 0 {
		parts = append(parts, fmt.Sprintf("%s measured after %s of warmup", cfg.Duration, cfg.Warmup))
	}
	if cfg.Requests > 0 {
		parts = append(parts, fmt.Sprintf("at most %d requests", cfg.Requests))
	}
	method := cfg.Method
	if cfg.Body != nil {
		body := cfg.Body.AppendBody(nil, 0)
		if cfg.Body.Static() {
			method += fmt.Sprintf(" with a %d-byte body", len(body))
		} else {
			method += " with a templated body"
		}
	}
	parts = append(parts, method)
	if cfg.SSE {
		parts = append(parts, "responses read as event streams")
	}
	return strings.Join(parts, ", ")
}

// ThroughputRatio returns the median throughput of target a divided by that
// of target b, and false when either is missing or b's is zero.
func (c *Comparison) ThroughputRatio(a, b string) (float64, bool) {
	var ta, tb *TargetResult
	for i := range c.Targets {
		switch c.Targets[i].Name {
		case a:
			ta = &c.Targets[i]
		case b:
			tb = &c.Targets[i]
		}
	}
	if ta == nil || tb == nil || tb.Median.Throughput == 0 {
		return 0, false
	}
	return ta.Median.Throughput / tb.Median.Throughput, true
}
