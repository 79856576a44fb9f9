package host_test

import (
	"bytes"
	"testing"

	"github.com/megaflow/megaflow/host"
)

// TestGoGuestMemoryFlat runs 100,000 calls of a Go guest that allocates a
// fresh 32 KiB output on each, and checks that the guest's garbage
// collector keeps its linear memory bounded. Without collection the calls
// would need 3.2 GB. With it the peak is usually under twice the starting
// size, but a host stalled mid-run once let it reach ten times that
// (32 MB), so the bound is sixteen times the start.
func TestGoGuestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 calls take seconds")
	}
	e := newEngine(t)
	p := load(t, e, "transform", guests["transform"], host.PluginOptions{Instances: 1})
	ctx := testContext(t)

	input := bytes.Repeat([]byte("megaflow "), 32<<10/9+1)[:32<<10]
	want := append(append([]byte("<"), input...), '>')
	var dst []byte
	for i := range 100_000 {
		out, changed, err := p.Response(ctx, input, dst[:0])
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if i%10_000 == 0 && (!changed || !bytes.Equal(out, want)) {
			t.Fatalf("call %d returned %d bytes, want the input in angle brackets", i, len(out))
		}
		dst = out
	}

	s := p.Stats()
	if s.Replaced != 0 {
		t.Fatalf("the instance was replaced %d times, so its memory was not measured over all calls", s.Replaced)
	}
	t.Logf("guest memory: %d bytes at start, %d bytes at peak", s.StartMemory, s.PeakMemory)
	if s.PeakMemory >= 16*s.StartMemory {
		t.Errorf("guest memory peaked at %d bytes, not under sixteen times its starting %d bytes", s.PeakMemory, s.StartMemory)
	}
}
