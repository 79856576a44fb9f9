package runtime

import (
	"time"

	"github.com/valyala/fasthttp"
)

// EchoHandler is the echo microservice: it responds to POST on any path with the
// request body and its Content-Type, byte for byte, and GET /health with 200.
// Any other method gets 405. It allocates nothing per request beyond what
// fasthttp itself does.
func EchoHandler(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		if ct := ctx.Request.Header.ContentType(); len(ct) > 0 {
			ctx.Response.Header.SetContentTypeBytes(ct)
		} else {
			// fasthttp defaults to text/plain; an empty Content-Type in must
			// stay empty on the way out.
			ctx.Response.Header.SetNoDefaultContentType(true)
		}
		ctx.Response.SetBodyRaw(ctx.Request.Body())
	case ctx.IsGet() && string(ctx.Path()) == "/health":
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	default:
		ctx.Response.Header.Set("Allow", "POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"method not allowed: the echo service accepts POST on any path and GET /health"}`)
	}
}

// EchoMaxBodyBytes is the largest body the bundled echo service accepts
// when started by NewEchoServer: 64 MiB, above any server.max_body_bytes
// a flow in front of it is likely to allow.
const EchoMaxBodyBytes = 64 << 20

// NewEchoServer returns a fasthttp server running EchoHandler. A
// maxBodyBytes of zero means EchoMaxBodyBytes.
func NewEchoServer(maxBodyBytes int) *fasthttp.Server {
	if maxBodyBytes <= 0 {
		maxBodyBytes = EchoMaxBodyBytes
	}
	return &fasthttp.Server{
		Handler:               EchoHandler,
		Name:                  "megaflow-echo",
		NoDefaultServerHeader: true,
		MaxRequestBodySize:    maxBodyBytes,
		// fasthttp's worker-pool cleaner sleeps this long between checks,
		// even after Shutdown. A short value lets a reload's retired
		// built-in echo release its goroutines within a second.
		MaxIdleWorkerDuration: time.Second,
	}
}
