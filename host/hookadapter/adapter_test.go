package hookadapter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/host/hookadapter"
	"github.com/megaflow/megaflow/runtime"
)

// The tests run the hand-written reference guest of the host tests; its
// behaviour is described in ../testdata/wat/reference.wat.
const reference = "../testdata/wat/reference.wasm"

func newHooks(t testing.TB, opts hookadapter.Options) *hookadapter.Hooks {
	t.Helper()
	ctx := context.Background()
	e, err := host.NewEngine(ctx, host.EngineOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(ctx) })
	p, err := e.Load(ctx, "reference", reference, host.PluginOptions{Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	return hookadapter.New(p, opts)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestShapeRequest(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "embedding"})
	call := &runtime.Call{Node: "embedding", Input: []byte("hello")}
	call.SetHeader([]byte("x-in"), []byte("1"))

	if err := h.ShapeRequest(testContext(t), call); err != nil {
		t.Fatal(err)
	}
	want := host.AppendHeader([]byte("hello"), []byte("x-in"), []byte("1"))
	if string(call.Input) != string(want) {
		t.Errorf("Input = %q, want %q (the body and the header block the guest received)", call.Input, want)
	}
	if got := call.Header([]byte("x-abi")); string(got) != "v1" {
		t.Errorf("header x-abi = %q, want v1", got)
	}
}

func TestShapeRequestShortCircuit(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "embedding"})
	call := &runtime.Call{Node: "embedding", Input: []byte("stop")}
	if err := h.ShapeRequest(testContext(t), call); err != nil {
		t.Fatal(err)
	}
	if call.Status != 203 || string(call.Output) != "short" {
		t.Errorf("Status, Output = %d, %q; want 203, \"short\"", call.Status, call.Output)
	}
}

func TestShapeRequestFailureIsWrapped(t *testing.T) {
	var gotNode string
	h := newHooks(t, hookadapter.Options{Node: "embedding", WrapError: func(node string, err *host.Error) error {
		gotNode = node
		return fmt.Errorf("node %s: %w", node, err)
	}})
	call := &runtime.Call{Node: "embedding"}
	err := h.ShapeRequest(testContext(t), call)
	var e *host.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Message != "empty body" {
		t.Fatalf("error = %v, want the guest's 400 \"empty body\" wrapped", err)
	}
	if gotNode != "embedding" {
		t.Errorf("WrapError got node %q, want embedding", gotNode)
	}
}

func TestShapeResponse(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "llm"})
	call := &runtime.Call{Node: "llm"}
	call.SetOutput([]byte("answer"))
	if err := h.ShapeResponse(testContext(t), call); err != nil {
		t.Fatal(err)
	}
	if string(call.Output) != "[answer]" {
		t.Errorf("Output = %q, want \"[answer]\"", call.Output)
	}

	empty := &runtime.Call{Node: "llm"}
	if err := h.ShapeResponse(testContext(t), empty); err != nil {
		t.Fatal(err)
	}
	if len(empty.Output) != 0 {
		t.Errorf("unchanged empty output became %q", empty.Output)
	}
}

func TestShapeEvent(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "llm"})
	got, err := h.ShapeEvent(testContext(t), []byte("tok"), []byte("prev|"))
	if err != nil || string(got) != "prev|[tok]" {
		t.Errorf("ShapeEvent = %q, %v; want \"prev|[tok]\"", got, err)
	}
}

func TestAggregate(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "llm"})
	inputs := []runtime.NamedInput{
		{Name: "rerank", Data: []byte("r"), ContentType: []byte("text/plain")},
		{Name: "web", Data: []byte("w")},
	}
	got, err := h.Aggregate(testContext(t), inputs, nil)
	if err != nil || string(got) != "rerank:text/plain=r;web:=w;" {
		t.Errorf("Aggregate = %q, %v", got, err)
	}
}

func TestRoute(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "rerank"})
	selected := []bool{true, true}
	if err := h.Route(testContext(t), []byte("llm"), []string{"web", "llm"}, selected); err != nil {
		t.Fatal(err)
	}
	if selected[0] || !selected[1] {
		t.Errorf("selected = %v, want only llm", selected)
	}
}

// BenchmarkShapeResponseNoop times the adapter around a response hook that
// leaves the output unchanged.
func BenchmarkShapeResponseNoop(b *testing.B) {
	h := newHooks(b, hookadapter.Options{Node: "llm"})
	call := &runtime.Call{Node: "llm"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ShapeResponse(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShapeRequest times the adapter around a request hook that
// replaces the input and sets a header. Each iteration starts from a new
// runtime.Call, because only the runtime can reset one. The Call's first
// SetInput and SetHeader allocate, and those are the allocations reported.
func BenchmarkShapeRequest(b *testing.B) {
	h := newHooks(b, hookadapter.Options{Node: "embedding"})
	ctx := context.Background()
	body := []byte(`{"messages":[{"role":"user","content":"What is OPEA?"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		call := &runtime.Call{Node: "embedding", Input: body}
		if err := h.ShapeRequest(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCallsCountedInMetrics(t *testing.T) {
	h := newHooks(t, hookadapter.Options{Node: "metered"})
	ctx := testContext(t)
	for _, body := range []string{"one", "two", ""} {
		call := &runtime.Call{Node: "metered", Input: []byte(body)}
		_ = h.ShapeRequest(ctx, call)
	}
	ok := metrics.GetOrCreateCounter(`megaflow_plugin_calls_total{plugin="reference",node="metered",hook="request",outcome="ok"}`).Get()
	failed := metrics.GetOrCreateCounter(`megaflow_plugin_calls_total{plugin="reference",node="metered",hook="request",outcome="failed"}`).Get()
	if ok != 2 || failed != 1 {
		t.Errorf("counted %d ok and %d failed request hook calls, want 2 and 1", ok, failed)
	}
}
