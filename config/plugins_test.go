package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/megaflow/megaflow/runtime"
)

func TestCompileAttachesEveryHook(t *testing.T) {
	f := loadFull(t)
	out := &problems{file: f.name}
	plugins, closer, err := loadPlugins(f, out)
	if err != nil || out.err() != nil {
		t.Fatalf("loadPlugins: %v %v", err, out.err())
	}
	defer closer.Close()
	nodes := f.Flows["full"].Nodes
	var first, last runtime.NodeSpec
	attachHooks(f, "full", 0, &nodes[0], &first, plugins, out)
	attachHooks(f, "full", 2, &nodes[2], &last, plugins, out)
	if err := out.err(); err != nil {
		t.Fatal(err)
	}
	if first.Request == nil || first.Response == nil || first.Events == nil || first.Route == nil {
		t.Errorf("node first hooks: request %v response %v events %v route %v", first.Request, first.Response, first.Events, first.Route)
	}
	if first.Aggregate != nil {
		t.Error("node first has an aggregate hook it does not name")
	}
	if last.Aggregate == nil {
		t.Error("node last has no aggregate hook")
	}
}

// writePluginConfig writes a configuration whose node uses the plugin
// file wasm for hook, and returns the configuration's path.
func writePluginConfig(t *testing.T, wasm, hook string) string {
	t.Helper()
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	src := `[services.a]
url = "http://127.0.0.1:9000/"

[plugins.p]
path = "p.wasm"
instances = 1
config = { field = "retrieved_docs" }

[flows.f]
  [[flows.f.nodes]]
  service = "a"
  [[flows.f.nodes]]
  name = "b"
  service = "a"
  after = ["a"]
  ` + hook + ` = "p"
`
	path := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompilePluginWithoutABI(t *testing.T) {
	path := writePluginConfig(t, "testdata/plugins/no_abi_version.wasm", "response")
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	_, err = Compile(f, "127.0.0.1:0")
	want := path + `:5:1: plugin "p": module does not export megaflow_abi_version`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Compile error:\n got %v\nwant prefix %s", err, want)
	}
}

func TestCompilePluginLacksHook(t *testing.T) {
	wasm := filepath.Join(pluginBuildDir, "route_by_field.wasm")
	if _, err := os.Stat(wasm); err != nil {
		t.Skip("route_by_field is not built (make plugins)")
	}
	path := writePluginConfig(t, wasm, "request")
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	_, err = Compile(f, "127.0.0.1:0")
	want := path + `:16:3: flow "f" node "b": request plugin "p" has no request hook; it implements route`
	if err == nil || err.Error() != want {
		t.Errorf("Compile error:\n got %v\nwant %s", err, want)
	}
}
