// Package conformance_test runs the conformance vectors in vectors/ against
// the reference plugin of every guest SDK: the Go one built from source,
// the others from the modules committed beside their sources, which
// `make sdk` rebuilds.
package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/host/hosttest"
)

// reference is one language's build of the reference plugin.
type reference struct {
	lang string
	path string // the module; filled in by TestMain for Go
}

// references lists every language's reference module. The Go module is
// built from source by TestMain.
var references = []*reference{
	{lang: "go"},
	{lang: "rust", path: "reference/rust/reference.wasm"},
	{lang: "c", path: "reference/c/reference.wasm"},
	{lang: "assemblyscript", path: "reference/assemblyscript/reference.wasm"},
}

var cacheDir string

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	defer hosttest.Cleanup()
	var err error
	if cacheDir, err = os.MkdirTemp("", "megaflow-conformance-cache-"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(cacheDir)
	if references[0].path, err = hosttest.BuildGo("./reference/go"); err != nil {
		return 0, err
	}
	addRebuilt(os.Getenv("MEGAFLOW_SDK_REBUILT"))
	return m.Run(), nil
}

// addRebuilt adds the modules that `make sdk SDK_OUT=dir` rebuilt under dir
// to the references and examples, so that the same vectors check them
// beside the committed ones. make sdk-check sets MEGAFLOW_SDK_REBUILT.
func addRebuilt(dir string) {
	if dir == "" {
		return
	}
	for _, ref := range slices.Clone(references) {
		if ref.lang == "go" {
			continue
		}
		references = append(references, &reference{
			lang: ref.lang + "-rebuilt",
			path: filepath.Join(dir, "conformance", ref.path),
		})
	}
	for _, ex := range slices.Clone(examples) {
		examples = append(examples, &example{
			lang: ex.lang + "-rebuilt",
			path: filepath.Join(dir, strings.TrimPrefix(ex.path, "../")),
		})
	}
}

// logRecorder is a slog.Handler that keeps the lines a guest logged
// through the log import, so tests can compare them.
type logRecorder struct {
	mu    sync.Mutex
	lines []logLine
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	fromLogImport := false
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" && a.Value.String() == "log" {
			fromLogImport = true
		}
		return true
	})
	if fromLogImport {
		r.mu.Lock()
		r.lines = append(r.lines, logLine{Level: rec.Level.String(), Message: rec.Message})
		r.mu.Unlock()
	}
	return nil
}

// since returns the lines logged after the first n.
func (r *logRecorder) since(n int) []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines[n:])
}

func (r *logRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

func newEngine(t testing.TB) *host.Engine {
	t.Helper()
	e, err := host.NewEngine(context.Background(), host.EngineOptions{CacheDir: cacheDir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	return e
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// loaded is a plugin loaded with one configuration, and its log.
type loaded struct {
	plugin *host.Plugin
	logs   *logRecorder
}

func load(ctx context.Context, e *host.Engine, ref *reference, config []byte) (loaded, error) {
	logs := &logRecorder{}
	p, err := e.Load(ctx, "conformance-"+ref.lang, ref.path, host.PluginOptions{
		Instances: 1,
		Config:    config,
		Logger:    slog.New(logs),
	})
	return loaded{plugin: p, logs: logs}, err
}

func TestConformance(t *testing.T) {
	vectors, err := loadVectors("vectors")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range references {
		t.Run(ref.lang, func(t *testing.T) {
			if _, err := os.Stat(ref.path); err != nil {
				t.Fatalf("reference module missing (run make sdk to build it): %v", err)
			}
			e := newEngine(t)
			plugins := map[string]loaded{}
			for i := range vectors {
				v := &vectors[i]
				t.Run(v.file+"/"+v.Name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if v.Hook == "init" {
						runInit(t, ctx, e, ref, v)
						return
					}
					l, ok := plugins[v.configKey()]
					if !ok {
						var err error
						if l, err = load(ctx, e, ref, v.configBytes()); err != nil {
							t.Fatal(err)
						}
						plugins[v.configKey()] = l
					}
					runHook(t, ctx, l, v)
				})
			}
		})
	}
}

func (v *vector) configBytes() []byte {
	if v.Config == nil {
		return nil
	}
	return *v.Config
}

func runInit(t *testing.T, ctx context.Context, e *host.Engine, ref *reference, v *vector) {
	l, err := load(ctx, e, ref, v.configBytes())
	switch v.Expect.Result {
	case "ok":
		if err != nil {
			t.Errorf("load failed: %v", err)
		} else {
			_ = l.plugin.Close(ctx)
		}
	case "fail":
		if err == nil {
			_ = l.plugin.Close(ctx)
			t.Errorf("load succeeded, want it to fail with %q", *v.Expect.Output)
		} else if !bytes.Contains([]byte(err.Error()), *v.Expect.Output) {
			t.Errorf("load error %q does not contain %q", err, *v.Expect.Output)
		}
	default:
		t.Fatalf("init vector has result %q; want ok or fail", v.Expect.Result)
	}
	checkLogs(t, l.logs.since(0), v.Expect.Logs)
}

func runHook(t *testing.T, ctx context.Context, l loaded, v *vector) {
	before := l.logs.count()
	var err error
	switch v.Hook {
	case "request":
		err = runRequest(t, ctx, l.plugin, v)
	case "response":
		err = runResponse(t, ctx, l.plugin, v)
	case "event":
		err = runEvent(t, ctx, l.plugin, v)
	case "aggregate":
		err = runAggregate(t, ctx, l.plugin, v)
	case "route":
		err = runRoute(t, ctx, l.plugin, v)
	default:
		t.Fatalf("unknown hook %q", v.Hook)
	}
	checkFailure(t, err, v)
	checkLogs(t, l.logs.since(before), v.Expect.Logs)
}

// checkFailure checks err against a vector that expects "fail", and that
// there is no error otherwise.
func checkFailure(t *testing.T, err error, v *vector) {
	t.Helper()
	if v.Expect.Result != "fail" {
		if err != nil {
			t.Errorf("hook failed: %v", err)
		}
		return
	}
	var e *host.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v; want a *host.Error with status %d", err, v.Expect.Status)
	}
	if e.Kind != host.KindFailed {
		t.Errorf("error kind = %s; want %s", e.Kind, host.KindFailed)
	}
	if e.Status != v.Expect.Status {
		t.Errorf("error status = %d; want %d", e.Status, v.Expect.Status)
	}
	if want := string(*v.Expect.Output); e.Message != want {
		t.Errorf("error message = %q; want %q", e.Message, want)
	}
}

func runRequest(t *testing.T, ctx context.Context, p *host.Plugin, v *vector) error {
	var headers []byte
	for _, h := range v.Headers {
		headers = host.AppendHeader(headers, h[0], h[1])
	}
	var out host.RequestOutput
	err := p.Request(ctx, v.Input, headers, &out)
	switch v.Expect.Result {
	case "ok":
		if !out.Changed || out.Status != 0 {
			t.Errorf("Changed, Status = %v, %d; want true, 0", out.Changed, out.Status)
		}
		checkOutput(t, out.Body, v.Expect.Output)
	case "unchanged":
		if out.Changed || out.Status != 0 {
			t.Errorf("Changed, Status = %v, %d; want false, 0", out.Changed, out.Status)
		}
	case "respond":
		if out.Status != v.Expect.Status || out.Changed {
			t.Errorf("Changed, Status = %v, %d; want false, %d", out.Changed, out.Status, v.Expect.Status)
		}
		checkOutput(t, out.Body, v.Expect.Output)
	}
	checkHeaderEdits(t, out.Headers, v.Expect.Headers)
	return err
}

func checkHeaderEdits(t *testing.T, got []host.HeaderEdit, want []headerEdit) {
	t.Helper()
	format := func(edits []string) string { return fmt.Sprintf("%q", edits) }
	var gotEdits, wantEdits []string
	for _, e := range got {
		if e.Delete {
			gotEdits = append(gotEdits, "delete "+string(e.Name))
		} else {
			gotEdits = append(gotEdits, "set "+string(e.Name)+"="+string(e.Value))
		}
	}
	for _, e := range want {
		if e.Delete != nil {
			wantEdits = append(wantEdits, "delete "+string(*e.Delete))
		} else {
			wantEdits = append(wantEdits, "set "+string(e.Set[0])+"="+string(e.Set[1]))
		}
	}
	if !slices.Equal(gotEdits, wantEdits) {
		t.Errorf("header edits = %s; want %s", format(gotEdits), format(wantEdits))
	}
}

func runResponse(t *testing.T, ctx context.Context, p *host.Plugin, v *vector) error {
	got, changed, err := p.Response(ctx, v.Input, nil)
	switch v.Expect.Result {
	case "ok":
		if !changed {
			t.Error("changed = false; want true")
		}
		checkOutput(t, got, v.Expect.Output)
	case "unchanged":
		if changed || len(got) != 0 {
			t.Errorf("changed, output = %v, %d bytes; want false, none", changed, len(got))
		}
	}
	return err
}

func runEvent(t *testing.T, ctx context.Context, p *host.Plugin, v *vector) error {
	got, err := p.Event(ctx, v.Input, nil)
	switch v.Expect.Result {
	case "ok":
		checkOutput(t, got, v.Expect.Output)
	case "unchanged":
		want := byteSpec(v.Input)
		checkOutput(t, got, &want)
	}
	return err
}

func runAggregate(t *testing.T, ctx context.Context, p *host.Plugin, v *vector) error {
	inputs := make([]host.Input, len(v.Inputs))
	for i, in := range v.Inputs {
		inputs[i] = host.Input{Name: in.Name, ContentType: in.ContentType, Data: in.Data}
	}
	got, err := p.Aggregate(ctx, inputs, nil)
	if v.Expect.Result == "ok" {
		checkOutput(t, got, v.Expect.Output)
	}
	return err
}

func runRoute(t *testing.T, ctx context.Context, p *host.Plugin, v *vector) error {
	selected := make([]bool, len(v.Successors))
	err := p.Route(ctx, v.Input, v.Successors, selected)
	if v.Expect.Result == "fail" {
		return err
	}
	got := []string{}
	for i, s := range v.Successors {
		if selected[i] {
			got = append(got, s)
		}
	}
	want := v.Expect.Selected
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("selected %q; want %q", got, want)
	}
	return err
}

func checkOutput(t *testing.T, got []byte, want *byteSpec) {
	t.Helper()
	if want == nil {
		t.Fatal("vector has no expected output")
	}
	if !bytes.Equal(got, *want) {
		t.Errorf("output = %s; want %s", abbreviate(got), abbreviate(*want))
	}
}

// abbreviate quotes p, keeping long values short in failure messages.
func abbreviate(p []byte) string {
	const keep = 64
	if len(p) <= 2*keep {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%q...%q (%d bytes)", p[:keep], p[len(p)-keep:], len(p))
}

func checkLogs(t *testing.T, got, want []logLine) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("logs = %v; want %v", got, want)
	}
}

// TestVectorsCoverEveryHook guards the suite itself: each hook kind has a
// vector for success and one for a failure the hook reports.
func TestVectorsCoverEveryHook(t *testing.T) {
	vectors, err := loadVectors("vectors")
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]bool{}
	for _, v := range vectors {
		if results[v.Hook] == nil {
			results[v.Hook] = map[string]bool{}
		}
		results[v.Hook][v.Expect.Result] = true
	}
	for _, hook := range []string{"init", "request", "response", "event", "aggregate", "route"} {
		for _, result := range []string{"ok", "fail"} {
			if hook == "event" && result == "fail" {
				continue // the reference event hook has no failure case
			}
			if !results[hook][result] {
				t.Errorf("no %s vector with result %q", hook, result)
			}
		}
	}
}
