package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults of PluginOptions.
const (
	DefaultMaxMemory = 128 << 20 // bytes
	DefaultMaxOutput = 64 << 20  // bytes
	wasmPageSize     = 64 << 10
)

// PluginOptions configures one plugin. The zero value is usable.
type PluginOptions struct {
	// MaxMemory is the most linear memory, in bytes, one instance may grow
	// to; it is rounded up to 64 KiB pages. Zero means DefaultMaxMemory.
	// An instance that needs more traps, which fails that call only.
	MaxMemory uint64
	// MemoryThreshold, in bytes: an instance whose memory has grown past
	// it after a call is replaced by a fresh one. Zero means three quarters
	// of MaxMemory.
	MemoryThreshold uint64
	// Timeout is the longest one call may run; past it the call fails and
	// the instance is replaced. Zero means no limit, and then a call cannot
	// be interrupted at all: wazero only compiles interruption checks into
	// plugins that have a timeout, because the checks slow loop-heavy code.
	Timeout time.Duration
	// Instances is the number of instances kept ready, which bounds the
	// plugin's concurrent calls; a call waits for a free instance until its
	// context ends. Zero means GOMAXPROCS.
	Instances int
	// MaxCalls replaces an instance after this many calls. Zero means
	// never, for this reason alone.
	MaxCalls uint64
	// MaxOutput is the most output, in bytes, one call may produce; more
	// fails the call. Zero means DefaultMaxOutput.
	MaxOutput int
	// Config is passed to the guest's init hook, usually as JSON. The
	// plugin keeps a reference; the caller must not modify it afterwards.
	Config []byte
	// Logger receives the guest's log calls, stdout and stderr (as
	// rate-limited lines with a "plugin" attribute) and instance
	// replacements. Nil means the Engine's logger.
	Logger *slog.Logger
}

// Plugin is one loaded Wasm module with its pool of instances. Its hook
// methods are safe for concurrent use; each call runs on one instance that
// no other call uses meanwhile.
type Plugin struct {
	name   string
	opts   PluginOptions
	engine *Engine
	logger *slog.Logger
	sink   *logSink // guest output
	events *logSink // the host's own log lines about this plugin

	runtime   wazero.Runtime
	compiled  wazero.CompiledModule
	modConfig wazero.ModuleConfig
	hooks     Hook

	idle       chan *instance // ready instances; capacity opts.Instances
	refill     chan struct{}  // one token per instance to create
	closing    chan struct{}  // closed by Close
	gone       chan struct{}  // signaled when an instance is destroyed after Close began
	refillDone chan struct{}
	closed     atomic.Bool
	live       atomic.Int64 // instances created and not yet destroyed

	stats pluginStats
}

type pluginStats struct {
	calls, failures, traps, timeouts, outOfMemory, protocol, unavailable, replaced atomic.Uint64
	startMemory, peakMemory                                                        atomic.Uint64
}

// notePeakMemory raises peakMemory to size if it is larger.
func (s *pluginStats) notePeakMemory(size uint64) {
	for {
		peak := s.peakMemory.Load()
		if size <= peak || s.peakMemory.CompareAndSwap(peak, size) {
			return
		}
	}
}

// Stats counts a plugin's calls and their outcomes since it was loaded.
type Stats struct {
	Calls       uint64 // hook calls that ran on an instance
	Failures    uint64 // calls the hook failed on purpose (KindFailed)
	Traps       uint64 // KindTrap
	Timeouts    uint64 // KindTimeout
	OutOfMemory uint64 // KindOutOfMemory
	Protocol    uint64 // KindProtocol
	Unavailable uint64 // KindUnavailable: no instance before the context ended
	Replaced    uint64 // instances closed and replaced by fresh ones
	Instances   int64  // instances alive now
	StartMemory uint64 // bytes of linear memory of the first instance after its init hook
	PeakMemory  uint64 // bytes: the largest linear memory any instance had after a call
}

func newPlugin(ctx context.Context, e *Engine, name string, wasm []byte, opts PluginOptions) (_ *Plugin, err error) {
	opts = resolveOptions(opts)
	p := &Plugin{
		name:       name,
		opts:       opts,
		engine:     e,
		logger:     opts.Logger.With(slog.String("plugin", name)),
		sink:       newLogSink(opts.Logger, name),
		events:     newLogSink(opts.Logger, name),
		idle:       make(chan *instance, opts.Instances),
		refill:     make(chan struct{}, opts.Instances),
		closing:    make(chan struct{}),
		gone:       make(chan struct{}, 1),
		refillDone: make(chan struct{}),
	}

	config := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(uint32(opts.MaxMemory / wasmPageSize)).
		WithCloseOnContextDone(opts.Timeout > 0)
	p.runtime = wazero.NewRuntimeWithConfig(ctx, config)
	defer func() {
		if err != nil {
			_ = p.runtime.Close(ctx)
		}
	}()

	if _, err = wasi_snapshot_preview1.Instantiate(ctx, p.runtime); err != nil {
		return nil, fmt.Errorf("plugin %q: instantiate WASI: %w", name, err)
	}
	if err = instantiateHostModule(ctx, p.runtime); err != nil {
		return nil, fmt.Errorf("plugin %q: instantiate host functions: %w", name, err)
	}
	if p.compiled, err = p.runtime.CompileModule(ctx, wasm); err != nil {
		return nil, fmt.Errorf("plugin %q: compile module: %w", name, err)
	}
	if err = checkExports(name, p.compiled); err != nil {
		return nil, err
	}

	// No filesystem, environment, arguments or sockets are configured, so
	// the guest has none. The clocks are real: Go guests pace their GC by
	// the monotonic clock, and wazero's default clocks are fake.
	p.modConfig = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(ExportInitialize).
		WithSysNanotime().
		WithSysWalltime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)

	if err = p.prewarm(ctx); err != nil {
		return nil, err
	}
	go p.refillLoop()
	return p, nil
}

func resolveOptions(opts PluginOptions) PluginOptions {
	if opts.MaxMemory == 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	opts.MaxMemory = (opts.MaxMemory + wasmPageSize - 1) / wasmPageSize * wasmPageSize
	if opts.MaxMemory > 1<<32 {
		opts.MaxMemory = 1 << 32
	}
	if opts.MemoryThreshold == 0 || opts.MemoryThreshold > opts.MaxMemory {
		opts.MemoryThreshold = opts.MaxMemory / 4 * 3
	}
	if opts.Instances <= 0 {
		opts.Instances = goruntime.GOMAXPROCS(0)
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts
}

// prewarm starts every instance, learning the plugin's hooks from the first.
func (p *Plugin) prewarm(ctx context.Context) error {
	for i := 0; i < p.opts.Instances; i++ {
		inst, err := p.newInstance(ctx)
		if err != nil {
			p.closeIdle(ctx)
			return err
		}
		if i == 0 {
			p.stats.startMemory.Store(uint64(inst.memory.Size()))
			if p.hooks, err = inst.declaredHooks(); err != nil {
				p.destroy(ctx, inst)
				return fmt.Errorf("plugin %q: %w", p.name, err)
			}
		}
		p.idle <- inst
	}
	return nil
}

func (p *Plugin) closeIdle(ctx context.Context) {
	for {
		select {
		case inst := <-p.idle:
			p.destroy(ctx, inst)
		default:
			return
		}
	}
}

// checkExports checks the ABI exports' presence and signatures before any
// instance starts.
func checkExports(name string, compiled wazero.CompiledModule) error {
	exports := compiled.ExportedFunctions()
	version, ok := exports[ExportABIVersion]
	if !ok {
		return fmt.Errorf("plugin %q: module does not export %s, so it was not built for this host, which implements ABI version %d; rebuild the plugin with a megaflow guest SDK",
			name, ExportABIVersion, ABIVersion)
	}
	if err := checkSignature(name, version, nil, []api.ValueType{api.ValueTypeI32}); err != nil {
		return err
	}
	i32 := api.ValueTypeI32
	want := map[string][]api.ValueType{
		ExportBuffer:    {i32},
		ExportHooks:     {},
		ExportInit:      {i32},
		ExportRequest:   {i32, i32},
		ExportResponse:  {i32},
		ExportEvent:     {i32},
		ExportAggregate: {i32, i32},
		ExportRoute:     {i32, i32, i32},
	}
	if _, ok := exports[ExportBuffer]; !ok {
		return fmt.Errorf("plugin %q: module does not export %s, which ABI version %d requires", name, ExportBuffer, ABIVersion)
	}
	for export, params := range want {
		def, ok := exports[export]
		if !ok {
			continue
		}
		if err := checkSignature(name, def, params, []api.ValueType{i32}); err != nil {
			return err
		}
	}
	if len(compiled.ExportedMemories()) == 0 {
		return fmt.Errorf("plugin %q: module exports no memory, which ABI version %d requires", name, ABIVersion)
	}
	return nil
}

func checkSignature(name string, def api.FunctionDefinition, params, results []api.ValueType) error {
	if equalTypes(def.ParamTypes(), params) && equalTypes(def.ResultTypes(), results) {
		return nil
	}
	return fmt.Errorf("plugin %q: export %s has signature %s, ABI version %d requires %s",
		name, def.ExportNames()[0], signature(def.ParamTypes(), def.ResultTypes()), ABIVersion, signature(params, results))
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func signature(params, results []api.ValueType) string {
	s := "("
	for i, t := range params {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(t)
	}
	s += ") -> ("
	for i, t := range results {
		if i > 0 {
			s += ", "
		}
		s += api.ValueTypeName(t)
	}
	return s + ")"
}

// logEvent logs a line about the plugin, rate-limited like guest output,
// because a guest that fails every call would otherwise log every call.
func (p *Plugin) logEvent(level slog.Level, msg string, attrs ...slog.Attr) {
	ok, dropped := p.events.allow()
	if !ok {
		return
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Uint64("dropped_lines", dropped))
	}
	p.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// Name returns the name the plugin was loaded under.
func (p *Plugin) Name() string { return p.name }

// Hooks returns the set of hooks the plugin implements.
func (p *Plugin) Hooks() Hook { return p.hooks }

// Has reports whether the plugin implements hook.
func (p *Plugin) Has(hook Hook) bool { return p.hooks&hook != 0 }

// Stats returns the plugin's counters; it is safe to call at any time.
func (p *Plugin) Stats() Stats {
	s := &p.stats
	return Stats{
		Calls:       s.calls.Load(),
		Failures:    s.failures.Load(),
		Traps:       s.traps.Load(),
		Timeouts:    s.timeouts.Load(),
		OutOfMemory: s.outOfMemory.Load(),
		Protocol:    s.protocol.Load(),
		Unavailable: s.unavailable.Load(),
		Replaced:    s.replaced.Load(),
		Instances:   p.live.Load(),
		StartMemory: s.startMemory.Load(),
		PeakMemory:  s.peakMemory.Load(),
	}
}

// acquire takes a free instance, waiting until one is released, ctx ends
// or the plugin is closed. The caller defers abandonOnPanic and ends the
// call with finish.
func (p *Plugin) acquire(ctx context.Context, hook Hook) (*instance, error) {
	if p.hooks&hook == 0 {
		return nil, &Error{Plugin: p.name, Hook: hook, Kind: KindUnavailable, Status: 500,
			Message: "the plugin does not implement this hook"}
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case <-ctx.Done():
		p.stats.unavailable.Add(1)
		return nil, &Error{Plugin: p.name, Hook: hook, Kind: KindUnavailable, Status: 503,
			Message: "no free instance before the request ended", Err: ctx.Err()}
	case <-p.closing:
		p.stats.unavailable.Add(1)
		return nil, &Error{Plugin: p.name, Hook: hook, Kind: KindUnavailable, Status: 503,
			Message: "the plugin is closed"}
	}
}

// abandonOnPanic replaces inst when the hook call that holds it panics
// before finish sets *finished. The panic goes on to the caller's recover,
// and the pool keeps its size.
func (p *Plugin) abandonOnPanic(inst *instance, finished *bool) {
	if *finished {
		return
	}
	inst.end()
	inst.dst, inst.req = nil, nil
	p.logEvent(slog.LevelError, "host panic during a plugin call; replacing the instance")
	p.release(inst, true)
}

// release returns inst to the pool, or replaces it when it failed or is
// due for replacement.
func (p *Plugin) release(inst *instance, replace bool) {
	if !replace && !p.closed.Load() {
		p.idle <- inst // cannot block: live never exceeds opts.Instances, the channel's capacity
		return
	}
	p.destroy(context.Background(), inst)
	if !p.closed.Load() {
		p.stats.replaced.Add(1)
		p.refill <- struct{}{} // cannot block: one token per destroyed instance, at most opts.Instances
	}
}

func (p *Plugin) destroy(ctx context.Context, inst *instance) {
	_ = inst.module.Close(ctx)
	p.live.Add(-1)
	if p.closed.Load() {
		select {
		case p.gone <- struct{}{}:
		default:
		}
	}
}

// refillLoop starts a fresh instance for each one that release destroyed,
// retrying with backoff while instantiation fails.
func (p *Plugin) refillLoop() {
	defer close(p.refillDone)
	for {
		select {
		case <-p.closing:
			return
		case <-p.refill:
		}
		backoff := 10 * time.Millisecond
		for {
			inst, err := p.newInstance(context.Background())
			if err == nil {
				p.release(inst, false)
				break
			}
			p.logEvent(slog.LevelError, "plugin instance failed to start; retrying", slog.Any("error", err), slog.Duration("retry_in", backoff))
			select {
			case <-p.closing:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// Close stops the plugin: calls waiting for an instance fail, every idle
// instance is closed at once, and each busy instance as its call returns.
// Close waits for that until ctx ends, then closes the wazero runtime,
// which frees the plugin's compiled code and memory. Close is idempotent.
func (p *Plugin) Close(ctx context.Context) error {
	err := p.close(ctx)
	p.engine.forget(p)
	return err
}

func (p *Plugin) close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	close(p.closing)
	<-p.refillDone

	var err error
wait:
	for p.live.Load() > 0 {
		select {
		case inst := <-p.idle:
			p.destroy(ctx, inst)
		case <-p.gone:
		case <-ctx.Done():
			err = fmt.Errorf("plugin %q: closed with %d instances still running a call: %w", p.name, p.live.Load(), ctx.Err())
			break wait
		}
	}
	return errors.Join(err, p.runtime.Close(ctx))
}
