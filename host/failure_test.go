package host_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
)

// serveAlongside runs good calls on p from two goroutines until stop is
// closed, and reports how many failed. The host must keep serving them
// while other calls on the same plugin trap, time out or run out of memory.
func serveAlongside(t *testing.T, p *host.Plugin, body string) (stop func() (ok, failed int64)) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var okCount, failCount atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out host.RequestOutput
			deadline := time.Now().Add(60 * time.Second)
			for i := 0; i < 100_000 && time.Now().Before(deadline); i++ {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := p.Request(ctx, []byte(body), nil, &out)
				cancel()
				if err != nil || string(out.Body) != body {
					t.Errorf("good call alongside failures: body %q, error %v", out.Body, err)
					failCount.Add(1)
				} else {
					okCount.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return okCount.Load(), failCount.Load()
	}
}

func TestGuestFailures(t *testing.T) {
	cases := []struct {
		name   string
		module string // "wat" for the WAT reference guest, else a Go guest
		body   string
		opts   host.PluginOptions
		kind   host.ErrorKind
		text   string // part of the error message
	}{
		{"wat trap", "wat", "!trap", host.PluginOptions{}, host.KindTrap, "trapped"},
		{"wat infinite loop", "wat", "@loop", host.PluginOptions{Timeout: 200 * time.Millisecond}, host.KindTimeout, "200ms timeout"},
		{"wat out of bounds pointer", "wat", "#pointer", host.PluginOptions{}, host.KindProtocol, "out of memory bounds"},
		{"go exit", "misbehave", "exit", host.PluginOptions{}, host.KindTrap, "exited with code 3"},
		{"go infinite loop", "misbehave", "loop", host.PluginOptions{Timeout: 200 * time.Millisecond}, host.KindTimeout, "timeout"},
		{"go memory past max", "misbehave", "oom", host.PluginOptions{MaxMemory: 48 << 20, Timeout: 10 * time.Second}, host.KindOutOfMemory, "memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := "testdata/wat/reference.wasm"
			if c.module != "wat" {
				path = guests[c.module]
			}
			c.opts.Instances = 2
			e := newEngine(t)
			p := load(t, e, "bad", path, c.opts)
			stop := serveAlongside(t, p, "good")

			var out host.RequestOutput
			for range 3 {
				err := p.Request(testContext(t), []byte(c.body), nil, &out)
				if err == nil {
					t.Fatalf("Request(%q) succeeded, want a %s error", c.body, c.kind)
				}
				e := hostError(t, err)
				if e.Kind != c.kind || e.Status != 500 || e.Plugin != "bad" || e.Hook != host.HookRequest {
					t.Errorf("error = %v (kind %s, status %d); want kind %s, status 500, plugin \"bad\", hook request", e, e.Kind, e.Status, c.kind)
				}
				if !strings.Contains(e.Message, c.text) {
					t.Errorf("message %q does not contain %q", e.Message, c.text)
				}
			}

			ok, failed := stop()
			if ok == 0 || failed != 0 {
				t.Errorf("good calls alongside: %d succeeded, %d failed; want some and none", ok, failed)
			}
			stats := p.Stats()
			if stats.Replaced != 3 {
				t.Errorf("Stats.Replaced = %d, want 3", stats.Replaced)
			}
			var counted uint64
			switch c.kind {
			case host.KindTrap:
				counted = stats.Traps
			case host.KindTimeout:
				counted = stats.Timeouts
			case host.KindOutOfMemory:
				counted = stats.OutOfMemory
			case host.KindProtocol:
				counted = stats.Protocol
			}
			if counted != 3 {
				t.Errorf("Stats count for %s = %d, want 3 (stats %+v)", c.kind, counted, stats)
			}
		})
	}
}

func TestGoPanicIsFailure(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "panicky", guests["misbehave"], host.PluginOptions{Instances: 1})
	var out host.RequestOutput
	err := p.Request(testContext(t), []byte("panic"), nil, &out)
	if e := hostError(t, err); e.Kind != host.KindFailed || e.Status != 500 || !strings.Contains(e.Message, "plugin panicked") {
		t.Errorf("error = %+v; want KindFailed, 500, a message about the panic", e)
	}
	if err := p.Request(testContext(t), []byte("fine"), nil, &out); err != nil || string(out.Body) != "fine" {
		t.Errorf("call after the panic: %q, %v", out.Body, err)
	}
	if s := p.Stats(); s.Replaced != 0 || s.Failures != 1 {
		t.Errorf("Stats = %+v; want 1 failure and no replacement", s)
	}
}

func TestStdoutFlood(t *testing.T) {
	var logs logBuffer
	e := newEngine(t)
	p := load(t, e, "chatty", guests["misbehave"], host.PluginOptions{Instances: 2, Logger: slogTo(&logs)})
	stop := serveAlongside(t, p, "good")

	var out host.RequestOutput
	if err := p.Request(testContext(t), []byte("flood"), nil, &out); err != nil {
		t.Fatal(err)
	}
	ok, failed := stop()
	if ok == 0 || failed != 0 {
		t.Errorf("good calls alongside: %d succeeded, %d failed; want some and none", ok, failed)
	}
	// 100,000 lines were printed; the rate limit lets through the burst
	// of 50 plus 20 a second.
	lines := strings.Count(logs.String(), "flood line")
	if lines == 0 || lines > 2000 {
		t.Errorf("%d of 100000 flood lines were logged, want between 1 and 2000", lines)
	}
	if !strings.Contains(logs.String(), "plugin=chatty") || !strings.Contains(logs.String(), "stream=stdout") {
		t.Errorf("flood lines lack the plugin and stream attributes: %.300s", logs.String())
	}
}

func TestBadBufferPointer(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "badbuffer", "testdata/wat/badbuffer.wasm", host.PluginOptions{Instances: 1})
	_, _, err := p.Response(testContext(t), []byte("input"), nil)
	if e := hostError(t, err); e.Kind != host.KindProtocol || !strings.Contains(e.Message, "megaflow_buffer") {
		t.Errorf("error = %+v; want KindProtocol naming megaflow_buffer", e)
	}
}

func TestVersionMarker(t *testing.T) {
	cases := []struct {
		module string
		want   []string
	}{
		{"testdata/wat/noversion.wasm", []string{`plugin "old"`, "megaflow_abi_version", "ABI version 1"}},
		{"testdata/wat/version2.wasm", []string{`plugin "old"`, "ABI version 2", "ABI version 1"}},
	}
	for _, c := range cases {
		t.Run(c.module, func(t *testing.T) {
			e := newEngine(t)
			_, err := e.Load(testContext(t), "old", c.module, host.PluginOptions{})
			if err == nil {
				t.Fatal("Load succeeded, want a version error")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestAcquireWaitsOnContext(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "single", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, Timeout: 2 * time.Second})

	busy := make(chan error, 1)
	go func() {
		var out host.RequestOutput
		busy <- p.Request(context.Background(), []byte("@loop"), nil, &out)
	}()
	// Wait until the looping call holds the only instance: then a probe
	// with a short deadline finds no free instance. The bound is time, not
	// a count of probes, because the looping goroutine may start late on a
	// busy machine while each probe takes microseconds.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		var out host.RequestOutput
		err := p.Request(ctx, []byte("probe"), nil, &out)
		cancel()
		if e := (*host.Error)(nil); errors.As(err, &e) && e.Kind == host.KindUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the looping call never held the instance within 10s")
		}
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var out host.RequestOutput
	err := p.Request(ctx, []byte("waits"), nil, &out)
	e2 := hostError(t, err)
	if e2.Kind != host.KindUnavailable || e2.Status != 503 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v; want KindUnavailable, 503, wrapping context.DeadlineExceeded", err)
	}
	if err := <-busy; hostError(t, err).Kind != host.KindTimeout {
		t.Errorf("looping call error = %v, want a timeout", err)
	}
}

func TestCloseWaitsForCalls(t *testing.T) {
	e := newEngine(t)
	p, err := e.Load(testContext(t), "closing", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 2, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	busy := make(chan error, 1)
	go func() {
		close(started)
		var out host.RequestOutput
		busy <- p.Request(context.Background(), []byte("@loop"), nil, &out)
	}()
	<-started
	if err := p.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := p.Stats().Instances; n != 0 {
		t.Errorf("%d instances alive after Close, want 0", n)
	}
	<-busy
	var out host.RequestOutput
	err = p.Request(testContext(t), []byte("late"), nil, &out)
	if e := hostError(t, err); e.Kind != host.KindUnavailable {
		t.Errorf("call after Close: %v, want KindUnavailable", err)
	}
}

func TestReplacementPolicies(t *testing.T) {
	t.Run("max calls", func(t *testing.T) {
		e := newEngine(t)
		p := load(t, e, "counted", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, MaxCalls: 3})
		for range 10 {
			if _, _, err := p.Response(testContext(t), []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
		}
		if s := p.Stats(); s.Replaced != 3 || s.Instances != 1 {
			t.Errorf("after 10 calls with MaxCalls 3: Replaced %d, Instances %d; want 3, 1", s.Replaced, s.Instances)
		}
	})
	t.Run("memory threshold", func(t *testing.T) {
		e := newEngine(t)
		p := load(t, e, "grower", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, MemoryThreshold: 256 << 10})
		if _, _, err := p.Response(testContext(t), make([]byte, 100<<10), nil); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Replaced != 0 {
			t.Errorf("Replaced = %d after a call within the threshold, want 0", s.Replaced)
		}
		if _, _, err := p.Response(testContext(t), make([]byte, 300<<10), nil); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Replaced != 1 {
			t.Errorf("Replaced = %d after memory grew past the threshold, want 1", s.Replaced)
		}
	})
}

func TestCanceledDuringCall(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "looper", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	var out host.RequestOutput
	err := p.Request(ctx, []byte("@loop"), nil, &out)
	if e := hostError(t, err); e.Kind != host.KindTimeout || !strings.Contains(e.Message, "canceled") {
		t.Errorf("error = %v; want KindTimeout saying the request was canceled", err)
	}
	if _, _, err := p.Response(testContext(t), []byte("after"), nil); err != nil {
		t.Errorf("call on the replacement instance: %v", err)
	}
}

func TestOutputLimit(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "verbose", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, MaxOutput: 64})
	if _, _, err := p.Response(testContext(t), make([]byte, 62), nil); err != nil {
		t.Fatalf("output of exactly 64 bytes: %v", err)
	}
	_, _, err := p.Response(testContext(t), make([]byte, 63), nil)
	if e := hostError(t, err); e.Kind != host.KindProtocol || !strings.Contains(e.Message, "64-byte limit") {
		t.Errorf("output of 65 bytes: %v; want KindProtocol naming the limit", err)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	e, err := host.NewEngine(ctx, host.EngineOptions{CacheDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, "cached", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Errorf("cache directory %s is empty after loading a plugin", dir)
	}
}

func TestSandbox(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "nosy", guests["misbehave"], host.PluginOptions{Instances: 1})
	var out host.RequestOutput

	if err := p.Request(testContext(t), []byte("sandbox"), nil, &out); err != nil {
		t.Fatal(err)
	}
	// os.Args holds no program name either, because the host passes no
	// arguments at all.
	if got, want := string(out.Body), "file=true dir=true env=0 args=0"; got != want {
		t.Errorf("guest's view of files, environment and arguments = %q, want %q", got, want)
	}

	// wazero's default wall clock is fixed in the past; the host gives
	// guests the real one.
	if err := p.Request(testContext(t), []byte("clock"), nil, &out); err != nil {
		t.Fatal(err)
	}
	guest, err := strconv.ParseInt(string(out.Body), 10, 64)
	if err != nil {
		t.Fatalf("clock output %q: %v", out.Body, err)
	}
	if diff := guest - time.Now().Unix(); diff < -3600 || diff > 3600 {
		t.Errorf("guest wall clock is %d s away from the host's, want the real time", diff)
	}
}

// TestCloseUnderLoad closes a plugin while goroutines call it, as a
// configuration reload does: every call must succeed or fail as
// unavailable, and no instance may outlive Close.
func TestCloseUnderLoad(t *testing.T) {
	e := newEngine(t)
	p, err := e.Load(testContext(t), "reloaded", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var wg sync.WaitGroup
	var served atomic.Int64
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100_000; i++ {
				_, _, err := p.Response(ctx, []byte("x"), nil)
				if err == nil {
					served.Add(1)
					continue
				}
				var e *host.Error
				if !errors.As(err, &e) || e.Kind != host.KindUnavailable {
					errs <- err
				}
				return
			}
		}()
	}
	for i := 0; i < 1000 && served.Load() < 100; i++ {
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call during Close: %v, want success or KindUnavailable", err)
	}
	if n := p.Stats().Instances; n != 0 {
		t.Errorf("%d instances alive after Close, want 0", n)
	}
}

// panickyContext panics when a call derives its timeout from it, which
// makes the host panic while it holds an instance.
type panickyContext struct{ context.Context }

func (panickyContext) Deadline() (time.Time, bool) { panic("deadline of a broken context") }

func TestHostPanicKeepsThePoolSize(t *testing.T) {
	e := newEngine(t)
	p := load(t, e, "single", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1, Timeout: 2 * time.Second})

	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the call with a broken context did not panic")
			}
		}()
		p.Response(panickyContext{context.Background()}, []byte("x"), nil)
	}()

	// The only instance was replaced, so the next call gets one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := p.Response(ctx, []byte("x"), nil); err != nil {
		t.Fatalf("call after the panic: %v", err)
	}
	if s := p.Stats(); s.Replaced != 1 || s.Instances != 1 {
		t.Errorf("after the panic: Replaced %d, Instances %d; want 1, 1", s.Replaced, s.Instances)
	}
}
