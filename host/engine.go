package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
)

// EngineOptions configures an Engine.
type EngineOptions struct {
	// CacheDir is a directory where compiled plugin code is kept between
	// runs, so a restart skips compilation. Empty keeps compiled code in
	// memory only, for the life of the Engine.
	CacheDir string
	// Logger receives plugin output and instance replacements; nil means
	// slog.Default(). PluginOptions.Logger overrides it per plugin.
	Logger *slog.Logger
}

// Engine loads plugins and shares one compilation cache among them. It is
// safe for concurrent use. Close it to close every plugin it loaded.
type Engine struct {
	cache  wazero.CompilationCache
	logger *slog.Logger

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
	closed  bool
}

// NewEngine returns an Engine whose compilation cache lives in
// opts.CacheDir (created if missing) or in memory.
func NewEngine(ctx context.Context, opts EngineOptions) (*Engine, error) {
	e := &Engine{logger: opts.Logger, plugins: make(map[*Plugin]struct{})}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if opts.CacheDir == "" {
		e.cache = wazero.NewCompilationCache()
		return e, nil
	}
	cache, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("open plugin compilation cache %q: %w", opts.CacheDir, err)
	}
	e.cache = cache
	return e, nil
}

// Load reads the Wasm module at path and loads it as the plugin called
// name; see LoadBinary.
func (e *Engine) Load(ctx context.Context, name, path string, opts PluginOptions) (*Plugin, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: read module: %w", name, err)
	}
	return e.LoadBinary(ctx, name, wasm, opts)
}

// LoadBinary compiles wasm (or takes it from the cache), checks that it
// implements this host's ABI version, and starts opts.Instances instances,
// each initialized with opts.Config. The plugin is ready for calls when
// LoadBinary returns.
//
// # Errors
//
// LoadBinary fails when the module does not compile or exports no memory.
// It fails when the megaflow_abi_version or megaflow_buffer export is
// missing or has another signature, or the module implements another ABI
// version. It fails when the module needs more memory than opts.MaxMemory,
// or an instance fails to start or its init hook fails. The error names
// the plugin.
func (e *Engine) LoadBinary(ctx context.Context, name string, wasm []byte, opts PluginOptions) (*Plugin, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("plugin %q: engine is closed", name)
	}

	if opts.Logger == nil {
		opts.Logger = e.logger
	}
	p, err := newPlugin(ctx, e, name, wasm, opts)
	if err != nil {
		return nil, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		_ = p.close(ctx)
		return nil, fmt.Errorf("plugin %q: engine is closed", name)
	}
	e.plugins[p] = struct{}{}
	return p, nil
}

func (e *Engine) forget(p *Plugin) {
	e.mu.Lock()
	delete(e.plugins, p)
	e.mu.Unlock()
}

// Close closes every plugin still open (see Plugin.Close) and then the
// compilation cache. Compiled code already written to CacheDir stays there.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	plugins := make([]*Plugin, 0, len(e.plugins))
	for p := range e.plugins {
		plugins = append(plugins, p)
	}
	e.plugins = map[*Plugin]struct{}{}
	e.mu.Unlock()

	var errs []error
	for _, p := range plugins {
		errs = append(errs, p.close(ctx))
	}
	errs = append(errs, e.cache.Close(ctx))
	return errors.Join(errs...)
}
