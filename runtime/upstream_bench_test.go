package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkUpstreamCall measures one call through Upstream.Execute to a
// local fasthttp server over a pooled keep-alive connection: the request
// and response come from fasthttp's pools and the response body is copied into
// the Call, as in a flow.
func BenchmarkUpstreamCall(b *testing.B) {
	body := []byte(`{"embedding":[0.1,0.2,0.3]}`)
	url := startServer(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
	for _, bc := range []struct {
		name    string
		breaker BreakerSettings
	}{
		{"breaker", BreakerSettings{}},
		{"no-breaker", BreakerSettings{Disabled: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc := &MicroService{Name: "embedding", URL: url + "/embed", Remote: true}
			up, err := NewUpstream(svc, UpstreamOptions{Breaker: bc.breaker, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer up.Close()
			call := &Call{Node: "embedding", Service: svc, Input: []byte(`{"inputs":"hello"}`), InputType: jsonType,
				requestID: []byte("0123456789abcdef0123456789abcdef")}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				call.deadline = time.Now().Add(10 * time.Second)
				if err := up.Execute(ctx, call); err != nil {
					b.Fatal(err)
				}
				call.upstreamAttempts = 0
			}
		})
	}
}

// BenchmarkAcquireRelease measures picking one of three replicas and
// recording a success in its breaker, the per-call cost of balancing and
// breaking without the HTTP exchange.
func BenchmarkAcquireRelease(b *testing.B) {
	up, err := NewUpstream(&MicroService{Name: "embedding", URL: "http://127.0.0.1:19990/", Remote: true},
		UpstreamOptions{Replicas: []string{"http://127.0.0.1:19991/", "http://127.0.0.1:19992/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	b.ReportAllocs()
	for b.Loop() {
		r, err := up.acquire(nil)
		if err != nil {
			b.Fatal(err)
		}
		up.release(r, nil, 200)
	}
}

// The gobreaker benchmarks below measure the library's own entry points,
// to compare with breaker.admit and breaker.record.

func BenchmarkGobreakerTwoStep(b *testing.B) {
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{})
	b.ReportAllocs()
	for b.Loop() {
		done, err := cb.Allow()
		if err != nil {
			b.Fatal(err)
		}
		done(nil)
	}
}

func BenchmarkGobreakerExecute(b *testing.B) {
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
	b.ReportAllocs()
	for b.Loop() {
		cb.Execute(reportSuccess)
	}
}

func BenchmarkBreakerAdmitRecord(b *testing.B) {
	br := newBreaker(BreakerSettings{}, "embedding", "http://127.0.0.1:19990/", slog.Default())
	b.ReportAllocs()
	for b.Loop() {
		if !br.admit() {
			b.Fatal("closed breaker rejected a call")
		}
		br.record(outcomeSuccess)
	}
}
