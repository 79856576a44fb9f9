package host

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// instantiateHostModule provides the functions guests import from the
// "megaflow" module. Each finds its instance through the call's context.
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := r.NewHostModuleBuilder(ImportModule)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostOutput), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").Export("output")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostSetHeader), []api.ValueType{i32, i32, i32, i32}, nil).
		WithParameterNames("name_ptr", "name_len", "value_ptr", "value_len").Export("set_header")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostDeleteHeader), []api.ValueType{i32, i32}, nil).
		WithParameterNames("name_ptr", "name_len").Export("delete_header")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").Export("log")
	_, err := b.Instantiate(ctx)
	return err
}

// abort stops the guest call: wazero turns the panic into the call's
// error, and invoke reports inst.fault in its place.
func (inst *instance) abort(fault *Error) {
	inst.fault = fault
	panic(fault)
}

// guestBytes returns a view of guest memory, aborting the call when the
// range is out of bounds.
func (inst *instance) guestBytes(function string, ptr, n uint32) []byte {
	view, ok := inst.memory.Read(ptr, n)
	if !ok {
		inst.abort(inst.errorf(KindProtocol, 500, "%s: %d bytes at address %#x are out of memory bounds (memory is %d bytes)",
			function, n, ptr, inst.memory.Size()))
	}
	return view
}

// hostOutput appends guest bytes to the call's output.
func hostOutput(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	view := inst.guestBytes("output", uint32(stack[0]), uint32(stack[1]))
	if len(inst.dst)+len(view) > inst.plugin.opts.MaxOutput {
		inst.abort(inst.errorf(KindProtocol, 500, "output exceeds the %d-byte limit", inst.plugin.opts.MaxOutput))
	}
	inst.dst = append(inst.dst, view...)
}

func hostSetHeader(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	if inst.req == nil {
		inst.abort(inst.errorf(KindProtocol, 500, "set_header called outside the request hook"))
	}
	name := inst.guestBytes("set_header", uint32(stack[0]), uint32(stack[1]))
	value := inst.guestBytes("set_header", uint32(stack[2]), uint32(stack[3]))
	inst.req.addEdit(name, value, false)
}

func hostDeleteHeader(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	if inst.req == nil {
		inst.abort(inst.errorf(KindProtocol, 500, "delete_header called outside the request hook"))
	}
	name := inst.guestBytes("delete_header", uint32(stack[0]), uint32(stack[1]))
	inst.req.addEdit(name, nil, true)
}

// hostLog logs a guest message at a log/slog level (-4 debug, 0 info,
// 4 warn, 8 error), rate-limited with the plugin's other output.
func hostLog(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceFrom(ctx)
	msg := inst.guestBytes("log", uint32(stack[1]), uint32(stack[2]))
	inst.plugin.sink.log(slog.Level(int32(stack[0])), "log", msg)
}
