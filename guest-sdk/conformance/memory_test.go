package conformance_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
)

// TestMemoryFlat checks that the SDKs reuse their buffers: after a warm-up,
// thousands more calls of every hook do not grow an instance's memory. It
// matters most for AssemblyScript, whose stub runtime never frees.
func TestMemoryFlat(t *testing.T) {
	const warmup, calls = 200, 3000
	for _, ref := range references {
		if ref.lang == "go" {
			continue // Go's garbage collector sizes the heap by its own pacing
		}
		t.Run(ref.lang, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e := newEngine(t)
			l, err := load(ctx, e, ref, []byte(`{"prefix":">"}`))
			if err != nil {
				t.Fatal(err)
			}
			p := l.plugin
			for i := 0; i < warmup; i++ {
				callEveryHook(t, ctx, p)
			}
			before := p.Stats().PeakMemory
			for i := 0; i < calls; i++ {
				callEveryHook(t, ctx, p)
			}
			if after := p.Stats().PeakMemory; after != before {
				t.Errorf("memory grew from %d to %d bytes over %d calls of each hook", before, after, calls)
			}
		})
	}
}

var (
	memoryBody    = bytes.Repeat([]byte("megaflow "), 1024/9+1)[:1024]
	memoryHeaders = host.AppendHeader(host.AppendHeader(nil, []byte("content-type"), []byte("text/plain")), []byte("x-drop-me"), []byte("1"))
	memoryInputs  = []host.Input{{Name: "a", Data: memoryBody}, {Name: "b", ContentType: []byte("text/plain"), Data: []byte("x")}}
	memoryNames   = []string{"a", "b", "c"}
)

func callEveryHook(t *testing.T, ctx context.Context, p *host.Plugin) {
	var out host.RequestOutput
	if err := p.Request(ctx, memoryBody, memoryHeaders, &out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Response(ctx, memoryBody, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Event(ctx, []byte("data: x\n\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Aggregate(ctx, memoryInputs, nil); err != nil {
		t.Fatal(err)
	}
	selected := make([]bool, len(memoryNames))
	if err := p.Route(ctx, []byte("c,a"), memoryNames, selected); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Response(ctx, []byte("error:x"), nil); err == nil {
		t.Fatal("Response(error:x) succeeded; want a failure")
	}
}
