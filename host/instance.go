package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// minBufferSize is the smallest input buffer the host requests, so small
// inputs of growing size do not each cost a megaflow_buffer call.
const minBufferSize = 4 << 10

// instance is one instantiated guest with its exports looked up once. It
// runs one call at a time; the pool hands it to one goroutine at a time.
type instance struct {
	plugin *Plugin
	module api.Module
	memory api.Memory

	buffer, request, response, event, aggregate, route api.Function

	stack  []uint64 // params and results of every call; sized for the widest export
	bufPtr uint32   // guest input buffer from megaflow_buffer
	bufCap uint32
	calls  uint64

	// ctx is the context of the current guest call. Without a timeout it
	// points to base, which is reused. With one, each call gets its own,
	// because wazero's interruption goroutine may still read it after the
	// call returns.
	ctx    context.Context
	base   callContext
	cancel context.CancelFunc // of the per-call timeout context, if any

	// Per-call state, written by the host functions.
	dst   []byte         // output so far
	req   *RequestOutput // request hook only
	fault *Error         // ABI violation found by a host function
}

// callContext is the context every guest call runs with. Host functions
// find their instance through it; without a timeout this costs no
// allocation per call. Deadline, Done and Err come from the parent.
type callContext struct {
	context.Context
	inst *instance
}

type instanceKey struct{}

func (c *callContext) Value(key any) any {
	if key == (instanceKey{}) {
		return c.inst
	}
	return c.Context.Value(key)
}

func instanceFrom(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	if inst == nil {
		panic("megaflow host function called outside a plugin call")
	}
	return inst
}

// newInstance instantiates the module, checks its ABI version and runs its
// init hook with the plugin's config.
func (p *Plugin) newInstance(ctx context.Context) (_ *instance, err error) {
	inst := &instance{plugin: p, stack: make([]uint64, 3)}
	inst.base = callContext{Context: context.Background(), inst: inst}
	inst.ctx = &inst.base
	config := p.modConfig.
		WithStdout(&lineWriter{sink: p.sink, stream: "stdout", level: slog.LevelInfo}).
		WithStderr(&lineWriter{sink: p.sink, stream: "stderr", level: slog.LevelWarn})

	startCtx := context.Context(&callContext{Context: ctx, inst: inst})
	if p.opts.Timeout > 0 {
		// Starting a Go guest takes milliseconds, far more than a typical
		// call timeout, so instantiation has its own bound.
		timeoutCtx, cancel := context.WithTimeout(ctx, 10*time.Second+p.opts.Timeout)
		defer cancel()
		startCtx = &callContext{Context: timeoutCtx, inst: inst}
	}
	module, err := p.runtime.InstantiateModule(startCtx, p.compiled, config)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: start instance: %w", p.name, err)
	}
	p.live.Add(1)
	inst.module = module
	defer func() {
		if err != nil {
			p.destroy(ctx, inst)
		}
	}()

	inst.memory = module.Memory()
	inst.buffer = module.ExportedFunction(ExportBuffer)
	inst.request = module.ExportedFunction(ExportRequest)
	inst.response = module.ExportedFunction(ExportResponse)
	inst.event = module.ExportedFunction(ExportEvent)
	inst.aggregate = module.ExportedFunction(ExportAggregate)
	inst.route = module.ExportedFunction(ExportRoute)

	if err = inst.checkVersion(ctx); err != nil {
		return nil, err
	}
	if err = inst.init(ctx, p.opts.Config); err != nil {
		return nil, err
	}
	return inst, nil
}

func (inst *instance) checkVersion(ctx context.Context) error {
	inst.begin(ctx)
	defer inst.end()
	if err := inst.module.ExportedFunction(ExportABIVersion).CallWithStack(inst.ctx, inst.stack); err != nil {
		return fmt.Errorf("plugin %q: call %s: %w", inst.plugin.name, ExportABIVersion, err)
	}
	if v := int32(inst.stack[0]); v != ABIVersion {
		return fmt.Errorf("plugin %q: module implements ABI version %d, but this host implements ABI version %d; rebuild the plugin with a guest SDK for version %d",
			inst.plugin.name, v, ABIVersion, ABIVersion)
	}
	return nil
}

func (inst *instance) init(ctx context.Context, config []byte) error {
	fn := inst.module.ExportedFunction(ExportInit)
	if fn == nil {
		return nil
	}
	inst.begin(ctx)
	defer inst.end()
	if err := inst.write(config); err != nil {
		return err
	}
	inst.stack[0] = uint64(len(config))
	status, err := inst.invoke(0, fn)
	if err == nil {
		err = inst.statusError(0, status, 0)
	}
	inst.dst = nil
	return err
}

// declaredHooks returns the hooks from the optional megaflow_hooks export,
// or else the hook functions the module exports.
func (inst *instance) declaredHooks() (Hook, error) {
	var exported Hook
	for _, h := range hookExports {
		if inst.module.ExportedFunction(h.name) != nil {
			exported |= h.hook
		}
	}
	fn := inst.module.ExportedFunction(ExportHooks)
	if fn == nil {
		return exported, nil
	}
	inst.begin(context.Background())
	defer inst.end()
	if err := fn.CallWithStack(inst.ctx, inst.stack); err != nil {
		return 0, fmt.Errorf("call %s: %w", ExportHooks, err)
	}
	declared := Hook(uint32(inst.stack[0]))
	if missing := declared &^ exported; missing != 0 {
		return 0, fmt.Errorf("%s declares hooks %#x that the module does not export", ExportHooks, uint32(missing))
	}
	return declared, nil
}

// begin prepares the per-call context: a timeout when configured, and
// nothing allocated otherwise.
func (inst *instance) begin(ctx context.Context) {
	p := inst.plugin
	if p.opts.Timeout > 0 {
		var timeoutCtx context.Context
		timeoutCtx, inst.cancel = context.WithTimeout(ctx, p.opts.Timeout)
		inst.ctx = &callContext{Context: timeoutCtx, inst: inst}
		return
	}
	// Without a timeout the call cannot be interrupted, so the request's
	// context is not needed, and base's empty one makes wazero's context
	// lookups cheaper.
	inst.ctx = &inst.base
}

func (inst *instance) end() {
	if inst.cancel != nil {
		inst.cancel()
		inst.cancel = nil
	}
	inst.ctx = &inst.base
	inst.fault = nil
}

// write copies input into the guest's buffer, asking the guest for a
// larger buffer first when needed.
func (inst *instance) write(input []byte) error {
	if len(input) == 0 {
		return nil
	}
	view, err := inst.input(len(input))
	if err != nil {
		return err
	}
	copy(view, input)
	return nil
}

// input returns a view of n bytes of the guest's buffer for the host to
// fill. The view is valid until the guest runs again.
func (inst *instance) input(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if uint64(n) > math.MaxUint32 {
		return nil, inst.errorf(KindProtocol, 413, "input of %d bytes exceeds the 4 GiB ABI limit", n)
	}
	if uint32(n) > inst.bufCap {
		if err := inst.growBuffer(uint32(n)); err != nil {
			return nil, err
		}
	}
	view, ok := inst.memory.Read(inst.bufPtr, uint32(n))
	if !ok {
		return nil, inst.errorf(KindProtocol, 500, "%s returned address %#x, and %d bytes there are out of memory bounds", ExportBuffer, inst.bufPtr, n)
	}
	return view, nil
}

func (inst *instance) growBuffer(n uint32) error {
	size := uint64(max(n, minBufferSize))
	size = min(uint64(1)<<bitsLen(size-1), math.MaxUint32)
	inst.stack[0] = size
	status, err := inst.invoke(0, inst.buffer)
	if err != nil {
		return err
	}
	if status == 0 {
		return inst.errorf(KindOutOfMemory, 500, "%s could not allocate %d bytes", ExportBuffer, size)
	}
	inst.bufPtr, inst.bufCap = status, uint32(size)
	return nil
}

func bitsLen(x uint64) uint {
	n := uint(0)
	for x != 0 {
		x >>= 1
		n++
	}
	return n
}

// invoke calls fn with the params in inst.stack and returns its i32
// result. Any error is an *Error, and the instance must then be replaced.
func (inst *instance) invoke(hook Hook, fn api.Function) (uint32, error) {
	err := fn.CallWithStack(inst.ctx, inst.stack)
	if err == nil {
		return uint32(inst.stack[0]), nil
	}
	if inst.fault != nil {
		inst.fault.Hook = hook
		inst.fault.Err = err
		return 0, inst.fault
	}
	return 0, inst.classify(hook, err)
}

// classify turns a failed guest call into an *Error.
func (inst *instance) classify(hook Hook, err error) *Error {
	p := inst.plugin
	e := &Error{Plugin: p.name, Hook: hook, Kind: KindTrap, Status: 500, Err: err}
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		e.Kind, e.Message = KindTimeout, fmt.Sprintf("the call ran past the %s timeout", p.opts.Timeout)
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		e.Kind, e.Message = KindTimeout, "the request was canceled during the call"
	// NOTE: wazero does not report a failed memory.grow, so this infers
	// it: Go guests grow their heap in arenas of up to 4 MiB and exit when
	// growth fails, which leaves the memory within 4 MiB of the limit.
	case uint64(inst.memory.Size())+4<<20 > p.opts.MaxMemory:
		e.Kind = KindOutOfMemory
		e.Message = fmt.Sprintf("the guest stopped with its memory at %d of %d bytes", inst.memory.Size(), p.opts.MaxMemory)
	case errors.As(err, &exit):
		e.Message = fmt.Sprintf("the guest exited with code %d", exit.ExitCode())
	default:
		e.Message = "the guest trapped: " + firstLine(err.Error())
	}
	return e
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func (inst *instance) errorf(kind ErrorKind, status int, format string, args ...any) *Error {
	return &Error{Plugin: inst.plugin.name, Kind: kind, Status: status, Message: fmt.Sprintf(format, args...)}
}

// statusError interprets a hook's status for hooks other than request.
// The output from start on is the failure message.
func (inst *instance) statusError(hook Hook, status uint32, start int) error {
	switch s := int32(status); {
	case s == StatusOK || s == StatusUnchanged:
		return nil
	case s >= 400 && s <= 599:
		e := inst.errorf(KindFailed, int(s), "%s", inst.dst[start:])
		e.Hook = hook
		return e
	default:
		e := inst.errorf(KindProtocol, 500, "the hook returned status %d, which ABI version %d does not define", s, ABIVersion)
		e.Hook = hook
		return e
	}
}

// finish accounts for a finished call and returns the instance to the
// pool, replacing it when the call broke it or it is due for replacement.
func (p *Plugin) finish(inst *instance, err error) {
	inst.end()
	inst.dst, inst.req = nil, nil
	inst.calls++
	p.stats.calls.Add(1)
	memory := uint64(inst.memory.Size())
	p.stats.notePeakMemory(memory)

	replace := false
	switch errorKindOf(err) {
	case 0:
	case KindFailed:
		p.stats.failures.Add(1)
	case KindTimeout:
		p.stats.timeouts.Add(1)
		replace = true
	case KindOutOfMemory:
		p.stats.outOfMemory.Add(1)
		replace = true
	case KindProtocol:
		p.stats.protocol.Add(1)
		replace = true
	default:
		p.stats.traps.Add(1)
		replace = true
	}
	if replace {
		p.logEvent(slog.LevelWarn, "plugin call failed; replacing the instance", slog.Any("error", err))
	} else if p.opts.MaxCalls > 0 && inst.calls >= p.opts.MaxCalls {
		replace = true
	} else if memory > p.opts.MemoryThreshold {
		p.logEvent(slog.LevelInfo, "plugin instance memory passed the threshold; replacing the instance",
			slog.Uint64("memory_bytes", memory), slog.Uint64("threshold_bytes", p.opts.MemoryThreshold))
		replace = true
	}
	p.release(inst, replace)
}
