package load

import (
	"bufio"
	"time"

	"github.com/valyala/fasthttp"
)

// worker owns one connection's request and response objects.
type worker struct {
	r      *runner
	shard  *shard
	req    *fasthttp.Request
	resp   *fasthttp.Response
	body   []byte
	reader *bufio.Reader // SSE only
	out    outcome
	// timer paces the open loop. It is stopped whenever claim returns.
	timer *time.Timer
	// sampledStatus contains the error status codes whose body this
	// worker has already copied into a sample.
	sampledStatus map[int]bool
}

func newWorker(r *runner, s *shard) *worker {
	w := &worker{r: r, shard: s, req: &fasthttp.Request{}, resp: &fasthttp.Response{}, timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	cfg := &r.cfg
	w.req.SetRequestURI(cfg.URL)
	w.req.Header.SetMethod(cfg.Method)
	if cfg.Body != nil {
		w.req.Header.SetContentType(cfg.ContentType)
		if cfg.Body.Static() {
			w.req.SetBodyRaw(cfg.Body.AppendBody(nil, 0))
		}
	}
	if cfg.SSE {
		w.req.Header.Set("Accept", "text/event-stream")
		w.reader = bufio.NewReaderSize(nil, 64<<10)
	}
	for _, h := range cfg.Headers {
		w.req.Header.Set(h.Name, h.Value)
	}
	return w
}

func (w *worker) loop() {
	for {
		seq, scheduled, measured, ok := w.r.claim(w.timer)
		if !ok {
			return
		}
		w.send(seq, scheduled, measured)
		if measured {
			w.shard.record(&w.out)
		}
	}
}

// send performs request seq and fills w.out. Latency runs from scheduled.
// Only measured requests contribute error body samples, because the others
// are never recorded.
func (w *worker) send(seq uint64, scheduled time.Time, measured bool) {
	cfg := &w.r.cfg
	if cfg.Body != nil && !cfg.Body.Static() {
		w.body = cfg.Body.AppendBody(w.body[:0], seq)
		w.req.SetBodyRaw(w.body)
	}
	w.out = outcome{gaps: w.out.gaps[:0]}
	err := w.r.client.DoTimeout(w.req, w.resp, cfg.Timeout)
	if err != nil {
		w.out.err = err
		return
	}
	w.out.status = w.resp.StatusCode()
	if w.out.status >= 400 {
		// An error response is not an event stream, even in SSE mode.
		w.readErrorBody(measured)
		w.out.latency = time.Since(scheduled)
		return
	}
	if cfg.SSE {
		w.readEvents(scheduled)
	} else {
		w.out.bytes = len(w.resp.Body())
	}
	w.out.latency = time.Since(scheduled)
}

// readErrorBody reads an error response's body, streamed or not. For the
// first measured response with each status code on this connection, it
// keeps the first 300 bytes for the report.
func (w *worker) readErrorBody(measured bool) {
	body := w.resp.Body() // reads and closes a streamed body too
	w.out.bytes = len(body)
	if !measured || w.sampledStatus[w.out.status] {
		return
	}
	if w.sampledStatus == nil {
		w.sampledStatus = map[int]bool{}
	}
	w.sampledStatus[w.out.status] = true
	w.out.errorBody = string(body[:min(len(body), 300)])
}
