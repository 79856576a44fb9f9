package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withPluginStubs points MEGAFLOW_PLUGIN_DIR, which the examples read,
// at stub modules (the smallest valid WebAssembly module), so the
// examples validate whether or not the plugins are built.
func withPluginStubs(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"to_tei.wasm", "tei_to_retriever.wasm", "retriever_to_rerank.wasm", "rerank_to_llm.wasm", "route_by_field.wasm", "template.wasm"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MEGAFLOW_PLUGIN_DIR", dir)
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runValidateCapture(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = validateFiles(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	for _, name := range []string{"to_tei.wasm", "tei_to_retriever.wasm", "retriever_to_rerank.wasm", "rerank_to_llm.wasm", "route_by_field.wasm", "template.wasm"} {
		if _, err := os.Stat(filepath.Join("../../plugins/build", name)); err != nil {
			t.Skipf("validate loads each plugin, and %s is not built (make plugins)", name)
		}
	}
	t.Setenv("MEGAFLOW_PLUGIN_DIR", "")
	paths, err := filepath.Glob("../../config/examples/*.toml")
	if err != nil || len(paths) < 5 {
		t.Fatalf("found %d examples: %v", len(paths), err)
	}
	code, stdout, stderr := runValidateCapture(paths...)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("%d summary lines for %d files:\n%s", len(lines), len(paths), stdout)
	}
	want := "../../config/examples/chatqna.toml: valid: 4 services, 4 plugins, 1 flow (4 nodes), 2 routes"
	if !strings.Contains(stdout, want+"\n") {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
}

func TestValidateCyclePrintsPath(t *testing.T) {
	path := writeFile(t, "cycle.toml", `[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  name = "x"
  service = "a"
  after = ["z"]
  [[flows.f.nodes]]
  name = "y"
  service = "a"
  after = ["x"]
  [[flows.f.nodes]]
  name = "z"
  service = "a"
  after = ["y"]
`)
	code, stdout, stderr := runValidateCapture(path)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	want := path + `:8:3: flow "f" has a cycle: x → y → z → x; remove one of these "after" entries`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

func TestValidateUnknownKeySuggests(t *testing.T) {
	path := writeFile(t, "typo.toml", "[server]\nlisten = \"127.0.0.1:8000\"\n  request_timout = \"5s\"\n")
	code, _, stderr := runValidateCapture(path)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := path + `:3:3: server: unknown key "request_timout"; did you mean "request_timeout"?` + "\n"
	if stderr != want {
		t.Errorf("stderr:\n got %q\nwant %q", stderr, want)
	}
}

func TestValidateMixedFiles(t *testing.T) {
	good := writeFile(t, "good.toml", "[server]\nlisten = \"127.0.0.1:0\"\n")
	code, stdout, stderr := runValidateCapture(good, filepath.Join(t.TempDir(), "missing.toml"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.HasPrefix(stdout, good+": valid: 0 services") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "missing.toml: cannot read the configuration: no such file or directory") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, stderr := runValidateCapture(); code != 2 || !strings.Contains(stderr, "name at least one file") {
		t.Errorf("no files: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr := runValidateCapture("--help")
	if code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	if !strings.Contains(stderr, "Usage: megaflow validate FILE...") || !strings.Contains(stderr, "Exit status: 0") {
		t.Errorf("--help text:\n%s", stderr)
	}
}

func runGraphCapture(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = graphFile(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestGraphCommandMermaid(t *testing.T) {
	withPluginStubs(t)
	code, stdout, stderr := runGraphCapture("../../config/examples/chatqna.toml", "--format", "mermaid")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "flowchart TD\n  subgraph f0[\"flow chatqna\"]\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestGraphCommandFlagsFirst(t *testing.T) {
	withPluginStubs(t)
	code, stdout, stderr := runGraphCapture("--format=dot", "--flow", "conditional", "../../config/examples/conditional.toml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "digraph megaflow {") || !strings.Contains(stdout, "[style=dashed]") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestGraphCommandErrors(t *testing.T) {
	withPluginStubs(t)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no file", nil, 2, "name exactly one file"},
		{"unknown format", []string{"--format", "png", "../../config/examples/echo.toml"}, 2, `--format "png" is unknown; use mermaid or dot`},
		{"unknown flow", []string{"../../config/examples/echo.toml", "--flow", "ecco"}, 1, `has no flow "ecco"; did you mean "echo"?`},
		{"invalid file", []string{writeFile(t, "bad.toml", "[server]\nlisten = 8000\n")}, 1, `:2:1: server: listen must be a string, not the integer 8000`},
		{"help", []string{"--help"}, 0, "diagram FORMAT: mermaid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runGraphCapture(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

func TestVersionLine(t *testing.T) {
	var b bytes.Buffer
	printVersion(&b)
	if !strings.HasPrefix(b.String(), "megaflow "+version+" (go") || !strings.HasSuffix(b.String(), ")\n") {
		t.Errorf("version line %q", b.String())
	}
}

func TestCommandsRegistered(t *testing.T) {
	for _, name := range []string{"validate", "graph", "version"} {
		if _, ok := commands[name]; !ok {
			t.Errorf("command %q is not registered", name)
		}
	}
}
