package runtime

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHandleEcho runs one request per op through Server.Handle on a
// prepared fasthttp.RequestCtx, so the client side of the ingress costs
// nothing. "upstream" is the echo flow of make bench: one node calling an
// echo server on 127.0.0.1 over a pooled connection. "in-process" replaces
// the service with an inline echo, which leaves megaflow's own per-request
// work: routing, request id, scheduling, metrics and the response.
func BenchmarkHandleEcho(b *testing.B) {
	body := []byte(`{"text":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	b.Run("upstream", func(b *testing.B) {
		url := startServer(b, EchoHandler)
		benchHandle(b, echoSnapshot(b, url+"/", ServerSettings{}), body)
	})
	b.Run("in-process", func(b *testing.B) {
		echo := InlineFunc(func(_ context.Context, c *Call) error {
			c.SetOutput(c.Input)
			c.SetOutputType(c.InputType)
			return nil
		})
		svc := &MicroService{Name: "echo", Handler: echo}
		plan, err := CompilePlan(FlowSpec{Name: "echo", Nodes: []NodeSpec{{Service: svc}}})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/process", Methods: []string{"POST"}, Plan: plan}}, []*MicroService{svc})
		if err != nil {
			b.Fatal(err)
		}
		benchHandle(b, snap, body)
	})
}

func benchHandle(b *testing.B, snap *Snapshot, body []byte) {
	b.Cleanup(func() { snap.Close() })
	srv := NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("/process")
	req.Header.SetContentType("application/json")
	req.SetBody(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		srv.Handle(&ctx)
		if ctx.Response.StatusCode() != fasthttp.StatusOK || len(ctx.Response.Body()) != len(body) {
			b.Fatalf("Handle responded with status %d and body %q; expected 200 and the request body", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
