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
}

func newWorker(r *runner, s *shard) *worker {
	w := &worker{r: r, shard: s, req: &fasthttp.Request{}, resp: &fasthttp.Response{}}
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
		seq, scheduled, measured, ok := w.r.claim()
		if !ok {
			return
		}
		w.send(seq, scheduled)
		if measured {
			w.shard.record(&w.out)
		}
	}
}

// send performs request seq and fills w.out. Latency runs from scheduled.
func (w *worker) send(seq uint64, scheduled time.Time) {
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
	if cfg.SSE {
		w.readEvents(scheduled)
	} else {
		w.out.bytes = len(w.resp.Body())
	}
	w.out.latency = time.Since(scheduled)
}
