package runtime

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkEchoHandler backs EchoHandler's claim that it allocates nothing
// per request beyond fasthttp.
func BenchmarkEchoHandler(b *testing.B) {
	var ctx fasthttp.RequestCtx
	body := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.Header.SetContentType("application/octet-stream")
		ctx.Request.SetBodyRaw(body)
		EchoHandler(&ctx)
		ctx.Response.Reset()
	}
}
