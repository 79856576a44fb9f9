package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/megaflow/megaflow/bench/load"
)

// Run is one named result for a report.
type Run struct {
	Name   string
	Result *load.Result
	// CPU is the CPU microseconds per request of each process behind the
	// run, keyed by process name. Nil leaves the CPU table out.
	CPU map[string]float64
}

// palette contains the series colors, in order of the runs.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// WriteHTML writes a self-contained HTML page for runs: a summary table,
// latency by percentile, throughput over time and p99 over time as inline
// SVG, with no scripts and no external assets.
func WriteHTML(w io.Writer, title string, runs []Run) error {
	page := htmlPage{Title: title, Generated: time.Now().UTC().Format(time.RFC3339), Runs: runs}
	page.CPUProcesses, page.CPURows = cpuTable(runs)
	page.Charts = append(page.Charts, latencyChart(runs, false).svg())
	if len(runs) > 0 && runs[0].Result.SSE != nil {
		page.Charts = append(page.Charts, latencyChart(runs, true).svg())
	}
	page.Charts = append(page.Charts, timelineChart(runs, "Throughput over time", "requests per second",
		formatCountAxis, func(s load.Sample) float64 { return s.Throughput }, false).svg())
	page.Charts = append(page.Charts, timelineChart(runs, "p99 latency over time", "p99 latency per interval",
		formatMsAxis, func(s load.Sample) float64 { return s.P99Ms }, true).svg())
	if err := pageTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	return nil
}

type htmlPage struct {
	Title        string
	Generated    string
	Runs         []Run
	CPUProcesses []string
	CPURows      []cpuRow
	Charts       []template.HTML
}

// cpuRow is one run's line of the CPU table, in CPUProcesses order.
type cpuRow struct {
	Name   string
	Values []float64
	Total  float64
}

// cpuTable returns the process names that any run reports and one row per
// run with CPU figures.
func cpuTable(runs []Run) ([]string, []cpuRow) {
	seen := map[string]bool{}
	for _, run := range runs {
		for name := range run.CPU {
			seen[name] = true
		}
	}
	processes := slices.Sorted(maps.Keys(seen))
	var rows []cpuRow
	for _, run := range runs {
		if run.CPU == nil {
			continue
		}
		row := cpuRow{Name: run.Name}
		for _, name := range processes {
			row.Values = append(row.Values, run.CPU[name])
			row.Total += run.CPU[name]
		}
		rows = append(rows, row)
	}
	return processes, rows
}

func latencyChart(runs []Run, ttft bool) *chart {
	c := &chart{
		Title:   "Latency by percentile",
		XLabel:  "percentile",
		YLabel:  "latency",
		XTicks:  ninesTicks,
		XMin:    0,
		XMax:    5.6,
		YFormat: formatMsAxis,
	}
	if ttft {
		c.Title = "Time to first token by percentile"
		c.YLabel = "time to first token"
	}
	for i, run := range runs {
		summary := run.Result.Latency
		if ttft && run.Result.SSE != nil {
			summary = run.Result.SSE.TTFT
		}
		s := series{Name: run.Name, Color: palette[i%len(palette)]}
		for _, p := range summary.Percentiles {
			s.X = append(s.X, ninesX(p.Percentile))
			s.Y = append(s.Y, p.Ms)
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// timelineChart draws value over time. With skipEmpty, intervals without
// responses get no point, because their latency figures are zero, not fast.
func timelineChart(runs []Run, title, yLabel string, format func(float64) string, value func(load.Sample) float64, skipEmpty bool) *chart {
	c := &chart{Title: title, XLabel: "seconds since the end of the warmup", YLabel: yLabel, YFormat: format}
	for i, run := range runs {
		s := series{Name: run.Name, Color: palette[i%len(palette)]}
		for _, sample := range run.Result.Timeline {
			if skipEmpty && sample.Requests == 0 {
				continue
			}
			s.X = append(s.X, sample.Seconds)
			s.Y = append(s.Y, value(sample))
			c.XMax = max(c.XMax, sample.Seconds)
		}
		c.Series = append(c.Series, s)
	}
	c.XMax = niceCeil(c.XMax)
	for i := 0; i <= 5; i++ {
		at := c.XMax * float64(i) / 5
		c.XTicks = append(c.XTicks, tick{At: at, Label: fmt.Sprintf("%gs", at)})
	}
	return c
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms": load.FormatMs,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }
h1 { font-size: 20px; }
table { border-collapse: collapse; margin: 12px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
svg { display: block; margin: 8px 0 24px; background: #fff; }
svg .title { font-size: 15px; font-weight: 600; }
svg .grid { stroke: #e3e3e3; stroke-width: 1; }
svg .frame { fill: none; stroke: #999; }
svg .ylab { font-size: 11px; text-anchor: end; fill: #555; }
svg .xlab { font-size: 11px; text-anchor: middle; fill: #555; }
svg .axis { font-size: 12px; text-anchor: middle; fill: #333; }
svg .legend { font-size: 12px; fill: #333; }
.note { color: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="note">Generated by megaflow bench at {{.Generated}}. Latency runs from each request's scheduled send time in open-loop runs and from its actual send time in closed-loop runs.</p>
<table>
<tr><th>run</th><th>target</th><th>mode</th><th>requests</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th><th>unsent</th></tr>
{{range .Runs}}{{$r := .Result}}<tr><td>{{.Name}}</td><td>{{$r.Method}} {{$r.Target}}</td><td>{{$r.Mode}}, {{$r.Connections}} conns{{if $r.Rate}}, {{$r.Rate}}/s{{end}}</td><td>{{$r.Requests}}</td><td>{{printf "%.0f" $r.Throughput}}</td><td>{{ms $r.Latency.P50Ms}}</td><td>{{ms $r.Latency.P90Ms}}</td><td>{{ms $r.Latency.P99Ms}}</td><td>{{ms $r.Latency.P999Ms}}</td><td>{{ms $r.Latency.MaxMs}}</td><td>{{$r.Errors.Total}}</td><td>{{$r.Unsent}}</td></tr>
{{end}}</table>
{{range .Runs}}{{with .Result.SSE}}<table>
<tr><th>streaming</th><th>streams</th><th>tokens</th><th>tokens/s</th><th>tokens/s per stream</th><th>TTFT p50</th><th>TTFT p99</th><th>ITL p50</th><th>ITL p99</th></tr>
<tr><td>event stream</td><td>{{.Streams}}</td><td>{{.Tokens}}</td><td>{{printf "%.0f" .TokensPerSecond}}</td><td>{{printf "%.1f" .StreamTokensPerSecond}}</td><td>{{ms .TTFT.P50Ms}}</td><td>{{ms .TTFT.P99Ms}}</td><td>{{ms .ITL.P50Ms}}</td><td>{{ms .ITL.P99Ms}}</td></tr>
</table>{{end}}{{end}}
{{if .CPURows}}<table>
<tr><th>CPU µs per request</th>{{range .CPUProcesses}}<th>{{.}}</th>{{end}}<th>total</th></tr>
{{range .CPURows}}<tr><td>{{.Name}}</td>{{range .Values}}<td>{{printf "%.1f" .}}</td>{{end}}<td>{{printf "%.1f" .Total}}</td></tr>
{{end}}</table>
{{end}}{{range .Charts}}{{.}}
{{end}}
</body>
</html>
`))
