package scenario

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/mock"
)

// TestMain lets the test binary stand in for the megaflow binary's mock
// command: a scenario started with Env.Executable set to this binary runs
// "mock KIND ..." through mock.Main, as "megaflow mock" does.
func TestMain(m *testing.M) {
	if os.Getenv("MEGAFLOW_SCENARIO_TEST_CHILD") == "1" && len(os.Args) > 1 && os.Args[1] == "mock" {
		os.Exit(mock.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func childEnv(t *testing.T) Env {
	t.Helper()
	t.Setenv("MEGAFLOW_SCENARIO_TEST_CHILD", "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Env{Executable: exe, StartTimeout: 10 * time.Second}
}

func writeScenario(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBundledScenariosParse(t *testing.T) {
	paths, err := filepath.Glob("../scenarios/*.toml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, path := range paths {
		s, err := Load(path)
		if err != nil {
			t.Errorf("Load: %v", err)
			continue
		}
		if s.Description == "" {
			t.Errorf("%s: missing description", path)
		}
		if _, err := s.Target(""); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestLoadRejectsInvalidFiles(t *testing.T) {
	tests := []struct {
		name, text, wantErr string
	}{
		{"unknown key", "descripton = \"x\"\n[mocks.e]\nkind = \"echo\"\n[[targets]]\nname = \"d\"\nvia = \"mock\"\nmock = \"e\"\n", "descripton"},
		{"unknown kind", "[mocks.e]\nkind = \"tts\"\n", "unknown kind"},
		{"missing mock", "[[targets]]\nname = \"d\"\nvia = \"mock\"\nmock = \"nope\"\n", "nope"},
		{"megaflow without config", "[[targets]]\nname = \"m\"\nvia = \"megaflow\"\n", "no config"},
		{"duration without unit", "[load]\nduration = \"5\"\n[mocks.e]\nkind = \"echo\"\n[[targets]]\nname = \"d\"\nvia = \"mock\"\nmock = \"e\"\n", "load.duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeScenario(t, tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMegaflowConfigPlaceholders(t *testing.T) {
	r := &Running{
		scenario:  &Scenario{Name: "t", dir: "/scen", Megaflow: MegaflowSpec{Config: `listen = "{{listen}}" admin = "{{admin}}" url = "http://{{mock.echo}}/x" path = "{{scenario_dir}}/p.wasm"`}},
		mockAddrs: map[string]string{"echo": "127.0.0.1:9001"},
	}
	got, err := r.megaflowConfig("127.0.0.1:9000", "127.0.0.1:9002")
	if err != nil {
		t.Fatal(err)
	}
	want := `listen = "127.0.0.1:9000" admin = "127.0.0.1:9002" url = "http://127.0.0.1:9001/x" path = "/scen/p.wasm"`
	if got != want {
		t.Errorf("config = %s, want %s", got, want)
	}
	r.scenario.Megaflow.Config = `url = "http://{{mock.llm}}/"`
	if _, err := r.megaflowConfig("127.0.0.1:9000", "127.0.0.1:9002"); err == nil || !strings.Contains(err.Error(), "{{mock.llm}}") {
		t.Errorf("unknown mock error = %v, want one naming {{mock.llm}}", err)
	}

	r.scenario.Megaflow.Config = `content = "{{initial_query}}"`
	if got, err := r.megaflowConfig("127.0.0.1:9000", "127.0.0.1:9002"); err != nil || got != r.scenario.Megaflow.Config {
		t.Errorf("config with a plugin template = %q, %v; want it unchanged", got, err)
	}
}

const directScenario = `
description = "echo mock, direct and through nginx"

[mocks.echo]
kind = "delay"
options = { latency = "1ms" }

[load]
path = "/v1/echo"
body_size = 32
connections = 2
requests = 50

[[targets]]
name = "direct"
via = "mock"
mock = "echo"

[[targets]]
name = "nginx"
via = "nginx"
mock = "echo"
`

// TestStartLoadsAndStops starts a mock (and nginx when installed) as child
// processes, loads them, and checks that Close stops them.
func TestStartLoadsAndStops(t *testing.T) {
	s, err := Load(writeScenario(t, directScenario))
	if err != nil {
		t.Fatal(err)
	}
	running, err := s.Start(childEnv(t), s.Targets)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	cfg, err := s.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range s.Targets {
		if reason, skipped := running.Skipped[target.Name]; skipped {
			t.Logf("target %s skipped: %s", target.Name, reason)
			continue
		}
		cfg.URL, err = running.URL(target)
		if err != nil {
			t.Fatal(err)
		}
		res, err := load.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Succeeded != 50 {
			t.Errorf("target %s: %d succeeded, want 50 (errors %+v)", target.Name, res.Succeeded, res.Errors)
		}
	}

	procs := running.procs
	running.Close()
	for _, p := range procs {
		select {
		case <-p.exited:
		default:
			t.Errorf("process %s still running after Close", p.name)
		}
	}
	if _, err := os.Stat(running.dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still exists after Close", running.dir)
	}
}

func TestCheckReportsExitedProcess(t *testing.T) {
	s, err := Load(writeScenario(t, directScenario))
	if err != nil {
		t.Fatal(err)
	}
	running, err := s.Start(childEnv(t), s.Targets[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(running.dir)
	defer running.Close()
	if err := running.Check(); err != nil {
		t.Fatalf("Check with every process running = %v, want nil", err)
	}

	mockProc := running.procs[0]
	if err := mockProc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-mockProc.exited
	err = running.Check()
	if err == nil || !strings.Contains(err.Error(), "mock-echo") || !strings.Contains(err.Error(), "exited during the run") {
		t.Errorf("Check after the mock died = %v, want an error naming mock-echo", err)
	}
	running.Close()
	if _, err := os.Stat(running.dir); err != nil {
		t.Errorf("the logs of a run with a dead process were removed: %v", err)
	}
}
