package load_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/mock"
)

// startMock starts a mock on a free 127.0.0.1 port and stops it when the
// test ends.
func startMock(t *testing.T, kind string, opts mock.Options) string {
	t.Helper()
	s, err := mock.Start(kind, opts, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start mock %s: %v", kind, err)
	}
	t.Cleanup(func() { s.Close() })
	return "http://" + s.Addr()
}

func run(t *testing.T, cfg load.Config) *load.Result {
	t.Helper()
	res, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestClosedLoopRequestBound(t *testing.T) {
	base := startMock(t, "echo", mock.Options{})
	res := run(t, load.Config{
		URL:         base + "/v1/echo",
		Body:        load.SizedBody(64),
		Connections: 4,
		Requests:    500,
	})
	if res.Requests != 500 {
		t.Errorf("Requests = %d, want 500", res.Requests)
	}
	if res.Succeeded != 500 {
		t.Errorf("Succeeded = %d, want 500", res.Succeeded)
	}
	if res.Errors.Total != 0 {
		t.Errorf("Errors.Total = %d, want 0 (samples %v)", res.Errors.Total, res.Errors.Samples)
	}
	if res.Latency.Count != 500 {
		t.Errorf("Latency.Count = %d, want 500", res.Latency.Count)
	}
	if res.BytesRead != 500*64 {
		t.Errorf("BytesRead = %d, want %d", res.BytesRead, 500*64)
	}
	if res.Method != "POST" || res.Mode != "closed" {
		t.Errorf("Method, Mode = %s, %s; want POST, closed", res.Method, res.Mode)
	}
	if !(res.Latency.P50Ms <= res.Latency.P99Ms && res.Latency.P99Ms <= res.Latency.MaxMs) {
		t.Errorf("percentiles out of order: p50 %g, p99 %g, max %g", res.Latency.P50Ms, res.Latency.P99Ms, res.Latency.MaxMs)
	}
	if res.Throughput <= 0 {
		t.Errorf("Throughput = %g, want > 0", res.Throughput)
	}
}

func TestOpenLoopFollowsRate(t *testing.T) {
	base := startMock(t, "echo", mock.Options{})
	res := run(t, load.Config{
		URL:         base + "/",
		Body:        load.StaticBody(`{}`),
		Connections: 8,
		Rate:        200,
		Duration:    time.Second,
		Warmup:      200 * time.Millisecond,
	})
	if res.Mode != "open" {
		t.Errorf("Mode = %q, want open", res.Mode)
	}
	// Exactly 200 requests are due in the measured second. Each one either
	// got a response, failed or was never sent because a busy machine kept
	// every connection occupied until the window closed.
	if due := res.Requests + res.Errors.Total + res.Unsent; due != 200 {
		t.Errorf("responses %d + errors %d + unsent %d = %d, want the 200 requests due",
			res.Requests, res.Errors.Total, res.Unsent, due)
	}
	if res.Requests < 100 {
		t.Errorf("Requests = %d, want most of the 200 due at a rate the echo mock sustains", res.Requests)
	}
	if len(res.Timeline) == 0 {
		t.Error("Timeline is empty")
	}
}

// TestOpenLoopCorrectsStall checks the correction for coordinated
// omission: a 1 s server stall must dominate the open-loop p99, because
// every request scheduled during the stall waits for it, while the closed
// loop only measures the few requests in flight when the stall began.
func TestOpenLoopCorrectsStall(t *testing.T) {
	stall := mock.Options{Stall: time.Second, StallAfter: 500 * time.Millisecond}
	open := run(t, load.Config{
		URL:         startMock(t, "delay", stall) + "/",
		Connections: 8,
		Rate:        200,
		Duration:    2500 * time.Millisecond,
	})
	closed := run(t, load.Config{
		URL:         startMock(t, "delay", stall) + "/",
		Connections: 8,
		Duration:    2500 * time.Millisecond,
	})
	t.Logf("open loop: %d requests, p99 %.1f ms; closed loop: %d requests, p99 %.1f ms, max %.1f ms",
		open.Requests, open.Latency.P99Ms, closed.Requests, closed.Latency.P99Ms, closed.Latency.MaxMs)

	// About 200 of 500 open-loop requests fall in the stall, with latencies
	// spread from 1 s down to 0, so p99 is close to 1 s.
	if open.Latency.P99Ms < 500 {
		t.Errorf("open-loop p99 = %.1f ms, want >= 500 ms after a 1 s stall", open.Latency.P99Ms)
	}
	if closed.Latency.MaxMs < 500 {
		t.Errorf("closed-loop max = %.1f ms, want >= 500 ms: the stall must reach the requests in flight", closed.Latency.MaxMs)
	}
	// Only the 8 requests in flight during the stall wait; thousands do not.
	if closed.Latency.P99Ms > 250 {
		t.Errorf("closed-loop p99 = %.1f ms, want < 250 ms: the closed loop hides the stall", closed.Latency.P99Ms)
	}
}

func TestErrorKinds(t *testing.T) {
	// A port that was free a moment ago refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name  string
		cfg   load.Config
		check func(t *testing.T, e load.Errors)
	}{
		{
			name: "connect",
			cfg:  load.Config{URL: "http://" + closedAddr + "/", Requests: 5, Connections: 1},
			check: func(t *testing.T, e load.Errors) {
				if e.Connect == 0 {
					t.Errorf("Connect = 0, want > 0 (errors %+v)", e)
				}
			},
		},
		{
			name: "status",
			cfg:  load.Config{URL: startMock(t, "delay", mock.Options{ErrorRate: 1}) + "/", Requests: 20, Connections: 2, Body: load.StaticBody("x")},
			check: func(t *testing.T, e load.Errors) {
				if e.Status[500] != 20 {
					t.Errorf("Status[500] = %d, want 20", e.Status[500])
				}
				if e.Total != 20 {
					t.Errorf("Total = %d, want 20", e.Total)
				}
				if !strings.Contains(e.Samples["status 500"], "injected failure") {
					t.Errorf("Samples[status 500] = %q, want the response body", e.Samples["status 500"])
				}
			},
		},
		{
			name: "timeout",
			cfg:  load.Config{URL: startMock(t, "delay", mock.Options{Latency: 300 * time.Millisecond}) + "/", Requests: 2, Connections: 2, Timeout: 50 * time.Millisecond, Body: load.StaticBody("x")},
			check: func(t *testing.T, e load.Errors) {
				if e.Timeout != 2 {
					t.Errorf("Timeout = %d, want 2 (errors %+v)", e.Timeout, e)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.cfg)
			tt.check(t, res.Errors)
		})
	}
}

func TestSSEFigures(t *testing.T) {
	base := startMock(t, "llm", mock.Options{FirstTokenDelay: 30 * time.Millisecond, TokensPerSecond: 100, Tokens: 5})
	res := run(t, load.Config{
		URL:         base + "/v1/chat/completions",
		Body:        load.StaticBody(`{"messages":[{"role":"user","content":"hi"}],"stream":true}`),
		Connections: 2,
		Requests:    4,
		SSE:         true,
	})
	if res.SSE == nil {
		t.Fatal("SSE summary missing")
	}
	if res.SSE.Streams != 4 || res.SSE.Tokens != 20 {
		t.Errorf("Streams, Tokens = %d, %d; want 4, 20", res.SSE.Streams, res.SSE.Tokens)
	}
	if res.SSE.TTFT.P50Ms < 30 {
		t.Errorf("TTFT p50 = %.1f ms, want >= 30 ms, the first-token delay", res.SSE.TTFT.P50Ms)
	}
	if res.SSE.ITL.Count != 16 {
		t.Errorf("ITL count = %d, want 16 gaps", res.SSE.ITL.Count)
	}
	// Tokens are 10 ms apart at 100 tokens/s; only a stalled machine would
	// bring a gap near zero.
	if res.SSE.ITL.P50Ms < 5 {
		t.Errorf("ITL p50 = %.1f ms, want about 10 ms", res.SSE.ITL.P50Ms)
	}
	if res.Latency.P50Ms < 60 {
		t.Errorf("latency p50 = %.1f ms, want >= 60 ms for the whole stream", res.Latency.P50Ms)
	}
}

func TestProgressLines(t *testing.T) {
	base := startMock(t, "echo", mock.Options{})
	var progress bytes.Buffer
	run(t, load.Config{
		URL:              base + "/",
		Body:             load.StaticBody("x"),
		Connections:      2,
		Duration:         600 * time.Millisecond,
		Progress:         &progress,
		ProgressInterval: 100 * time.Millisecond,
	})
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("got %d progress lines, want >= 3:\n%s", len(lines), progress.String())
	}
	if !strings.Contains(lines[len(lines)-1], "req/s") || !strings.Contains(lines[len(lines)-1], "p99") {
		t.Errorf("progress line %q lacks req/s or p99", lines[len(lines)-1])
	}
}

func TestValidateTargets(t *testing.T) {
	tests := []struct {
		url         string
		allowRemote bool
		wantErr     string
	}{
		{url: "http://127.0.0.1:9/"},
		{url: "http://127.1.2.3:9/"},
		{url: "http://[::1]:9/"},
		{url: "http://localhost:9/"},
		{url: "http://10.0.0.1:9/", wantErr: "--allow-remote"},
		{url: "http://example.com/", wantErr: "--allow-remote"},
		{url: "http://example.com/", allowRemote: true},
		{url: "ftp://127.0.0.1/", wantErr: "scheme"},
		{url: "", wantErr: "missing target URL"},
	}
	for _, tt := range tests {
		cfg := load.Config{URL: tt.url, AllowRemote: tt.allowRemote, Duration: time.Second}
		err := cfg.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Validate(%q) = %v, want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Validate(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
		}
	}
}

func TestValidateRequiresBound(t *testing.T) {
	cfg := load.Config{URL: "http://127.0.0.1:9/"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "no bound") {
		t.Errorf("Validate without duration or requests = %v, want a no-bound error", err)
	}
}

// BenchmarkClosedLoopEcho measures one request through the load generator
// and an in-process echo mock on loopback, client and server together.
func BenchmarkClosedLoopEcho(b *testing.B) {
	b.ReportAllocs()
	s, err := mock.Start("echo", mock.Options{}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	res, err := load.Run(context.Background(), load.Config{
		URL:         "http://" + s.Addr() + "/",
		Body:        load.SizedBody(64),
		Connections: 4,
		Requests:    int64(b.N),
	})
	if err != nil {
		b.Fatal(err)
	}
	if res.Succeeded != int64(b.N) {
		b.Fatalf("%d of %d requests succeeded", res.Succeeded, b.N)
	}
}

// listenIPv6 returns a listener on a free [::1] port, or skips the test
// where the machine has no IPv6 loopback.
func listenIPv6(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	return ln
}

func TestIPv6LoopbackTarget(t *testing.T) {
	h, err := mock.Handler("echo", mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := mock.Serve("echo", h, listenIPv6(t))
	t.Cleanup(func() { srv.Close() })

	res := run(t, load.Config{
		URL:         "http://" + srv.Addr() + "/v1/echo",
		Body:        load.SizedBody(32),
		Connections: 2,
		Requests:    50,
	})
	if res.Succeeded != 50 {
		t.Errorf("Succeeded = %d, want 50 (errors %+v)", res.Succeeded, res.Errors)
	}
	if res.Errors.Total != 0 {
		t.Errorf("Errors.Total = %d, want 0 (samples %v)", res.Errors.Total, res.Errors.Samples)
	}
}
