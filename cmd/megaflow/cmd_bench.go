package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/megaflow/megaflow/bench/compare"
	"github.com/megaflow/megaflow/bench/flagutil"
	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/report"
	"github.com/megaflow/megaflow/bench/scenario"
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
	positional, err := flagutil.ParseInterspersed(fs, args)
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
	if err := out.write(res, nil); err != nil {
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
	fs.Var(&f.headers, "header", "request `header` \"Name: value\"; repeat for more")
	fs.StringVar(&f.bodyFile, "body", "", "`file` containing the request body")
	fs.IntVar(&f.bodySize, "body-size", 0, "send a JSON body {\"text\":\"aaa…\"} of exactly `N` bytes (at least 11, the size of the empty template)")
	fs.StringVar(&f.bodyTemplate, "body-template", "", "`template` of the request body, with {{seq}} (request number) and {{random N}} (N letters) filled per request")
	fs.StringVar(&f.contentType, "content-type", "application/json", "Content-Type of requests with a body")
	fs.BoolVar(&f.sse, "sse", false, "read responses as server-sent events and report time to first token, inter-token latency and tokens/s")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&f.quiet, "quiet", false, "print no progress line")
	fs.DurationVar(&f.progressInterval, "progress-interval", 0, "time between progress lines (default 1s on a terminal, 5s otherwise)")
	return f
}

// apply copies the flags into cfg. With a nil set it copies every flag,
// otherwise only the flags named in set, so that a scenario's values stay
// unless the command line overrides them.
func (f *loadFlags) apply(cfg *load.Config, set map[string]bool) error {
	isSet := func(name string) bool { return set == nil || set[name] }
	if isSet("connections") {
		cfg.Connections = f.connections
	}
	if isSet("rate") {
		cfg.Rate = f.rate
	}
	if isSet("duration") {
		cfg.Duration = f.duration
	}
	if isSet("requests") {
		cfg.Requests = f.requests
	}
	if isSet("warmup") {
		cfg.Warmup = f.warmup
	}

	if isSet("timeout") {
		cfg.Timeout = f.timeout
	}
	if isSet("method") {
		cfg.Method = f.method
	}
	if isSet("header") {
		cfg.Headers = append(cfg.Headers, f.headers...)
	}
	if isSet("content-type") {
		cfg.ContentType = f.contentType
	}
	if isSet("sse") {
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
	bodies := 0
	for _, set := range []bool{f.bodyFile != "", f.bodySize > 0, f.bodyTemplate != ""} {
		if set {
			bodies++
		}
	}
	switch {
	case bodies > 1:
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
	fs.StringVar(&o.jsonFile, "json", "", "write every figure as JSON to `file`")
	fs.StringVar(&o.htmlFile, "html", "", "write a self-contained HTML report with SVG charts to `file`")
	return o
}

// write prints the table of res to stdout and writes the requested files.
// cpu, the CPU microseconds per request by process, may be nil.
func (o *outputFlags) write(res *load.Result, cpu map[string]float64) error {
	if err := report.WriteTable(os.Stdout, res); err != nil {
		return err
	}
	if cpu != nil {
		fmt.Printf("cpu per request (µs)  %s\n", compare.FormatCPU(cpu))
	}
	if o.jsonFile != "" {
		if err := report.WriteJSONFile(o.jsonFile, res); err != nil {
			return err
		}
	}
	if o.htmlFile != "" {
		return writeHTMLFile(o.htmlFile, "megaflow bench: "+res.Method+" "+res.Target, []report.Run{{Name: "run", Result: res, CPU: cpu}})
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

const scenarioUsage = `Usage: megaflow bench scenario [flags] FILE

Start the mocks and the megaflow instance of a scenario file (see
bench/scenarios), load one of its targets, print the results and stop
everything. Flags override the scenario's [load] values.

Flags:
`

func runBenchScenario(args []string) int {
	fs := flag.NewFlagSet("megaflow bench scenario", flag.ContinueOnError)
	lf := addLoadFlags(fs)
	out := addOutputFlags(fs)
	targetName := fs.String("target", "", "target of the scenario to load (default: its first target)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), scenarioUsage)
		fs.PrintDefaults()
	}
	positional, err := flagutil.ParseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "megaflow bench scenario: give exactly one scenario file, such as bench/scenarios/echo.toml")
		return 2
	}
	sc, cfg, err := loadScenario(positional[0], fs, lf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 2
	}
	target, err := sc.Target(*targetName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 2
	}
	running, err := startScenario(sc, []scenario.TargetSpec{target})
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 1
	}
	defer running.Close()
	if cfg.URL, err = running.URL(target); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 1
	}

	cpu := compare.NewCPUWindow(running.CPU)
	cfg.OnWindow = cpu.Hook

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 2
	}
	if err := running.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 1
	}
	if err := out.write(res, cpu.PerRequest(res.Requests)); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench scenario: %v\n", err)
		return 1
	}
	return 0
}

// loadScenario reads a scenario file and returns it with its load
// configuration, overridden by the flags given on the command line.
func loadScenario(path string, fs *flag.FlagSet, lf *loadFlags) (*scenario.Scenario, load.Config, error) {
	sc, err := scenario.Load(path)
	if err != nil {
		return nil, load.Config{}, err
	}
	cfg, err := sc.LoadConfig()
	if err != nil {
		return nil, load.Config{}, err
	}
	set := setFlags(fs)
	if cfg.Duration == 0 && cfg.Requests == 0 && !set["duration"] && !set["requests"] {
		cfg.Duration = lf.duration
	}
	if err := lf.apply(&cfg, set); err != nil {
		return nil, load.Config{}, err
	}
	return sc, cfg, nil
}

// startScenario starts the processes that targets need, running this
// binary as "megaflow mock" and "megaflow serve".
func startScenario(sc *scenario.Scenario, targets []scenario.TargetSpec) (*scenario.Running, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the megaflow binary to start mocks with: %w", err)
	}
	running, err := sc.Start(scenario.Env{Executable: exe, Log: os.Stderr}, targets)
	if err != nil {
		return nil, err
	}
	for name, reason := range running.Skipped {
		fmt.Fprintf(os.Stderr, "skipping target %s: %s\n", name, reason)
	}
	return running, nil
}

const compareUsage = `Usage:
  megaflow bench compare [flags] NAME=URL NAME=URL...
  megaflow bench compare [flags] --scenario FILE

Run every target once per round, in the order given, for --rounds rounds
(A B A B ...), then print the median of each figure over the rounds and its
ratio to the first target. With --scenario, the targets are the scenario's
[[targets]], started and stopped by the command.

Flags:
`

func runBenchCompare(args []string) int {
	fs := flag.NewFlagSet("megaflow bench compare", flag.ContinueOnError)
	lf := addLoadFlags(fs)
	setDefault(fs, "duration", "5s")
	setDefault(fs, "warmup", "1s")
	rounds := fs.Int("rounds", 5, "rounds; each runs every target once")
	scenarioPath := fs.String("scenario", "", "scenario `file` whose targets to compare")
	jsonFile := fs.String("json", "", "write every run and the medians as JSON to `file`")
	htmlFile := fs.String("html", "", "write an HTML report with each target's median-throughput run to `file`")
	recordFile := fs.String("record", "", "append a dated entry with the machine, the command and the medians to the Markdown `file`, such as bench/RESULTS.md")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), compareUsage)
		fs.PrintDefaults()
	}
	positional, err := flagutil.ParseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	cfg, targets, running, err := compareTargets(fs, lf, *scenarioPath, positional)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench compare: %v\n", err)
		return 2
	}
	opts := compare.Options{Rounds: *rounds, Load: cfg, Log: os.Stderr}
	if running != nil {
		defer running.Close()
		opts.Check = running.Check
		opts.CPU = running.CPU
	}
	// One progress line per finished run replaces the per-run progress.
	opts.Load.Progress = nil

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmp, err := compare.Run(ctx, targets, opts)
	if err != nil && cmp == nil {
		fmt.Fprintf(os.Stderr, "megaflow bench compare: %v\n", err)
		return 2
	}
	if err := cmp.WriteTable(os.Stdout); err != nil {
		return 1
	}
	if err := writeComparison(cmp, cfg, *jsonFile, *htmlFile, *recordFile, *scenarioPath); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow bench compare: %v\n", err)
		return 1
	}
	return 0
}

// compareTargets returns the load and the targets of a comparison, from a
// scenario (started here, and returned so that the caller stops it) or from
// NAME=URL arguments, in which case the returned scenario is nil.
func compareTargets(fs *flag.FlagSet, lf *loadFlags, scenarioPath string, positional []string) (load.Config, []compare.Target, *scenario.Running, error) {
	if scenarioPath == "" {
		if len(positional) == 0 {
			return load.Config{}, nil, nil, errors.New("give targets as NAME=URL, or a scenario with --scenario FILE")
		}
		var targets []compare.Target
		for _, arg := range positional {
			name, url, ok := strings.Cut(arg, "=")
			if !ok || name == "" || url == "" {
				return load.Config{}, nil, nil, fmt.Errorf("invalid target %q: write it as NAME=URL, such as direct=http://127.0.0.1:9000/", arg)
			}
			targets = append(targets, compare.Target{Name: name, URL: url})
		}
		cfg := load.Config{}
		err := lf.apply(&cfg, nil)
		return cfg, targets, nil, err
	}
	if len(positional) > 0 {
		return load.Config{}, nil, nil, fmt.Errorf("give either --scenario or NAME=URL targets, not both (got %q)", positional)
	}

	sc, cfg, err := loadScenario(scenarioPath, fs, lf)
	if err != nil {
		return load.Config{}, nil, nil, err
	}
	running, err := startScenario(sc, sc.Targets)
	if err != nil {
		return load.Config{}, nil, nil, err
	}
	var targets []compare.Target
	for _, t := range sc.Targets {
		if _, skipped := running.Skipped[t.Name]; skipped {
			continue
		}
		url, err := running.URL(t)
		if err != nil {
			running.Close()
			return load.Config{}, nil, nil, err
		}
		targets = append(targets, compare.Target{Name: t.Name, URL: url})
	}
	return cfg, targets, running, nil
}

// writeComparison writes the optional JSON, HTML and results-file outputs.
func writeComparison(cmp *compare.Comparison, cfg load.Config, jsonFile, htmlFile, recordFile, scenarioPath string) error {
	if jsonFile != "" {
		if err := report.WriteJSONFile(jsonFile, cmp); err != nil {
			return err
		}
	}
	if htmlFile != "" {
		var runs []report.Run
		for _, t := range cmp.Targets {
			if run := medianRun(t); run != nil {
				runs = append(runs, report.Run{Name: t.Name, Result: run, CPU: t.MedianCPUPerRequest})
			}
		}
		if err := writeHTMLFile(htmlFile, "megaflow bench compare", runs); err != nil {
			return err
		}
	}

	if recordFile == "" {
		return nil
	}
	cfg.URL = cmp.Targets[0].URL
	if err := cfg.Validate(); err != nil {
		return err
	}
	title := "comparison of " + targetNames(cmp)
	if scenarioPath != "" {
		title = "scenario " + strings.TrimSuffix(filepath.Base(scenarioPath), ".toml") + ", " + targetNames(cmp)
	}

	rec := compare.Record{
		Title:      title,
		Time:       time.Now(),
		Machine:    compare.ThisMachine(),
		Command:    strings.Join(os.Args, " "),
		Load:       cfg,
		Comparison: cmp,
		Notes:      ratioNotes(cmp),
	}
	if os.Getenv("MAKELEVEL") != "" {
		rec.Notes = append([]string{"Run from a make target."}, rec.Notes...)
	}
	if err := rec.AppendTo(recordFile); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "appended the results to %s\n", recordFile)
	return nil
}

// ratioNotes states the throughput of the "megaflow" target relative to
// every other target, the figures that the standard comparison is about.
func ratioNotes(cmp *compare.Comparison) []string {
	var notes []string
	for _, t := range cmp.Targets {
		if t.Name == "megaflow" {
			continue
		}
		if r, ok := cmp.ThroughputRatio("megaflow", t.Name); ok {
			notes = append(notes, fmt.Sprintf("megaflow throughput / %s throughput: %.2f", t.Name, r))
		}
	}
	return notes
}

// medianRun returns the run whose throughput is closest to the median.
func medianRun(t compare.TargetResult) *load.Result {
	var best *load.Result
	for _, r := range t.Runs {
		if best == nil || abs(r.Throughput-t.Median.Throughput) < abs(best.Throughput-t.Median.Throughput) {
			best = r
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func targetNames(cmp *compare.Comparison) string {
	names := make([]string, 0, len(cmp.Targets))
	for _, t := range cmp.Targets {
		names = append(names, t.Name)
	}
	return strings.Join(names, " vs ")
}

// setDefault changes a flag's default value before parsing.
func setDefault(fs *flag.FlagSet, name, value string) {
	f := fs.Lookup(name)
	_ = f.Value.Set(value)
	f.DefValue = value
}
