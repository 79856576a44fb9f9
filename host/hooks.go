package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// HeaderEdit is one change a request hook made to the outgoing headers.
type HeaderEdit struct {
	Name   []byte
	Value  []byte // empty when Delete is set
	Delete bool   // remove every header called Name; otherwise set it to Value
}

// RequestOutput is the result of a request hook. Reuse one across calls to
// avoid allocation: Request resets it and appends to its buffers.
type RequestOutput struct {
	// Changed reports that Body is the node's new input. When false and
	// Status is zero, the input passes through unchanged.
	Changed bool
	// Status, when nonzero (200 to 399), is the status of the response the
	// caller sends, with Body, in place of calling the node's service.
	Status int
	// Body is the new input or the short-circuit response body.
	Body []byte
	// Headers are the hook's header edits, in the order it made them, to
	// apply to the outgoing request (or to the short-circuit response).
	Headers []HeaderEdit

	buf []byte // storage behind Headers
}

// Reset empties o, keeping its buffers.
func (o *RequestOutput) Reset() {
	o.Changed, o.Status = false, 0
	o.Body = o.Body[:0]
	o.Headers = o.Headers[:0]
	o.buf = o.buf[:0]
}

func (o *RequestOutput) addEdit(name, value []byte, del bool) {
	// Earlier edits keep pointing into the old array if append moves buf;
	// that array is never written again, so they stay valid.
	start := len(o.buf)
	o.buf = append(o.buf, name...)
	o.buf = append(o.buf, value...)
	o.Headers = append(o.Headers, HeaderEdit{
		Name:   o.buf[start : start+len(name) : start+len(name)],
		Value:  o.buf[start+len(name) : len(o.buf) : len(o.buf)],
		Delete: del,
	})
}

// Request runs the request hook on body and headers, a header block
// built with AppendHeader. The result is in out, which Request resets.
//
// # Errors
//
// Every error is an *Error. A KindFailed error carries the status and
// message the hook chose; the other kinds mean the instance was replaced.
func (p *Plugin) Request(ctx context.Context, body, headers []byte, out *RequestOutput) error {
	out.Reset()
	inst, err := p.acquire(ctx, HookRequest)
	if err != nil {
		return err
	}
	finished := false
	defer p.abandonOnPanic(inst, &finished)
	inst.begin(ctx)
	inst.req = out
	inst.dst = out.Body
	status, err := p.run2(inst, HookRequest, inst.request, body, headers)
	out.Body = inst.dst
	if err == nil {
		err = inst.requestStatus(status, out)
	}
	if err != nil {
		out.Reset()
	}
	p.finish(inst, err)
	finished = true
	return err
}

func (inst *instance) requestStatus(status uint32, out *RequestOutput) error {
	switch s := int32(status); {
	case s == StatusOK:
		out.Changed = true
	case s == StatusUnchanged:
	case s >= 200 && s <= 399:
		out.Status = int(s)
	default:
		return inst.statusError(HookRequest, status, 0)
	}
	return nil
}

// Response runs the response hook on a node's output. When changed is
// true the new output was appended to dst and returned; otherwise the
// output stays as it was and dst is returned unchanged.
func (p *Plugin) Response(ctx context.Context, output, dst []byte) (result []byte, changed bool, err error) {
	inst, err := p.acquire(ctx, HookResponse)
	if err != nil {
		return dst, false, err
	}
	finished := false
	defer p.abandonOnPanic(inst, &finished)
	inst.begin(ctx)
	start := len(dst)
	inst.dst = dst
	status, err := p.run1(inst, HookResponse, inst.response, output)
	if err == nil {
		err = inst.statusError(HookResponse, status, start)
	}
	result = inst.dst[:start]
	if err == nil && int32(status) == StatusOK {
		result, changed = inst.dst, true
	}
	p.finish(inst, err)
	finished = true
	return result, changed, err
}

// Event runs the response hook's per-event form on one server-sent event
// and appends the new event to dst: the event itself when the hook leaves
// it unchanged, nothing when the hook drops it.
func (p *Plugin) Event(ctx context.Context, event, dst []byte) ([]byte, error) {
	inst, err := p.acquire(ctx, HookEvent)
	if err != nil {
		return dst, err
	}
	finished := false
	defer p.abandonOnPanic(inst, &finished)
	inst.begin(ctx)
	start := len(dst)
	inst.dst = dst
	status, err := p.run1(inst, HookEvent, inst.event, event)
	if err == nil {
		err = inst.statusError(HookEvent, status, start)
	}
	result := inst.dst
	switch {
	case err != nil:
		result = result[:start]
	case int32(status) == StatusUnchanged:
		result = append(result[:start], event...)
	}
	p.finish(inst, err)
	finished = true
	return result, err
}

// Input is one named input of an aggregate call: a predecessor's output.
type Input struct {
	Name        string
	Data        []byte
	ContentType []byte // empty when unknown
}

// Aggregate runs the aggregate hook on inputs and appends the combined
// output to dst.
func (p *Plugin) Aggregate(ctx context.Context, inputs []Input, dst []byte) ([]byte, error) {
	inst, err := p.acquire(ctx, HookAggregate)
	if err != nil {
		return dst, err
	}
	finished := false
	defer p.abandonOnPanic(inst, &finished)
	inst.begin(ctx)
	start := len(dst)
	inst.dst = dst
	status, err := p.runAggregate(inst, inputs)
	if err == nil {
		err = inst.statusError(HookAggregate, status, start)
	}
	if err == nil && int32(status) == StatusUnchanged {
		err = inst.errorf(KindProtocol, 500, "the aggregate hook returned status %d (unchanged), which has no meaning for it", StatusUnchanged)
		err.(*Error).Hook = HookAggregate
	}
	result := inst.dst
	if err != nil {
		result = result[:start]
	}
	p.finish(inst, err)
	finished = true
	return result, err
}

func (p *Plugin) runAggregate(inst *instance, inputs []Input) (uint32, error) {
	n := 0
	for i := range inputs {
		n += 12 + len(inputs[i].Name) + len(inputs[i].ContentType) + len(inputs[i].Data)
	}
	view, err := inst.input(n)
	if err != nil {
		return 0, withHook(err, HookAggregate)
	}
	batch := view[:0]
	for i := range inputs {
		batch = AppendFrameString(batch, inputs[i].Name)
		batch = AppendFrame(batch, inputs[i].ContentType)
		batch = AppendFrame(batch, inputs[i].Data)
	}
	inst.stack[0], inst.stack[1] = uint64(len(inputs)), uint64(n)
	status, err := inst.invoke(HookAggregate, inst.aggregate)
	return status, err
}

// Route runs the route hook on a node's output. selected has one entry
// per successor; Route sets it true for the successors the hook named and
// false for the rest, or true for all when the hook returns unchanged.
// On error selected is left as it was.
func (p *Plugin) Route(ctx context.Context, output []byte, successors []string, selected []bool) error {
	if len(selected) != len(successors) {
		return fmt.Errorf("plugin %q: route: %d successors but %d selected flags", p.name, len(successors), len(selected))
	}
	inst, err := p.acquire(ctx, HookRoute)
	if err != nil {
		return err
	}
	finished := false
	defer p.abandonOnPanic(inst, &finished)
	inst.begin(ctx)
	status, err := p.runRoute(inst, output, successors)
	if err == nil {
		err = inst.statusError(HookRoute, status, 0)
	}
	if err == nil && int32(status) == StatusOK {
		err = inst.selectNamed(successors, selected)
	} else if err == nil {
		for i := range selected {
			selected[i] = true
		}
	}
	p.finish(inst, err)
	finished = true
	return err
}

func (p *Plugin) runRoute(inst *instance, output []byte, successors []string) (uint32, error) {
	n := len(output)
	for _, s := range successors {
		n += 4 + len(s)
	}
	view, err := inst.input(n)
	if err != nil {
		return 0, withHook(err, HookRoute)
	}
	copy(view, output)
	names := view[len(output):len(output)]
	for _, s := range successors {
		names = AppendFrameString(names, s)
	}
	inst.stack[0], inst.stack[1], inst.stack[2] = uint64(len(output)), uint64(n-len(output)), uint64(len(successors))
	return inst.invoke(HookRoute, inst.route)
}

// selectNamed sets selected from the hook's output, a list of name frames.
func (inst *instance) selectNamed(successors []string, selected []bool) error {
	picked := inst.dst
	for i := range selected {
		selected[i] = false
	}
	for len(picked) > 0 {
		name, rest, ok := NextFrame(picked)
		if !ok {
			clear(selected)
			return withHook(inst.errorf(KindProtocol, 500, "the route hook's output is not a list of name frames"), HookRoute)
		}
		found := false
		for i, s := range successors {
			if s == string(name) {
				selected[i], found = true, true
			}
		}
		if !found {
			clear(selected)
			return withHook(inst.errorf(KindFailed, 500, "the route hook selected %q, which is not a successor", name), HookRoute)
		}
		picked = rest
	}
	return nil
}

// run1 copies one input into the guest and calls fn(len).
func (p *Plugin) run1(inst *instance, hook Hook, fn api.Function, input []byte) (uint32, error) {
	if err := inst.write(input); err != nil {
		return 0, withHook(err, hook)
	}
	inst.stack[0] = uint64(len(input))
	return inst.invoke(hook, fn)
}

// run2 copies two inputs back to back into the guest and calls
// fn(len(a), len(b)).
func (p *Plugin) run2(inst *instance, hook Hook, fn api.Function, a, b []byte) (uint32, error) {
	view, err := inst.input(len(a) + len(b))
	if err != nil {
		return 0, withHook(err, hook)
	}
	copy(view, a)
	copy(view[len(a):], b)
	inst.stack[0], inst.stack[1] = uint64(len(a)), uint64(len(b))
	return inst.invoke(hook, fn)
}

func withHook(err error, hook Hook) error {
	var e *Error
	if errors.As(err, &e) {
		e.Hook = hook
	}
	return err
}
