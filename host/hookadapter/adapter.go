// Package hookadapter adapts plugins of the Wasm plugin host to the node
// hook interfaces of the runtime package, so that the runtime never
// depends on the plugin ABI and the host never depends on the runtime.
package hookadapter

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/runtime"
)

// Options configures Hooks.
type Options struct {
	// Node is the name of the node the hooks run for; it is passed to
	// WrapError.
	Node string
	// WrapError turns a plugin failure into the error the runtime reports
	// to the client (typically a *runtime.Error with the error's Status,
	// Message and Plugin, and Node). Nil returns the *host.Error itself.
	WrapError func(node string, err *host.Error) error
}

// Hooks runs one plugin as the hooks of one node. It implements every hook
// interface of the runtime package; assign it only to the hooks the
// plugin implements (see host.Plugin.Has). It counts every call in the
// megaflow_plugin_calls_total{plugin, node, hook, outcome} counter of the
// default VictoriaMetrics set, which the admin server's /metrics exports.
// It is safe for concurrent use.
type Hooks struct {
	plugin  *host.Plugin
	opts    Options
	metrics *callMetrics
	scratch sync.Pool // of *scratch: buffers, never plugin instances
}

var (
	_ runtime.RequestShaper  = (*Hooks)(nil)
	_ runtime.ResponseShaper = (*Hooks)(nil)
	_ runtime.EventShaper    = (*Hooks)(nil)
	_ runtime.Aggregator     = (*Hooks)(nil)
	_ runtime.Router         = (*Hooks)(nil)
)

// scratch holds one call's reusable buffers.
type scratch struct {
	headers []byte
	request host.RequestOutput
	output  []byte
	inputs  []host.Input
}

func (s *scratch) appendHeader(name, value []byte) {
	s.headers = host.AppendHeader(s.headers, name, value)
}

// maxKeptBuffer is the largest buffer returned to the pool; larger ones
// are left to the garbage collector so one huge body does not stay pinned.
const maxKeptBuffer = 1 << 20

// New returns the hooks that run p for opts.Node.
func New(p *host.Plugin, opts Options) *Hooks {
	h := &Hooks{plugin: p, opts: opts, metrics: newCallMetrics(p.Name(), opts.Node)}
	h.scratch.New = func() any { return new(scratch) }
	return h
}

func (h *Hooks) get() *scratch { return h.scratch.Get().(*scratch) }

func (h *Hooks) put(s *scratch) {
	if cap(s.headers) > maxKeptBuffer || cap(s.output) > maxKeptBuffer || cap(s.request.Body) > maxKeptBuffer {
		return
	}
	h.scratch.Put(s)
}

// done counts the call and turns its error, if any, into the runtime's.
func (h *Hooks) done(hook host.Hook, err error, start time.Time) error {
	h.metrics.count(hook, err)
	h.metrics.observe(hook, time.Since(start))
	if err == nil {
		return nil
	}
	var e *host.Error
	if h.opts.WrapError != nil && errors.As(err, &e) {
		return h.opts.WrapError(h.opts.Node, e)
	}
	return err
}

// ShapeRequest runs the plugin's request hook on call.Input and the
// headers set on call so far, then applies the result: header edits, then
// a short-circuit response or a new input.
func (h *Hooks) ShapeRequest(ctx context.Context, call *runtime.Call) error {
	start := time.Now()
	s := h.get()
	defer h.put(s)
	s.headers = s.headers[:0]
	call.VisitHeaders(s.appendHeader)
	if err := h.plugin.Request(ctx, call.Input, s.headers, &s.request); err != nil {
		return h.done(host.HookRequest, err, start)
	}
	h.done(host.HookRequest, nil, start)
	for _, edit := range s.request.Headers {
		if edit.Delete {
			call.DeleteHeader(edit.Name)
		} else {
			call.SetHeader(edit.Name, edit.Value)
		}
	}
	switch {
	case s.request.Status != 0:
		call.ShortCircuit(s.request.Status, s.request.Body)
	case s.request.Changed:
		call.SetInput(s.request.Body)
	}
	return nil
}

// ShapeResponse runs the plugin's response hook on call.Output and sets
// the new output when the plugin changed it.
func (h *Hooks) ShapeResponse(ctx context.Context, call *runtime.Call) error {
	start := time.Now()
	s := h.get()
	defer h.put(s)
	out, changed, err := h.plugin.Response(ctx, call.Output, s.output[:0])
	s.output = out[:0]
	if err := h.done(host.HookResponse, err, start); err != nil {
		return err
	}
	if changed {
		call.SetOutput(out)
	}
	return nil
}

// ShapeEvent runs the plugin's event hook on one server-sent event.
func (h *Hooks) ShapeEvent(ctx context.Context, event []byte, dst []byte) ([]byte, error) {
	start := time.Now()
	out, err := h.plugin.Event(ctx, event, dst)
	return out, h.done(host.HookEvent, err, start)
}

// Aggregate runs the plugin's aggregate hook on the predecessors' outputs.
func (h *Hooks) Aggregate(ctx context.Context, inputs []runtime.NamedInput, dst []byte) ([]byte, error) {
	start := time.Now()
	s := h.get()
	defer h.put(s)
	for _, in := range inputs {
		s.inputs = append(s.inputs, host.Input{Name: in.Name, Data: in.Data, ContentType: in.ContentType})
	}
	out, err := h.plugin.Aggregate(ctx, s.inputs, dst)
	clear(s.inputs) // drop references to the request's buffers
	s.inputs = s.inputs[:0]
	return out, h.done(host.HookAggregate, err, start)
}

// Route runs the plugin's route hook on the node's output.
func (h *Hooks) Route(ctx context.Context, output []byte, successors []string, selected []bool) error {
	start := time.Now()
	return h.done(host.HookRoute, h.plugin.Route(ctx, output, successors, selected), start)
}
