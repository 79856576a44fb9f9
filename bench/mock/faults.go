package mock

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// faults applies the latency, error and stall options to a handler.
type faults struct {
	opts Options
	// firstRequest and stallEnd are Unix nanoseconds, zero until set. Both
	// are set once, with compare-and-swap, by whichever request gets there
	// first.
	firstRequest atomic.Int64
	stallEnd     atomic.Int64
}

func newFaults(opts Options) *faults { return &faults{opts: opts} }

func (f *faults) wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if f.opts.Latency == 0 && f.opts.LatencyMax == 0 && f.opts.ErrorRate == 0 && f.opts.Stall == 0 {
		return next
	}
	return func(ctx *fasthttp.RequestCtx) {
		f.waitStall()
		if d := f.latency(); d > 0 {
			time.Sleep(d)
		}
		if f.opts.ErrorRate > 0 && rand.Float64() < f.opts.ErrorRate {
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"error":"injected failure: the mock's error rate option is set"}`)
			return
		}
		next(ctx)
	}
}

// waitStall starts the one stall once StallAfter has passed since the first
// request, and holds every request that arrives during the stall until it
// ends.
func (f *faults) waitStall() {
	if f.opts.Stall == 0 {
		return
	}
	now := time.Now().UnixNano()
	f.firstRequest.CompareAndSwap(0, now)
	end := f.stallEnd.Load()
	if end == 0 && now-f.firstRequest.Load() >= int64(f.opts.StallAfter) {
		f.stallEnd.CompareAndSwap(0, now+int64(f.opts.Stall))
		end = f.stallEnd.Load()
	}
	if end > now {
		time.Sleep(time.Duration(end - now))
	}
}

func (f *faults) latency() time.Duration {
	lo, hi := f.opts.Latency, f.opts.LatencyMax
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}
