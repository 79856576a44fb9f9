package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/host/hosttest"
)

// Paths of the Go guests, built once in TestMain.
var guests = map[string]string{
	"reference": "./testdata/guests/reference",
	"misbehave": "./testdata/guests/misbehave",
	"transform": "./testdata/guests/transform",
	"json_pick": "../plugins/json_pick",
}

// cacheDir is the compilation cache shared by every test's engine, so each
// module is compiled once per run; it also exercises the cache directory.
var cacheDir string

func TestMain(m *testing.M) {
	var err error
	if cacheDir, err = os.MkdirTemp("", "megaflow-host-cache-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for name, dir := range guests {
		path, err := hosttest.BuildGo(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		guests[name] = path
	}
	code := m.Run()
	hosttest.Cleanup()
	os.RemoveAll(cacheDir)
	os.Exit(code)
}

// logBuffer is a concurrency-safe log destination that tests can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
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
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func load(t testing.TB, e *host.Engine, name, path string, opts host.PluginOptions) *host.Plugin {
	t.Helper()
	p, err := e.Load(context.Background(), name, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// hostError returns err as a *host.Error, failing the test if it is not one.
func hostError(t *testing.T, err error) *host.Error {
	t.Helper()
	var e *host.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *host.Error", err, err)
	}
	return e
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func slogTo(w *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
