package runtime

import (
	"bufio"
	"io"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkBuildRequest measures filling and serializing the request of
// one upstream call, without the network: buildRequest, then
// Request.Write into a discarding writer, which is where fasthttp reads
// the URL's host and path.
func BenchmarkBuildRequest(b *testing.B) {
	up, err := NewUpstream(&MicroService{Name: "echo", URL: "http://127.0.0.1:19990/v1/echo", Remote: true}, UpstreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	r := up.list()[0]
	call := &Call{Node: "echo", Input: []byte(`{"text":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`), InputType: jsonType,
		requestID:   []byte("0123456789abcdef0123456789abcdef"),
		traceparent: []byte("00-0123456789abcdef0123456789abcdef-0123456789abcdef-01")}
	w := bufio.NewWriter(io.Discard)
	var req fasthttp.Request
	b.ReportAllocs()
	for b.Loop() {
		req.Reset()
		up.buildRequest(&req, r, call)
		if err := req.Write(w); err != nil {
			b.Fatal(err)
		}
	}
}
