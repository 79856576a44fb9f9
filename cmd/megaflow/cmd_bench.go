package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/report"
)

func init() {
	register("bench", "load-test an HTTP endpoint, run a scenario or compare targets side by side", runBench)
}

const benchUsage = `Usage:
  megaflow bench [flags] URL                 load one endpoint
  megaflow bench scenario [flags] FILE       start a scenario's mocks and megaflow, then load it
  megaflow bench compare [flags] NAME=URL... alternate rounds over several targets
  megaflow bench compare [flags] --scenario FILE

Run "megaflow bench compare --help" or "megaflow bench scenario --help" for
the flags of those forms. Flags of "megaflow bench":
`

func runBench(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return runBenchCompare(args[1:])
		case "scenario":
			return runBenchScenario(args[1:])
		}
	}
	fs := flag.NewFlagSet("megaflow bench", flag.ContinueOnError)
	lf := addLoadFlags(fs)
	out := addOutputFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "megaflow bench: give exactly one target URL, such as http://127.0.0.1:8000/v1/echo")
		return 2
	}
	cfg := load.Config{URL: positional[0]}
	if err := lf.apply(&cfg, nil); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench: %v\n", err)
		return 2
	}
	if err := out.write(res); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench: %v\n", err)
		return 1
	}
	return 0
}

// loadFlags are the flags that shape a load run, shared by every form of
// "megaflow bench".
type loadFlags struct {
	fs               *flag.FlagSet
	connections      int
	rate             float64
	duration         time.Duration
	requests         int64
	warmup           time.Duration
	timeout          time.Duration
	method           string
	headers          headerFlag
	bodyFile         string
	bodySize         int
	bodyTemplate     string
	contentType      string
	sse              bool
	allowRemote      bool
	quiet            bool
	progressInterval time.Duration
}

func addLoadFlags(fs *flag.FlagSet) *loadFlags {
	f := &loadFlags{fs: fs}
	fs.IntVar(&f.connections, "connections", 50, "connections: the concurrency of the closed loop, or the maximum in flight with --rate")
	fs.Float64Var(&f.rate, "rate", 0, "open loop at this many requests per second, latency counted from each scheduled send time; 0 runs the closed loop")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time, after the warmup; 0 leaves only --requests as the bound")
	fs.Int64Var(&f.requests, "requests", 0, "stop after this many measured requests; 0 means no count bound")
	fs.DurationVar(&f.warmup, "warmup", 0, "load sent before measurement starts and left out of every figure")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout, until the whole response has arrived")
	fs.StringVar(&f.method, "method", "", "HTTP method (default GET, or POST with a body)")
	fs.Var(&f.headers, "header", "request header \"Name: value\"; repeat for more")
	fs.StringVar(&f.bodyFile, "body", "", "file whose contents are the request body")
	fs.IntVar(&f.bodySize, "body-size", 0, "send a JSON body {\"text\":\"aaa…\"} of exactly this many bytes")
	fs.StringVar(&f.bodyTemplate, "body-template", "", "request body with {{seq}} (request number) and {{random N}} (N letters) filled per request")
	fs.StringVar(&f.contentType, "content-type", "application/json", "Content-Type of requests with a body")
	fs.BoolVar(&f.sse, "sse", false, "read responses as server-sent events and report time to first token, inter-token latency and tokens/s")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&f.quiet, "quiet", false, "print no progress line")
	fs.DurationVar(&f.progressInterval, "progress-interval", 0, "time between progress lines (default 1s on a terminal, 5s otherwise)")
	return f
}

// apply copies the flags into cfg: every flag when set is nil, otherwise
// only the flags named in set, so that a scenario's values stay unless the
// command line overrides them.
func (f *loadFlags) apply(cfg *load.Config, set map[string]bool) error {
	given := func(name string) bool { return set == nil || set[name] }
	if given("connections") {
		cfg.Connections = f.connections
	}
	if given("rate") {
		cfg.Rate = f.rate
	}
	if given("duration") {
		cfg.Duration = f.duration
	}
	if given("requests") {
		cfg.Requests = f.requests
	}
	if given("warmup") {
		cfg.Warmup = f.warmup
	}
	if given("timeout") {
		cfg.Timeout = f.timeout
	}
	if given("method") {
		cfg.Method = f.method
	}
	if given("header") {
		cfg.Headers = append(cfg.Headers, f.headers...)
	}
	if given("content-type") {
		cfg.ContentType = f.contentType
	}
	if given("sse") {
		cfg.SSE = f.sse
	}
	cfg.AllowRemote = f.allowRemote
	body, err := f.body()
	if err != nil {
		return err
	}
	if body != nil {
		cfg.Body = body
	}
	if !f.quiet {
		cfg.Progress = os.Stderr
		cfg.ProgressTTY = isTerminal(os.Stderr)
		cfg.ProgressInterval = f.progressInterval
	}
	return nil
}

// body returns the body that the flags select, or nil when none is given.
func (f *loadFlags) body() (load.Body, error) {
	given := 0
	for _, set := range []bool{f.bodyFile != "", f.bodySize > 0, f.bodyTemplate != ""} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, errors.New("give at most one of --body, --body-size and --body-template")
	case f.bodyFile != "":
		data, err := os.ReadFile(f.bodyFile)
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		return load.StaticBody(data), nil
	case f.bodySize > 0:
		return load.SizedBody(f.bodySize), nil
	case f.bodyTemplate != "":
		return load.ParseTemplate(f.bodyTemplate)
	}
	return nil, nil
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// headerFlag collects repeated --header flags.
type headerFlag []load.Header

func (h *headerFlag) String() string {
	parts := make([]string, 0, len(*h))
	for _, x := range *h {
		parts = append(parts, x.Name+": "+x.Value)
	}
	return strings.Join(parts, ", ")
}

func (h *headerFlag) Set(s string) error {
	header, err := load.ParseHeader(s)
	if err != nil {
		return err
	}
	*h = append(*h, header)
	return nil
}

// outputFlags select the report files written after a run.
type outputFlags struct {
	jsonFile, htmlFile string
}

func addOutputFlags(fs *flag.FlagSet) *outputFlags {
	o := &outputFlags{}
	fs.StringVar(&o.jsonFile, "json", "", "write every figure as JSON to this file")
	fs.StringVar(&o.htmlFile, "html", "", "write a self-contained HTML report with SVG charts to this file")
	return o
}

// write prints the table of res to stdout and writes the requested files.
func (o *outputFlags) write(res *load.Result) error {
	if err := report.WriteTable(os.Stdout, res); err != nil {
		return err
	}
	if o.jsonFile != "" {
		if err := report.WriteJSONFile(o.jsonFile, res); err != nil {
			return err
		}
	}
	if o.htmlFile != "" {
		return writeHTMLFile(o.htmlFile, "megaflow bench: "+res.Method+" "+res.Target, []report.Run{{Name: "run", Result: res}})
	}
	return nil
}

func writeHTMLFile(path, title string, runs []report.Run) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := report.WriteHTML(f, title, runs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runBenchCompare(args []string) int {
	fmt.Fprintln(os.Stderr, "megaflow bench compare: not built yet")
	return 2
}

func runBenchScenario(args []string) int {
	fmt.Fprintln(os.Stderr, "megaflow bench scenario: not built yet")
	return 2
}
