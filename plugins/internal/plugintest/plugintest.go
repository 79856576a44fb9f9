// Package plugintest loads a bundled plugin, built from source, into a
// real plugin host for the plugin's tests.
package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/host/hosttest"
)

// engine is shared by the tests of one package, so that its compilation
// cache compiles the plugin once.
var engine *host.Engine

// Main builds the plugin in the test's working directory, runs the tests
// and removes the build; call it from TestMain.
func Main(m *testing.M) {
	if _, err := hosttest.BuildGo("."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	if engine, err = host.NewEngine(context.Background(), host.EngineOptions{Logger: logger}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = engine.Close(context.Background())
	hosttest.Cleanup()
	os.Exit(code)
}

// Load starts the plugin in the test's working directory with config
// (JSON, or nil) and closes it when the test ends.
func Load(t testing.TB, config string) *host.Plugin {
	t.Helper()
	path, err := hosttest.BuildGo(".")
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if config != "" {
		raw = []byte(config)
	}
	p, err := engine.Load(context.Background(), "plugin-under-test", path, host.PluginOptions{Instances: 1, Config: raw, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// LoadError returns the error of loading the plugin with config, failing
// the test if loading succeeds.
func LoadError(t testing.TB, config string) error {
	t.Helper()
	path, err := hosttest.BuildGo(".")
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.Load(context.Background(), "plugin-under-test", path, host.PluginOptions{Instances: 1, Config: []byte(config)})
	if err == nil {
		_ = p.Close(context.Background())
		t.Fatalf("loading with config %s succeeded, want an error", config)
	}
	return err
}

// Ctx returns a context that ends with the test, at the latest after 30 s.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Response runs the response hook and returns the new output, or the input
// when the plugin left it unchanged.
func Response(t testing.TB, p *host.Plugin, input string) (string, error) {
	t.Helper()
	out, changed, err := p.Response(Ctx(t), []byte(input), nil)
	if err != nil {
		return "", err
	}
	if !changed {
		return input, nil
	}
	return string(out), nil
}

// EqualJSON fails the test unless got and want are equal JSON documents.
func EqualJSON(t testing.TB, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("output is not JSON: %v\n%s", err, got)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected value is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}
}

// HostError returns err as a *host.Error, failing the test otherwise.
func HostError(t testing.TB, err error) *host.Error {
	t.Helper()
	var e *host.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *host.Error", err)
	}
	return e
}
