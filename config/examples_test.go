package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pluginStub is the smallest valid WebAssembly module: the magic number
// and version 1 with no sections. Tests use it in place of plugin files
// that are built elsewhere.
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
	built := usePluginStubs(t)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if len(f.Plugins) > 0 && !built {
				t.Skip("Load passed; Compile needs the plugins built (make plugins)")
			}
			// Check starts no health checks, which would probe the example's
			// addresses, where no test server runs.
			if err := Check(f); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

// examplePlugins lists the bundled plugins the examples use, which
// "make plugins" builds into pluginBuildDir.
var examplePlugins = []string{"to_tei.wasm", "tei_to_retriever.wasm", "retriever_to_rerank.wasm", "rerank_to_llm.wasm", "route_by_field.wasm", "template.wasm"}

const pluginBuildDir = "../plugins/build"

// usePluginStubs points MEGAFLOW_PLUGIN_DIR, which the examples read, at
// a directory of stub modules unless every example plugin is built, and
// reports whether they are. Stubs pass Load's checks but not Compile,
// which loads each plugin into the host.
func usePluginStubs(t *testing.T) (built bool) {
	t.Helper()
	built = true
	for _, name := range examplePlugins {
		if _, err := os.Stat(filepath.Join(pluginBuildDir, name)); err != nil {
			built = false
		}
	}
	if built {
		t.Setenv("MEGAFLOW_PLUGIN_DIR", "")
		return true
	}
	t.Logf("plugins are not built in %s; validating the examples against stub modules", pluginBuildDir)
	stubs := t.TempDir()
	for _, name := range examplePlugins {
		if err := os.WriteFile(filepath.Join(stubs, name), pluginStub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MEGAFLOW_PLUGIN_DIR", stubs)
	return false
}

func TestExamplesUseLoopbackDefaults(t *testing.T) {
	paths, _ := filepath.Glob("examples/*.toml")
	usePluginStubs(t)
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

// TestLoadSketch loads testdata/sketch.toml, the configuration shape the
// project set out for users, next to stubs of its three plugins.
func TestLoadSketch(t *testing.T) {
	src, err := os.ReadFile("testdata/sketch.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plugins", "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"to_tei.wasm", "merge.wasm", "route_by_field.wasm"} {
		if err := os.WriteFile(filepath.Join(dir, "plugins", "build", name), pluginStub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "sketch.toml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EMBED_HOST", "")
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	if got := f.Services["embedding"].URL; got != "http://127.0.0.1:6006/embed" {
		t.Errorf("embedding url %q", got)
	}
	if got := f.Plugins["to_tei"].MaxMemory.Bytes; got != 16<<20 {
		t.Errorf("to_tei max_memory %d", got)
	}
}
