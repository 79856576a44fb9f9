package scenario

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Env configures how a scenario starts its processes.
type Env struct {
	// Executable is the megaflow binary, run as "megaflow mock" for each
	// mock and "megaflow serve" for the megaflow instance.
	Executable string
	// Log receives one line per process started. Nil prints nothing.
	Log io.Writer
	// StartTimeout bounds the wait for each process's port. Zero means 15 s.
	StartTimeout time.Duration
}

// Running is a started scenario. Close stops every process it started.
type Running struct {
	scenario *Scenario
	env      Env
	dir      string
	procs    []*process

	mockAddrs    map[string]string
	megaflowAddr string
	nginxAddrs   map[string]string // by mock name

	// Skipped lists targets that could not start, with the reason, such
	// as nginx missing.
	Skipped map[string]string
	// keepLogs is set by Check when a process exited, so that Close
	// leaves its log in place.
	keepLogs bool
}

// Start starts the processes that targets need: every mock, megaflow if a
// target goes via megaflow and one nginx per mock that a target reaches via
// nginx. An nginx target is skipped, and listed in Skipped, when nginx is not
// installed. On error, everything already started is stopped.
func (s *Scenario) Start(env Env, targets []TargetSpec) (*Running, error) {
	if env.StartTimeout == 0 {
		env.StartTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp("", "megaflow-scenario-"+s.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("create the scenario's temporary directory: %w", err)
	}
	r := &Running{
		scenario:   s,
		env:        env,
		dir:        dir,
		mockAddrs:  map[string]string{},
		nginxAddrs: map[string]string{},
		Skipped:    map[string]string{},
	}
	if err := r.start(targets); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Running) start(targets []TargetSpec) error {
	if err := r.startMocks(); err != nil {
		return err
	}
	for _, t := range targets {
		switch t.Via {
		case "megaflow":
			if r.megaflowAddr == "" {
				if err := r.startMegaflow(); err != nil {
					return err
				}
			}
		case "nginx":
			if _, ok := r.nginxAddrs[t.Mock]; ok {
				continue
			}
			err := r.startNginx(t.Mock)
			if errors.Is(err, errNginxMissing) {
				r.Skipped[t.Name] = err.Error()
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Running) startMocks() error {
	names := make([]string, 0, len(r.scenario.Mocks))
	for name := range r.scenario.Mocks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		spec := r.scenario.Mocks[name]
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		args := append([]string{"mock", spec.Kind, "--listen", addr}, mockArgs(spec.Options)...)
		if err := r.run("mock-"+name, addr, r.env.Executable, args...); err != nil {
			return err
		}
		r.mockAddrs[name] = addr
	}
	return nil
}

func (r *Running) startMegaflow() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	admin, err := freeAddr()
	if err != nil {
		return err
	}
	config, err := r.megaflowConfig(addr, admin)
	if err != nil {
		return err
	}
	path := filepath.Join(r.dir, "megaflow.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return fmt.Errorf("write megaflow's configuration: %w", err)
	}
	if err := r.run("megaflow", addr, r.env.Executable, "serve", "--config", path, "--listen", addr); err != nil {
		return err
	}
	r.megaflowAddr = addr
	return nil
}

// megaflowConfig fills the placeholders of the [megaflow] config. The error
// names a placeholder left unfilled.
func (r *Running) megaflowConfig(listen, admin string) (string, error) {
	pairs := []string{"{{listen}}", listen, "{{admin}}", admin, "{{scenario_dir}}", r.scenario.dir}
	for name, addr := range r.mockAddrs {
		pairs = append(pairs, "{{mock."+name+"}}", addr)
	}
	config := strings.NewReplacer(pairs...).Replace(r.scenario.Megaflow.Config)
	// Other {{...}} text, such as a template plugin's {{path}}, belongs to
	// megaflow and stays as it is.
	if unknown := mockPlaceholder.FindString(config); unknown != "" {
		return "", fmt.Errorf("scenario %s: [megaflow] config names %s, but [mocks] defines no such mock", r.scenario.Name, unknown)
	}
	return config, nil
}

var mockPlaceholder = regexp.MustCompile(`\{\{mock\.[^}]*\}\}`)

// run starts a process and waits until addr accepts connections.
func (r *Running) run(name, addr, path string, args ...string) error {
	p, err := startProcess(name, r.dir, path, args...)
	if err != nil {
		return err
	}
	r.procs = append(r.procs, p)
	if err := p.waitForPort(addr, r.env.StartTimeout); err != nil {
		return fmt.Errorf("scenario %s: %w", r.scenario.Name, err)
	}
	if r.env.Log != nil {
		fmt.Fprintf(r.env.Log, "started %s on %s (pid %d)\n", name, addr, p.cmd.Process.Pid)
	}
	return nil
}

// URL returns the URL that target t loads, or an error when t was skipped
// or not started.
func (r *Running) URL(t TargetSpec) (string, error) {
	path := t.Path
	if path == "" {
		path = r.scenario.Load.Path
	}
	if path == "" {
		path = "/"
	}
	var addr string
	switch t.Via {
	case "megaflow":
		addr = r.megaflowAddr
	case "mock":
		addr = r.mockAddrs[t.Mock]
	case "nginx":
		addr = r.nginxAddrs[t.Mock]
	}
	if reason, ok := r.Skipped[t.Name]; ok {
		return "", fmt.Errorf("target %s skipped: %s", t.Name, reason)
	}
	if addr == "" {
		return "", fmt.Errorf("target %s was not started", t.Name)
	}
	return "http://" + addr + path, nil
}

// Check returns an error naming the first started process that has exited,
// with the end of its log, or nil while all of them run. Call it after a
// load run: a process that died mid-run turns its errors into a crash
// report instead of a figure.
func (r *Running) Check() error {
	for _, p := range r.procs {
		select {
		case <-p.exited:
			r.keepLogs = true
			return fmt.Errorf("scenario %s: %s (pid %d) exited during the run (%v); its log, kept in %s, ends with:\n%s",
				r.scenario.Name, p.name, p.cmd.Process.Pid, p.waitErr, r.dir, p.logTail())
		default:
		}
	}
	return nil
}

// Close stops every process in the reverse order of starting. It removes
// the temporary directory with the generated configurations and logs,
// unless Check found a process that had exited.
func (r *Running) Close() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop()
	}
	if r.keepLogs {
		if r.env.Log != nil {
			fmt.Fprintf(r.env.Log, "kept the scenario's configurations and logs in %s\n", r.dir)
		}
		return
	}
	os.RemoveAll(r.dir)
}

// nginxPath returns the nginx binary on PATH or in /usr/sbin, which is not
// on every user's PATH.
func nginxPath() (string, error) {
	if path, err := exec.LookPath("nginx"); err == nil {
		return path, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errNginxMissing
}
