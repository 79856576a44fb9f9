// Package scenario reads benchmark scenarios (bench/scenarios/*.toml) and
// runs them: it starts the scenario's mock services, a megaflow instance
// and, when asked, an nginx reverse proxy, all on 127.0.0.1 ports, and stops
// them again.
//
// A scenario file looks like this:
//
//	description = "one echo node"
//
//	[mocks.echo]                 # started as "megaflow mock echo"
//	kind = "echo"
//	options = { latency = "1ms" } # flags of "megaflow mock", without "--"
//
//	[megaflow]                   # megaflow's configuration file
//	config = '''
//	[services.echo]
//	url = "http://{{mock.echo}}/v1/echo"
//	...
//	'''
//
//	[load]                       # defaults for "megaflow bench"
//	path = "/v1/echo"
//	body_size = 64
//
//	[[targets]]                  # what "bench compare --scenario" loads
//	name = "megaflow"
//	via = "megaflow"             # megaflow, mock or nginx
//
// In the megaflow configuration, {{mock.NAME}} becomes the host:port of mock
// NAME, {{listen}} the host:port megaflow serves on, {{admin}} a free
// host:port for its admin listener and {{scenario_dir}} the absolute
// directory of the scenario file, for plugin paths.
package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/mock"
)

// Scenario is one parsed scenario file.
type Scenario struct {
	// Name is the file name without its extension.
	Name        string              `toml:"-"`
	Description string              `toml:"description"`
	Mocks       map[string]MockSpec `toml:"mocks"`
	Megaflow    MegaflowSpec        `toml:"megaflow"`
	Load        LoadSpec            `toml:"load"`
	Targets     []TargetSpec        `toml:"targets"`

	// dir is the directory of the file, for relative paths.
	dir string
}

// MockSpec is one [mocks.NAME] table.
type MockSpec struct {
	// Kind is a kind of "megaflow mock", such as echo or llm.
	Kind string `toml:"kind"`
	// Options are flags of "megaflow mock" without the leading dashes,
	// such as latency = "5ms" or tokens = 64.
	Options map[string]any `toml:"options"`
}

// MegaflowSpec is the [megaflow] table.
type MegaflowSpec struct {
	// Config is megaflow's TOML configuration with {{mock.NAME}},
	// {{listen}}, {{admin}} and {{scenario_dir}} placeholders. Empty means
	// the scenario runs no megaflow.
	Config string `toml:"config"`
}

// LoadSpec is the [load] table: the defaults of a run, which command-line
// flags override.
type LoadSpec struct {
	Path         string   `toml:"path"`
	Method       string   `toml:"method"`
	Headers      []string `toml:"headers"` // "Name: value"
	Body         string   `toml:"body"`
	BodyFile     string   `toml:"body_file"` // relative to the scenario file
	BodySize     int      `toml:"body_size"`
	BodyTemplate string   `toml:"body_template"`
	ContentType  string   `toml:"content_type"`
	Connections  int      `toml:"connections"`
	Rate         float64  `toml:"rate"`
	Duration     string   `toml:"duration"`
	Requests     int64    `toml:"requests"`
	Warmup       string   `toml:"warmup"`
	Timeout      string   `toml:"timeout"`
	SSE          bool     `toml:"sse"`
}

// TargetSpec is one [[targets]] entry.
type TargetSpec struct {
	Name string `toml:"name"`
	// Via is "megaflow" (through the megaflow instance), "mock" (straight
	// to Mock) or "nginx" (through an nginx reverse proxy to Mock, skipped
	// when nginx is not installed).
	Via  string `toml:"via"`
	Mock string `toml:"mock"`
	// Path overrides the load path for this target.
	Path string `toml:"path"`
}

// Load reads and validates a scenario file. Errors start with the file
// name and name the invalid key.
func Load(path string) (*Scenario, error) {
	s := &Scenario{}
	meta, err := toml.DecodeFile(path, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if undecoded := meta.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, 0, len(undecoded))
		for _, k := range undecoded {
			if !strings.Contains(k.String(), ".options.") {
				keys = append(keys, k.String())
			}
		}
		if len(keys) > 0 {
			return nil, fmt.Errorf("%s: unknown keys %s: check their spelling against the package scenario documentation", path, strings.Join(keys, ", "))
		}
	}
	s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if s.dir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Scenario) validate() error {
	for name, m := range s.Mocks {
		if !isMockKind(m.Kind) {
			return fmt.Errorf("mocks.%s: unknown kind %q: use one of %s", name, m.Kind, strings.Join(mock.Kinds(), ", "))
		}
	}
	if len(s.Targets) == 0 {
		s.Targets = []TargetSpec{{Name: "megaflow", Via: "megaflow"}}
	}
	seen := map[string]bool{}
	for i, t := range s.Targets {
		where := fmt.Sprintf("targets[%d]", i)
		if t.Name == "" {
			return fmt.Errorf("%s: missing name", where)
		}
		if seen[t.Name] {
			return fmt.Errorf("%s: target name %q appears twice", where, t.Name)
		}
		seen[t.Name] = true
		switch t.Via {
		case "megaflow":
			if s.Megaflow.Config == "" {
				return fmt.Errorf("%s: target %q goes via megaflow but [megaflow] has no config", where, t.Name)
			}
		case "mock", "nginx":
			if _, ok := s.Mocks[t.Mock]; !ok {
				return fmt.Errorf("%s: target %q names mock %q, which [mocks] does not define", where, t.Name, t.Mock)
			}
		default:
			return fmt.Errorf("%s: invalid via %q: use megaflow, mock or nginx", where, t.Via)
		}
	}
	_, err := s.LoadConfig()
	return err
}

func isMockKind(kind string) bool {
	for _, k := range mock.Kinds() {
		if k == kind {
			return true
		}
	}
	return false
}

// Target returns the target called name. An empty name selects the first
// target that goes via megaflow, or the first target if none does.
func (s *Scenario) Target(name string) (TargetSpec, error) {
	if name == "" {
		for _, t := range s.Targets {
			if t.Via == "megaflow" {
				return t, nil
			}
		}
		return s.Targets[0], nil
	}
	for _, t := range s.Targets {
		if t.Name == name {
			return t, nil
		}
	}
	names := make([]string, 0, len(s.Targets))
	for _, t := range s.Targets {
		names = append(names, t.Name)
	}
	return TargetSpec{}, fmt.Errorf("scenario %s has no target %q: use one of %s", s.Name, name, strings.Join(names, ", "))
}

// LoadConfig returns the load configuration of the [load] table, without a
// URL, which depends on the target.
func (s *Scenario) LoadConfig() (load.Config, error) {
	l := s.Load
	cfg := load.Config{
		Method:      l.Method,
		ContentType: l.ContentType,
		Connections: l.Connections,
		Rate:        l.Rate,
		Requests:    l.Requests,
		SSE:         l.SSE,
	}
	var err error
	if cfg.Duration, err = parseDuration("load.duration", l.Duration); err != nil {
		return cfg, err
	}
	if cfg.Warmup, err = parseDuration("load.warmup", l.Warmup); err != nil {
		return cfg, err
	}
	if cfg.Timeout, err = parseDuration("load.timeout", l.Timeout); err != nil {
		return cfg, err
	}
	for _, h := range l.Headers {
		header, err := load.ParseHeader(h)
		if err != nil {
			return cfg, fmt.Errorf("load.headers: %w", err)
		}
		cfg.Headers = append(cfg.Headers, header)
	}
	cfg.Body, err = s.body()
	return cfg, err
}

func (s *Scenario) body() (load.Body, error) {
	l := s.Load
	bodies := 0
	for _, set := range []bool{l.Body != "", l.BodyFile != "", l.BodySize > 0, l.BodyTemplate != ""} {
		if set {
			bodies++
		}
	}
	switch {
	case bodies > 1:
		return nil, errors.New("load: give at most one of body, body_file, body_size and body_template")
	case l.Body != "":
		return load.StaticBody(l.Body), nil
	case l.BodyFile != "":
		path := l.BodyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load.body_file: %w", err)
		}
		return load.StaticBody(data), nil
	case l.BodySize > 0:
		return load.SizedBody(l.BodySize), nil
	case l.BodyTemplate != "":
		t, err := load.ParseTemplate(l.BodyTemplate)
		if err != nil {
			return nil, fmt.Errorf("load.body_template: %w", err)
		}
		return t, nil
	}
	return nil, nil
}

func parseDuration(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid duration %q: write it with a unit, such as \"10s\" or \"500ms\"", key, s)
	}
	return d, nil
}

// mockArgs returns the command-line flags for a mock's options, sorted by
// name so that runs are reproducible.
func mockArgs(options map[string]any) []string {
	names := make([]string, 0, len(options))
	for name := range options {
		names = append(names, name)
	}
	sort.Strings(names)
	args := make([]string, 0, len(names))
	for _, name := range names {
		args = append(args, fmt.Sprintf("--%s=%v", name, options[name]))
	}
	return args
}
