package host_test

import (
	"bytes"
	"context"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
)

// BenchmarkNoopCall times one hook call through the pool that does
// nothing: the event hook returns unchanged on a one-byte event.
func BenchmarkNoopCall(b *testing.B) {
	cases := []struct {
		name, module string
		opts         host.PluginOptions
	}{
		{"wat", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1}},
		{"go", guests["transform"], host.PluginOptions{Instances: 1}},
		{"go-with-timeout", guests["transform"], host.PluginOptions{Instances: 1, Timeout: time.Second}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b)
			p := load(b, e, "noop", c.module, c.opts)
			ctx := context.Background()
			event := []byte("k")
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				out, err := p.Event(ctx, event, dst[:0])
				if err != nil || len(out) != 1 {
					b.Fatalf("Event = %q, %v", out, err)
				}
			}
		})
	}
}

// BenchmarkTransform32K times a loop-heavy call (upper-casing 32 KiB in a
// Go guest) without and with a timeout, which is what the cost of
// wazero's interruption checks depends on.
func BenchmarkTransform32K(b *testing.B) {
	for _, timeout := range []time.Duration{0, time.Second} {
		name := "no-timeout"
		if timeout > 0 {
			name = "timeout"
		}
		b.Run(name, func(b *testing.B) {
			e := newEngine(b)
			p := load(b, e, "transform", guests["transform"], host.PluginOptions{Instances: 1, Timeout: timeout, Config: []byte("upper")})
			ctx := context.Background()
			input := bytes.Repeat([]byte("megaflow "), 32<<10/9+1)[:32<<10]
			dst := make([]byte, 0, 64<<10)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := p.Response(ctx, input, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONTransform1K times the bundled json_pick plugin selecting
// and renaming three fields of a 1 KiB OpenAI chat request.
func BenchmarkJSONTransform1K(b *testing.B) {
	e := newEngine(b)
	p := load(b, e, "json_pick", guests["json_pick"], host.PluginOptions{
		Instances: 1,
		Config:    []byte(`{"fields":{"query":"messages.-1.content","model":"model","k":"top_k"},"defaults":{"k":4}}`),
	})
	input := chatRequest1K()
	ctx := context.Background()
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		out, changed, err := p.Response(ctx, input, dst[:0])
		if err != nil || !changed || len(out) == 0 {
			b.Fatalf("Response = %q, %v, %v", out, changed, err)
		}
	}
}

// chatRequest1K returns an OpenAI chat request of exactly 1024 bytes.
func chatRequest1K() []byte {
	head := `{"model":"Intel/neural-chat-7b-v3-3","stream":true,"max_tokens":256,"messages":[` +
		`{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"`
	tail := `"}]}`
	question := bytes.Repeat([]byte("What is OPEA? "), 1024/14+1)[:1024-len(head)-len(tail)]
	return append(append([]byte(head), question...), tail...)
}

// BenchmarkLoad times loading a plugin with one instance and closing it:
// "compile" compiles the module each time, "cached" takes the compiled
// code from a compilation cache directory, as a restart does.
func BenchmarkLoad(b *testing.B) {
	modules := []struct{ name, path string }{
		{"wat", "testdata/wat/reference.wasm"},
		{"go", guests["transform"]},
	}
	for _, m := range modules {
		for _, cached := range []bool{false, true} {
			name := m.name + "-compile"
			if cached {
				name = m.name + "-cached"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				shared := newEngine(b) // writes to the shared cache directory once
				load(b, shared, "warm", m.path, host.PluginOptions{Instances: 1})
				b.ReportAllocs()
				for b.Loop() {
					opts := host.EngineOptions{Logger: discardLogger()}
					if cached {
						opts.CacheDir = cacheDir
					}
					e, err := host.NewEngine(ctx, opts)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := e.Load(ctx, "load", m.path, host.PluginOptions{Instances: 1}); err != nil {
						b.Fatal(err)
					}
					if err := e.Close(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNoopCallParallel times no-op hook calls from 32 goroutines per
// CPU, as a server under load makes them, through pools of one and four
// instances per CPU: with fewer instances than callers, callers queue for
// instances.
func BenchmarkNoopCallParallel(b *testing.B) {
	for _, perCPU := range []int{1, 4} {
		b.Run(fmt.Sprintf("instances-%dx", perCPU), func(b *testing.B) {
			e := newEngine(b)
			p := load(b, e, "noop", guests["transform"], host.PluginOptions{Instances: perCPU * goruntime.GOMAXPROCS(0)})
			ctx := context.Background()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				event := []byte("k")
				dst := make([]byte, 0, 64)
				for pb.Next() {
					if _, err := p.Event(ctx, event, dst[:0]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
