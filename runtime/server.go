package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Server is the megaservice's HTTP ingress: it maps each request to a flow
// of the current Snapshot, runs it and answers with the flow's output or a
// JSON error.
type Server struct {
	snap     atomic.Pointer[Snapshot]
	log      *slog.Logger
	srv      *fasthttp.Server
	inFlight atomic.Int64
}

// NewServer returns a server for snap. A nil logger means slog.Default().
func NewServer(snap *Snapshot, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{log: logger}
	s.snap.Store(snap)
	set := snap.Settings()
	s.srv = &fasthttp.Server{
		Handler:               s.Handle,
		ErrorHandler:          s.handleParseError,
		Name:                  "megaflow",
		MaxRequestBodySize:    set.MaxBodyBytes,
		ReadTimeout:           set.ReadTimeout,
		WriteTimeout:          set.WriteTimeout,
		IdleTimeout:           set.IdleTimeout,
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{logger},
	}
	return s
}

// Snapshot returns the snapshot being served.
func (s *Server) Snapshot() *Snapshot { return s.snap.Load() }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

var (
	headerRequestID   = []byte("X-Request-Id")
	headerTraceparent = []byte("Traceparent")
	headerDebug       = []byte("X-Megaflow-Debug")
	headerGraph       = []byte("X-Megaflow-Graph")
	debugGraph        = []byte("graph")
)

// Handle serves one request. It is the fasthttp handler of the server and
// may be mounted on another fasthttp server.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	var idBuf [maxRequestIDLen]byte
	id := requestIDOf(ctx, idBuf[:0])
	ctx.Response.Header.SetBytesKV(headerRequestID, id)

	snap := s.snap.Load()
	plan, route, found := snap.plan(ctx.Method(), ctx.Path())
	switch {
	case !found:
		s.writeError(ctx, id, &Error{Status: fasthttp.StatusNotFound, Message: "no route for this path"})
		return
	case plan == nil:
		ctx.Response.Header.Set("Allow", route.allow)
		s.writeError(ctx, id, &Error{Status: fasthttp.StatusMethodNotAllowed, Message: "method not allowed; allowed: " + route.allow})
		return
	}
	set := snap.settings
	if n := s.inFlight.Add(1); n > int64(set.MaxConcurrentRequests) {
		s.inFlight.Add(-1)
		s.writeError(ctx, id, &Error{Status: fasthttp.StatusServiceUnavailable, Message: "server is at its concurrent request limit", RetryAfter: time.Second})
		return
	}
	defer s.inFlight.Add(-1)

	var traceBuf [55]byte
	trace := ctx.Request.Header.PeekBytes(headerTraceparent)
	if !validTraceparent(trace) {
		trace = newTraceparent(traceBuf[:0])
	}
	in := runInput{
		body:        ctx.Request.Body(),
		contentType: ctx.Request.Header.ContentType(),
		requestID:   id,
		traceparent: trace,
		deadline:    time.Now().Add(set.RequestTimeout),
	}
	rs := plan.startRun(context.Background(), &in)
	defer rs.finishRun()
	s.writeResult(ctx, rs, id)
}

// requestIDOf returns the client's X-Request-Id when valid, else a new one
// appended to buf.
func requestIDOf(ctx *fasthttp.RequestCtx, buf []byte) []byte {
	if id := ctx.Request.Header.PeekBytes(headerRequestID); validRequestID(id) {
		return append(buf, id...)
	}
	return newRequestID(buf)
}

// writeResult answers with the flow's output, or with the error that ended
// it early. The output is copied, since the run state is reused.
func (s *Server) writeResult(ctx *fasthttp.RequestCtx, rs *runState, id []byte) {
	complete := rs.complete()
	if bytes.Equal(ctx.Request.Header.PeekBytes(headerDebug), debugGraph) {
		buf := rs.appendGraphJSON(nil, complete)
		ctx.Response.Header.SetBytesKV(headerGraph, buf)
	}
	if f := rs.failure(); f >= 0 {
		s.writeError(ctx, id, AsError(rs.errs[f]))
		return
	}
	if !complete {
		s.writeError(ctx, id, &Error{Status: fasthttp.StatusGatewayTimeout, Message: "flow deadline exceeded"})
		return
	}
	r := rs.resultNode()
	if r < 0 {
		s.writeError(ctx, id, &Error{Status: fasthttp.StatusBadGateway, Message: "no node of the flow produced a result"})
		return
	}
	call := &rs.calls[r]
	if call.shortCircuit && call.Status != 0 {
		ctx.SetStatusCode(call.Status)
	}
	if len(call.OutputType) > 0 {
		ctx.Response.Header.SetContentTypeBytes(call.OutputType)
	} else {
		ctx.Response.Header.SetNoDefaultContentType(true)
	}
	ctx.Response.SetBody(call.Output)
}

// writeError answers with e as JSON and logs it once.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, id []byte, e *Error) {
	ctx.SetStatusCode(e.Status)
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	ctx.SetContentType("application/json")
	ctx.Response.SetBody(appendErrorJSON(nil, e, id))
	if e.Status >= 500 {
		s.log.Error("request failed",
			"request_id", string(id), "status", e.Status, "service", e.Service, "node", e.Node,
			"plugin", e.Plugin, "error", e.Error(), "method", string(ctx.Method()), "path", string(ctx.Path()))
	} else if e.Status != fasthttp.StatusNotFound && e.Status != fasthttp.StatusMethodNotAllowed {
		s.log.Debug("request rejected", "request_id", string(id), "status", e.Status, "error", e.Error())
	}
}

// handleParseError answers requests fasthttp could not read: too large a
// body (413), too large headers (431), a timeout (408), anything else
// (400).
func (s *Server) handleParseError(ctx *fasthttp.RequestCtx, err error) {
	id := newRequestID(nil)
	ctx.Response.Header.SetBytesKV(headerRequestID, id)
	var (
		e   *Error
		sse *fasthttp.ErrSmallBuffer
	)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = &Error{Status: fasthttp.StatusRequestEntityTooLarge, Message: "request body is larger than server.max_body_bytes (" + strconv.Itoa(s.snap.Load().settings.MaxBodyBytes) + " bytes)"}
	case errors.As(err, &sse):
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
	ctx.Response.SetBodyRaw(appendErrorJSON(nil, e, id))
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
