// Package mock provides stand-ins for the microservices of OPEA's ChatQnA
// pipeline, for benchmarks and tests. It has an echo service, a delay
// service with fault injection, TEI-style embedding and rerank services, a
// retriever and an OpenAI-style chat completions service that can stream.
//
// Every kind answers GET /health with 200 and honours the fault options
// (latency, error rate, one stall) before it handles a request.
package mock

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/megaflow/megaflow/runtime"
)

// Options configures a mock. The zero value adds no latency and no faults,
// and uses the defaults listed for each field.
type Options struct {
	// Latency is added before each response. With LatencyMax above it, each
	// request instead waits a uniformly random time in [Latency, LatencyMax].
	Latency    time.Duration
	LatencyMax time.Duration
	// ErrorRate is the fraction of requests, from 0 to 1, that get a 500
	// response with a JSON error body instead of reaching the handler.
	ErrorRate float64
	// Stall freezes the service once, for this long: every request that
	// arrives while the stall lasts waits until it ends. Zero means never.
	Stall time.Duration
	// StallAfter is the time from the first request to the start of the
	// stall.
	StallAfter time.Duration

	// Dim is the length of each embedding vector. Zero means 768, the size
	// of BAAI/bge-base-en-v1.5 used by OPEA's ChatQnA.
	Dim int
	// Docs is the number of documents the retriever returns. Negative means
	// none; zero means 3.
	Docs int

	// FirstTokenDelay is the llm's time to first token.
	FirstTokenDelay time.Duration
	// TokensPerSecond is the llm's generation rate after the first token.
	// Zero means 50.
	TokensPerSecond float64
	// Tokens is the number of tokens the llm generates when the request has
	// no max_tokens. Zero means 32. A request's max_tokens lowers it but
	// never raises it.
	Tokens int
}

// Kinds lists the mock kinds that Handler accepts.
func Kinds() []string {
	return []string{"echo", "delay", "embedding", "retriever", "rerank", "llm"}
}

// Handler returns the handler of a mock kind with the fault options applied.
// The error names an unknown kind or an invalid option.
func Handler(kind string, opts Options) (fasthttp.RequestHandler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var h fasthttp.RequestHandler
	switch kind {
	case "echo", "delay":
		h = runtime.EchoHandler
	case "embedding":
		h = embedHandler(opts.Dim)
	case "retriever":
		h = retrieveHandler(opts.Docs)
	case "rerank":
		h = rerank
	case "llm":
		h = (&llm{opts: opts}).handle
	default:
		return nil, fmt.Errorf("unknown mock kind %q: use one of %s", kind, strings.Join(Kinds(), ", "))
	}
	return withHealth(newFaults(opts).wrap(h)), nil
}

func (o *Options) validate() error {
	switch {
	case o.Latency < 0, o.LatencyMax < 0, o.Stall < 0, o.StallAfter < 0, o.FirstTokenDelay < 0:
		return errors.New("invalid mock options: durations must not be negative")
	case o.ErrorRate < 0 || o.ErrorRate > 1:
		return fmt.Errorf("invalid error rate %g: give a fraction from 0 to 1", o.ErrorRate)
	case o.Dim < 0:
		return fmt.Errorf("invalid embedding dimension %d: it must be positive", o.Dim)
	case o.TokensPerSecond < 0 || o.Tokens < 0:
		return errors.New("invalid llm options: tokens and tokens per second must not be negative")
	}
	if o.Dim == 0 {
		o.Dim = 768
	}
	if o.Docs == 0 {
		o.Docs = 3
	}
	if o.TokensPerSecond == 0 {
		o.TokensPerSecond = 50
	}
	if o.Tokens == 0 {
		o.Tokens = 32
	}
	return nil
}

func withHealth(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if ctx.IsGet() && string(ctx.Path()) == "/health" {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"status":"ok"}`)
			return
		}
		next(ctx)
	}
}

// Server is a running mock.
type Server struct {
	Kind   string
	server *fasthttp.Server
	ln     net.Listener
	done   chan error
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves the
// mock until Close.
func Start(kind string, opts Options, addr string) (*Server, error) {
	h, err := Handler(kind, opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mock %s: listen on %s: %w", kind, addr, err)
	}
	return Serve(kind, h, ln), nil
}

// Serve serves h on ln until Close.
func Serve(kind string, h fasthttp.RequestHandler, ln net.Listener) *Server {
	s := &Server{
		Kind: kind,
		ln:   ln,
		done: make(chan error, 1),
		server: &fasthttp.Server{
			Handler:            h,
			Name:               "megaflow-mock-" + kind,
			NoDefaultDate:      true,
			ReadBufferSize:     16 << 10,
			MaxRequestBodySize: 64 << 20,
			IdleTimeout:        2 * time.Minute,
			CloseOnShutdown:    true,
			TCPKeepalive:       true,
		},
	}
	go func() { s.done <- s.server.Serve(ln) }()
	return s
}

// Addr returns the address the mock listens on, as host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Wait blocks until the server stops and returns its error, nil after Close.
func (s *Server) Wait() error { return <-s.done }

// Close stops accepting connections and waits for in-flight requests.
func (s *Server) Close() error {
	return s.server.Shutdown()
}
