package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pluginStub is the smallest valid WebAssembly module: the magic number
// and version 1 with no sections. It stands in for plugin files that are
// built elsewhere.
var pluginStub = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

func TestExamplesValidate(t *testing.T) {
	paths, err := filepath.Glob("examples/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	for _, want := range []string{"echo.toml", "sequential.toml", "parallel.toml", "conditional.toml", "chatqna.toml"} {
		if !slices.Contains(names, want) {
			t.Errorf("examples/%s is missing", want)
		}
	}
	usePluginStubs(t, "examples/../../plugins/build", "to_tei.wasm", "merge.wasm", "route_by_field.wasm")
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			snap, err := Compile(f, "127.0.0.1:0")
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if err := snap.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// usePluginStubs points MEGAFLOW_PLUGIN_DIR, which the examples read, at
// a directory of stub modules unless dir already has every named plugin
// built. The examples then validate whether or not the plugins are built,
// and a real build is checked when present.
func usePluginStubs(t *testing.T, dir string, files ...string) {
	t.Helper()
	built := true
	for _, name := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			built = false
		}
	}
	if built {
		t.Setenv("MEGAFLOW_PLUGIN_DIR", "")
		return
	}
	t.Logf("plugins are not built in %s; validating the examples against stub modules", dir)
	stubs := t.TempDir()
	for _, name := range files {
		if err := os.WriteFile(filepath.Join(stubs, name), pluginStub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MEGAFLOW_PLUGIN_DIR", stubs)
}

func TestExamplesUseLoopbackDefaults(t *testing.T) {
	paths, _ := filepath.Glob("examples/*.toml")
	usePluginStubs(t, "examples/../../plugins/build", "to_tei.wasm", "merge.wasm", "route_by_field.wasm")
	for _, path := range paths {
		f, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for name, s := range f.Services {
			if s.Builtin == "" && !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
				t.Errorf("%s: service %q url %q; the examples run against mocks on 127.0.0.1", path, name, s.URL)
			}
		}
	}
}
