package conformance_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/megaflow/megaflow/host"
)

// BenchmarkSDK compares the reference plugin of every language through the
// host: the cost of loading it with one and with nine instances, a call
// that does nothing, and a 1 KiB transform. The load cases also report the
// module's size.
//
//	go test -run '^$' -bench BenchmarkSDK -benchmem ./guest-sdk/conformance/
func BenchmarkSDK(b *testing.B) {
	for _, ref := range references {
		b.Run(ref.lang, func(b *testing.B) {
			wasm, err := os.ReadFile(ref.path)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("load-1", func(b *testing.B) { benchmarkLoad(b, wasm, 1) })
			b.Run("load-9", func(b *testing.B) { benchmarkLoad(b, wasm, 9) })
			b.Run("noop", func(b *testing.B) { benchmarkNoop(b, wasm) })
			b.Run("transform-1KiB", func(b *testing.B) { benchmarkTransform(b, wasm) })
		})
	}
}

// benchmarkLoad times loading the plugin with n instances and closing it
// again, with its compiled code already in the engine's cache. Each load
// creates the plugin's wazero runtime and its host modules, then each
// instance runs the reactor's _initialize and the init hook. The cost of
// one more instance is the difference between two values of n.
func benchmarkLoad(b *testing.B, wasm []byte, n int) {
	ctx := context.Background()
	e := newEngine(b)
	opts := host.PluginOptions{Instances: n, Config: []byte(`{"prefix":""}`), Logger: discardLogger()}
	warm, err := e.LoadBinary(ctx, "warm", wasm, opts)
	if err != nil {
		b.Fatal(err)
	}
	_ = warm.Close(ctx)
	b.ReportAllocs()
	for b.Loop() {
		p, err := e.LoadBinary(ctx, "bench", wasm, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(wasm)), "module-bytes")
}

// benchmarkNoop times an event hook call that returns unchanged.
func benchmarkNoop(b *testing.B, wasm []byte) {
	ctx := context.Background()
	p := loadBench(b, wasm)
	event := []byte("data: [DONE]\n\n")
	dst := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Event(ctx, event, dst[:0])
		if err != nil || len(out) != len(event) {
			b.Fatalf("Event = %q, %v", out, err)
		}
	}
}

// benchmarkTransform times the response hook upper-casing 1 KiB.
func benchmarkTransform(b *testing.B, wasm []byte) {
	ctx := context.Background()
	p := loadBench(b, wasm)
	input := bytes.Repeat([]byte("megaflow "), 1024/9+1)[:1024]
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		out, changed, err := p.Response(ctx, input, dst[:0])
		if err != nil || !changed || len(out) != len(input) {
			b.Fatalf("Response = %d bytes, %v, %v", len(out), changed, err)
		}
	}
}

func loadBench(b *testing.B, wasm []byte) *host.Plugin {
	b.Helper()
	e := newEngine(b)
	p, err := e.LoadBinary(context.Background(), "bench", wasm, host.PluginOptions{Instances: 1, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}
