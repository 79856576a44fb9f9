package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Server is the megaservice's HTTP ingress: it maps each request to a flow
// of the current Snapshot, runs it and responds with the flow's output, its
// event stream, or a JSON error.
type Server struct {
	// Version is reported by /v1/health_check. Set it before Serve; empty
	// means "dev".
	Version string

	snap     atomic.Pointer[Snapshot]
	log      *slog.Logger
	errLog   *errorLogLimiter
	srv      *fasthttp.Server
	inFlight atomic.Int64
}

// NewServer returns a server for snap. A nil logger means slog.Default().
func NewServer(snap *Snapshot, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{log: logger, errLog: newErrorLogLimiter(logger, 10*time.Second)}
	s.snap.Store(snap)
	set := snap.Settings()
	s.srv = &fasthttp.Server{
		Handler:               s.Handle,
		ErrorHandler:          s.handleParseError,
		Name:                  "megaflow",
		MaxRequestBodySize:    set.MaxBodyBytes,
		ReadBufferSize:        set.MaxHeaderBytes,
		ReadTimeout:           set.ReadTimeout,
		WriteTimeout:          set.WriteTimeout,
		IdleTimeout:           set.IdleTimeout,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		// Handle reads the clock itself, so fasthttp's own reading of the
		// request time before each handler call would be a second one.
		LazyRequestTime: true,
		Logger:          fasthttpLogger{logger},
	}
	return s
}

// Snapshot returns the snapshot being served.
func (s *Server) Snapshot() *Snapshot { return s.snap.Load() }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for in-flight requests
// and streams until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

var (
	headerRequestID   = []byte("X-Request-Id")
	headerTraceparent = []byte("Traceparent")
	headerDebug       = []byte("X-Megaflow-Debug")
	headerGraph       = []byte("X-Megaflow-Graph")
	headerPartial     = []byte("X-Megaflow-Partial")
	debugGraph        = []byte("graph")
	pathHealthCheck   = []byte("/v1/health_check")
)

// request is the handler's state of one request while it is served. Handle
// takes it from requestPool and puts it back when it returns, so a request
// allocates nothing here. A streamed response continues on a copy.
type request struct {
	snap   *Snapshot // held until the request ends
	start  time.Time
	id     []byte
	route  *routeMetrics
	api    RouteAPI
	state  APIState // of api, when there is one
	status int
	bytes  int
	// idBuf backs id, and traceBuf a traceparent the server generates.
	idBuf    [maxRequestIDLen]byte
	traceBuf [55]byte
}

var requestPool = sync.Pool{New: func() any { return new(request) }}

// Handle serves one request. It is the fasthttp handler of the server and
// may be mounted on another fasthttp server.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	// The request comes from a pool because escape analysis moves a local
	// one and its buffers to the heap, which cost three allocations.
	req := requestPool.Get().(*request)
	*req = request{snap: s.acquireSnapshot(), start: time.Now(), route: unmatchedRoute}
	req.id = requestIDOf(ctx, req.idBuf[:0])
	defer func() {
		// fasthttp does not recover a handler's panic, so one bug would
		// end the process and every request on it.
		if v := recover(); v != nil {
			s.log.Error("panic while serving a request", "request_id", string(req.id), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.Response.Header.SetBytesKV(headerRequestID, req.id)
			s.writeError(ctx, req, &Error{Status: fasthttp.StatusInternalServerError, Message: "internal error"})
		}
		requestPool.Put(req)
	}()
	ctx.Response.Header.SetBytesKV(headerRequestID, req.id)
	megaservice.pending.Inc()
	streaming := s.serve(ctx, req)
	if !streaming {
		s.done(ctx, req)
	}
}

// serve responds to the request and reports whether the response is a stream,
// in which case the stream's writer ends the request.
func (s *Server) serve(ctx *fasthttp.RequestCtx, req *request) (streaming bool) {
	snap := req.snap
	route, k := snap.lookup(ctx.Method(), ctx.Path())
	switch {
	case route == nil && ctx.IsGet() && bytes.Equal(ctx.Path(), pathHealthCheck):
		writeHealthCheck(ctx, s.Version)
		return false
	case route == nil:
		s.writeError(ctx, req, &Error{Status: fasthttp.StatusNotFound, Message: "no route for this path"})
		return false
	case k < 0:
		ctx.Response.Header.Set("Allow", route.allow)
		s.writeError(ctx, req, &Error{Status: fasthttp.StatusMethodNotAllowed, Message: "method not allowed; allowed: " + route.allow})
		return false
	}
	req.route = route.metrics[k]
	for _, g := range route.guards[k] {
		if e := g.Check(ctx); e != nil {
			s.writeError(ctx, req, e)
			return false
		}
	}
	set := snap.settings
	if len(ctx.Request.Body()) > set.MaxBodyBytes {
		// The listener's own limit is the one set at start; a reload may
		// have lowered it.
		s.writeError(ctx, req, &Error{Status: fasthttp.StatusRequestEntityTooLarge, Message: "request body is larger than server.max_body_bytes (" + strconv.Itoa(set.MaxBodyBytes) + " bytes)"})
		return false
	}
	if n := s.inFlight.Add(1); n > int64(set.MaxConcurrentRequests) {
		s.inFlight.Add(-1)
		s.writeError(ctx, req, &Error{Status: fasthttp.StatusServiceUnavailable, Message: "server is at its concurrent request limit", RetryAfter: time.Second})
		return false
	}
	megaservice.inFlight.Inc()

	trace := ctx.Request.Header.PeekBytes(headerTraceparent)
	if !validTraceparent(trace) {
		trace = newTraceparent(req.traceBuf[:0])
	}
	in := runInput{
		body:        ctx.Request.Body(),
		contentType: ctx.Request.Header.ContentType(),
		requestID:   req.id,
		traceparent: trace,
		deadline:    req.start.Add(set.RequestTimeout),
	}
	if req.api = route.apis[k]; req.api != nil {
		body, params, err := req.api.Request(&req.state, in.body, nil, nil)
		if err != nil {
			e := AsError(err)
			if e.Status == 500 {
				e = &Error{Status: 400, Message: "invalid request body", Err: err}
			}
			s.inFlight.Add(-1)
			megaservice.inFlight.Dec()
			s.writeError(ctx, req, e)
			return false
		}
		in.body, in.params, in.contentType = body, params, jsonType
	}
	rs := route.plans[k].startRun(context.Background(), &in)
	if r := s.writeResult(ctx, rs, req); r >= 0 && rs.calls[r].stream != nil {
		s.startStream(ctx, rs, r, req, set.WriteTimeout)
		return true
	}
	rs.finishRun()
	s.inFlight.Add(-1)
	megaservice.inFlight.Dec()
	return false
}

// done records the request's metrics and access log line.
func (s *Server) done(ctx *fasthttp.RequestCtx, req *request) {
	defer s.releaseSnapshot(req.snap)
	megaservice.pending.Dec()
	took := time.Since(req.start)
	req.route.count(req.status)
	req.route.latency.Update(took.Seconds())
	megaservice.requestLatency.Update(took.Seconds())
	if req.snap.settings.AccessLog {
		s.log.Info("access",
			"method", string(ctx.Method()), "path", string(ctx.Path()), "status", req.status,
			"duration_ms", float64(took.Microseconds())/1000, "bytes", req.bytes, "request_id", string(req.id))
	}
}

// requestIDOf returns the client's X-Request-Id when valid, else a new one
// appended to buf.
func requestIDOf(ctx *fasthttp.RequestCtx, buf []byte) []byte {
	if id := ctx.Request.Header.PeekBytes(headerRequestID); validRequestID(id) {
		return append(buf, id...)
	}
	return newRequestID(buf)
}

// writeResult responds with the flow's output, or with the error that
// ended it early, and returns the index of the node whose output is the
// response, or -1.
// The output is copied, since the run state is reused.
func (s *Server) writeResult(ctx *fasthttp.RequestCtx, rs *runState, req *request) int32 {
	complete := rs.complete()
	if bytes.Equal(ctx.Request.Header.PeekBytes(headerDebug), debugGraph) {
		ctx.Response.Header.SetBytesKV(headerGraph, rs.appendGraphJSON(nil, complete))
	}
	if f := rs.failure(); f >= 0 {
		s.writeError(ctx, req, AsError(rs.errs[f]))
		return -1
	}
	if !complete {
		s.writeError(ctx, req, &Error{Status: fasthttp.StatusGatewayTimeout, Message: "flow deadline exceeded"})
		return -1
	}
	r := rs.resultNode()
	if r < 0 {
		e := &Error{Status: fasthttp.StatusBadGateway, Message: "no node of the flow produced a result"}
		for i, err := range rs.errs {
			if rs.state[i] == NodeFailed {
				e = AsError(err)
				break
			}
		}
		s.writeError(ctx, req, e)
		return -1
	}
	if partial := rs.appendPartial(nil); len(partial) > 0 {
		ctx.Response.Header.SetBytesKV(headerPartial, partial)
	}
	call := &rs.calls[r]
	req.status = fasthttp.StatusOK
	if call.shortCircuit && call.Status != 0 {
		req.status = call.Status
	}
	ctx.SetStatusCode(req.status)
	if len(call.OutputType) > 0 {
		ctx.Response.Header.SetContentTypeBytes(call.OutputType)
	} else {
		ctx.Response.Header.SetNoDefaultContentType(true)
	}
	if call.stream != nil {
		return r
	}
	out := call.Output
	if req.api != nil {
		body, bodyType, err := req.api.Response(&req.state, call.Output, call.OutputType, nil)
		if err != nil {
			s.writeError(ctx, req, &Error{Status: fasthttp.StatusBadGateway, Message: "the flow's output does not fit the route's API", Service: serviceName(&rs.plan.nodes[r]), Err: err})
			return -1
		}
		out = body
		ctx.Response.Header.SetContentType(bodyType)
	}
	ctx.Response.SetBody(out)
	req.bytes = len(out)
	return r
}

// appendPartial appends the comma-separated names of optional nodes that
// failed and were left out of the response.
func (rs *runState) appendPartial(dst []byte) []byte {
	for i := range rs.plan.nodes {
		if rs.state[i] == NodeFailed && rs.plan.nodes[i].optional {
			if len(dst) > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, rs.plan.nodes[i].Name...)
		}
	}
	return dst
}

// startStream responds with the output node's event stream. The writer runs
// on its own goroutine once the handler returns; it owns the run state and
// the request from then on, and ends both.
func (s *Server) startStream(ctx *fasthttp.RequestCtx, rs *runState, r int32, req *request, writeTimeout time.Duration) {
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	// fasthttp's WriteTimeout bounds the whole response; a stream extends
	// the connection's write deadline before each event instead. The
	// connection stays in use by this response until the writer returns.
	conn := ctx.Conn()
	method, path := string(ctx.Method()), string(ctx.Path())
	streamReq := *req
	streamReq.id = rs.reqID // idBuf goes back to requestPool when Handle returns
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		s.forwardStream(w, conn, rs, r, &streamReq, writeTimeout)
		rs.finishRun()
		s.inFlight.Add(-1)
		megaservice.inFlight.Dec()
		megaservice.pending.Dec()
		took := time.Since(streamReq.start)
		streamReq.route.count(streamReq.status)
		streamReq.route.latency.Update(took.Seconds())
		megaservice.requestLatency.Update(took.Seconds())
		defer s.releaseSnapshot(streamReq.snap)
		if streamReq.snap.settings.AccessLog {
			s.log.Info("access", "method", method, "path", path, "status", streamReq.status,
				"duration_ms", float64(took.Microseconds())/1000, "bytes", streamReq.bytes,
				"request_id", string(streamReq.id), "stream", true)
		}
	})
}

// forwardStream copies events from the upstream to the client, flushing
// each one, and measures token latencies on what the client receives. A
// client that goes away ends the upstream call at once. An upstream that
// breaks off ends the client's stream with an "error" event and no
// [DONE], so the client can tell a truncated response from a complete one.
func (s *Server) forwardStream(w *bufio.Writer, conn net.Conn, rs *runState, r int32, req *request, writeTimeout time.Duration) {
	call := &rs.calls[r]
	st := call.stream
	call.stream = nil
	node := &rs.plan.nodes[r]
	var clientGone atomic.Bool
	stopWatch := watchDisconnect(conn, func() {
		clientGone.Store(true)
		st.interrupt()
	})
	defer stopWatch()
	var src eventSource = st
	if call.sentences {
		src = newSentenceSource(rs, node, st)
	}
	var (
		err       error
		lastToken time.Time
		tokens    int
		shaped    []byte
		apiShaped []byte
	)
	for {
		var ev []byte
		ev, err = src.next()
		if clientGone.Load() {
			err = errClientGone
		}
		if err != nil {
			break
		}
		if node.Events != nil {
			shaped, err = node.Events.ShapeEvent(rs, ev, shaped[:0])
			if err != nil {
				err = hookError(err, node, node.EventsName, "event")
				break
			}
			if len(shaped) == 0 {
				continue
			}
			ev = shaped
		}
		if req.api != nil {
			apiShaped, err = req.api.StreamEvent(&req.state, ev, apiShaped[:0])
			if err != nil {
				break
			}
			if len(apiShaped) == 0 {
				continue
			}
			ev = apiShaped
		}
		if writeTimeout > 0 {
			conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		w.Write(ev)
		if ferr := w.Flush(); ferr != nil {
			err = errClientGone
			break
		}
		req.bytes += len(ev)
		if classifyEvent(ev) == eventToken {
			now := time.Now()
			if tokens == 0 {
				megaservice.firstToken.Update(now.Sub(req.start).Seconds())
			} else {
				megaservice.interToken.Update(now.Sub(lastToken).Seconds())
			}
			megaservice.tokens.Inc()
			lastToken = now
			tokens++
		}
	}
	switch {
	case errors.Is(err, errClientGone):
		// Canceled, so the replica's breaker does not count it.
		src.close(context.Canceled)
		req.status = 499 // client closed the request, as nginx logs it
		s.log.Info("client went away mid-stream", "request_id", string(req.id), "service", serviceName(node), "tokens", tokens)
	case err == io.EOF:
		src.close(nil)
		if req.api != nil {
			if end := req.api.StreamEnd(&req.state, nil); len(end) > 0 {
				w.Write(end)
				w.Flush()
			}
		}
	default:
		src.close(err)
		e := AsError(err)
		if e.Status == 500 && e.Service == "" && e.Plugin == "" {
			e = &Error{Status: 502, Message: "service stream broke off", Service: serviceName(node), Node: node.Name, Err: err}
		}
		w.WriteString("event: error\ndata: ")
		w.Write(appendErrorJSON(nil, e, req.id))
		w.WriteString("\n\n")
		w.Flush()
		s.errLog.log(e, req.id, "stream failed")
	}
}

var errClientGone = errors.New("client closed the connection")

// eventSource yields the events of a streamed response.
type eventSource interface {
	next() ([]byte, error)
	close(err error)
}

// writeError responds with e as JSON and logs it once.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, req *request, e *Error) {
	req.status = e.Status
	ctx.SetStatusCode(e.Status)
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	ctx.SetContentType("application/json")
	body := appendErrorJSON(nil, e, req.id)
	ctx.Response.SetBody(body)
	req.bytes = len(body)
	if e.Status >= 500 {
		s.errLog.log(e, req.id, "request failed")
	} else if e.Status != fasthttp.StatusNotFound && e.Status != fasthttp.StatusMethodNotAllowed {
		s.log.Debug("request rejected", "request_id", string(req.id), "status", e.Status, "error", e.Error())
	}
}

// writeHealthCheck writes OPEA's health check shape.
func writeHealthCheck(ctx *fasthttp.RequestCtx, version string) {
	if version == "" {
		version = "dev"
	}
	ctx.SetContentType("application/json")
	body := append([]byte(`{"Service Title":"megaflow","Version":`), appendJSONStringS(nil, version)...)
	body = append(body, `,"Service Description":"megaflow megaservice: flows of microservice calls"}`...)
	ctx.SetBody(body)
}

// handleParseError responds to requests fasthttp could not read: too large a
// body (413), too large headers (431), a timeout (408), anything else
// (400).
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	// The headers were read when only the body failed, so the client's
	// X-Request-Id is kept then.
	id := requestIDOf(ctx, nil)
	ctx.Response.Header.SetBytesKV(headerRequestID, id)
	var (
		e   *Error
		sbe *fasthttp.ErrSmallBuffer
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = &Error{Status: fasthttp.StatusRequestEntityTooLarge, Message: "request body is larger than server.max_body_bytes (" + strconv.Itoa(s.snap.Load().settings.MaxBodyBytes) + " bytes)"}
	case errors.As(err, &sbe):
		e = &Error{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Message: "request headers are too large"}
	case isTimeout(err):
		e = &Error{Status: fasthttp.StatusRequestTimeout, Message: "timed out reading the request"}
	default:
		e = &Error{Status: fasthttp.StatusBadRequest, Message: "malformed HTTP request"}
	}
	e.Err = err
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.SetConnectionClose()
	ctx.Response.SetBody(appendErrorJSON(nil, e, id))
	unmatchedRoute.count(e.Status)
	s.log.Debug("request rejected", "request_id", string(id), "status", e.Status, "error", e.Error())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn("http server", "message", fmt.Sprintf(format, args...))
}
