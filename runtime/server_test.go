package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// echoSnapshot serves POST /process → [echo_service] with the echo service
// at url.
func echoSnapshot(t testing.TB, url string, set ServerSettings) *Snapshot {
	t.Helper()
	svc, up := remote(t, "echo_service", url)
	plan, err := CompilePlan(FlowSpec{Name: "echo", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(set, []Route{{Path: "/process", Methods: []string{"POST"}, Plan: plan}}, []*MicroService{svc})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

type errorBody struct {
	Error     string `json:"error"`
	Service   string `json:"service"`
	RequestID string `json:"request_id"`
}

func post(t *testing.T, url, contentType string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, b)
	}
	return e
}

func TestEchoFlowRoundTripsBodies(t *testing.T) {
	echo := startServer(t, EchoHandler)
	base := startMegaflow(t, echoSnapshot(t, echo+"/", ServerSettings{}))

	sizes := map[string]int{"empty": 0, "1KiB": 1 << 10, "8MiB": 8 << 20}
	for name, size := range sizes {
		t.Run(name, func(t *testing.T) {
			body := make([]byte, size)
			rand.Read(body) // binary content, NUL bytes and invalid UTF-8 included
			resp, out := post(t, base+"/process", "application/x-test-binary", body)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d, body %q", resp.StatusCode, out)
			}
			if !bytes.Equal(out, body) {
				t.Fatalf("body differs: sent %d bytes, got %d", len(body), len(out))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-test-binary" {
				t.Errorf("Content-Type = %q", ct)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

func TestRequestIDKeptOrGenerated(t *testing.T) {
	echo := startServer(t, EchoHandler)
	base := startMegaflow(t, echoSnapshot(t, echo, ServerSettings{}))

	resp, _ := post(t, base+"/process", "text/plain", []byte("x"), "X-Request-Id", "client-id-42")
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-42" {
		t.Errorf("valid client id replaced: %q", got)
	}
	resp, _ = post(t, base+"/process", "text/plain", []byte("x"), "X-Request-Id", "bad id with spaces")
	if got := resp.Header.Get("X-Request-Id"); got == "bad id with spaces" || len(got) != 32 {
		t.Errorf("invalid client id not replaced by a generated one: %q", got)
	}
}

func TestRequestIDAndTraceparentForwarded(t *testing.T) {
	seen := make(chan [2]string, 1)
	up := startServer(t, func(ctx *fasthttp.RequestCtx) {
		seen <- [2]string{string(ctx.Request.Header.Peek("X-Request-Id")), string(ctx.Request.Header.Peek("Traceparent"))}
	})
	base := startMegaflow(t, echoSnapshot(t, up, ServerSettings{}))
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	post(t, base+"/process", "text/plain", nil, "X-Request-Id", "abc-123", "Traceparent", tp)
	got := <-seen
	if got[0] != "abc-123" {
		t.Errorf("upstream X-Request-Id = %q", got[0])
	}
	if got[1] != tp {
		t.Errorf("upstream traceparent = %q", got[1])
	}
	post(t, base+"/process", "text/plain", nil)
	got = <-seen
	if !validTraceparent([]byte(got[1])) {
		t.Errorf("generated traceparent invalid: %q", got[1])
	}
}

func TestErrorAnswers(t *testing.T) {
	// A listener that is closed at once gives a port that refuses.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String()
	ln.Close()

	garbage := startRawServer(t, func(c net.Conn) { c.Write([]byte("this is not HTTP\r\n\r\n")); c.Close() })
	reset := startRawServer(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	slow := startServer(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(2 * time.Second) })
	upstream5xx := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(500) })

	cases := []struct {
		name    string
		url     string
		timeout time.Duration
		status  int
		service string
	}{
		{"refused", refused, 0, 502, "echo_service"},
		{"garbage", garbage, 0, 502, "echo_service"},
		{"reset", reset, 0, 502, "echo_service"},
		{"upstream 500", upstream5xx, 0, 502, "echo_service"},
		{"timeout", slow, 200 * time.Millisecond, 504, "echo_service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, up := remote(t, "echo_service", tc.url, func(s *MicroService) {
				if tc.timeout > 0 {
					s.Timeout = tc.timeout
				}
			})
			plan, err := CompilePlan(FlowSpec{Name: "echo", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/process", Plan: plan}}, nil)
			base := startMegaflow(t, snap)
			start := time.Now()
			resp, out := post(t, base+"/process", "text/plain", []byte("hello"))
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("answer took %v", took)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, out)
			}
			e := decodeError(t, out)
			if e.Service != tc.service {
				t.Errorf("service = %q, want %q", e.Service, tc.service)
			}
			if e.RequestID == "" || e.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("request_id %q does not match header %q", e.RequestID, resp.Header.Get("X-Request-Id"))
			}
			if e.Error == "" {
				t.Error("empty error message")
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	echo := startServer(t, EchoHandler)
	base := startMegaflow(t, echoSnapshot(t, echo, ServerSettings{MaxBodyBytes: 1024}))

	resp, out := post(t, base+"/nowhere", "text/plain", nil)
	if resp.StatusCode != 404 || decodeError(t, out).RequestID == "" {
		t.Errorf("unknown path: %d %s", resp.StatusCode, out)
	}

	r, err := httpClient.Get(base + "/process")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 405 || r.Header.Get("Allow") != "POST" || decodeError(t, out).RequestID == "" {
		t.Errorf("wrong method: %d allow=%q %s", r.StatusCode, r.Header.Get("Allow"), out)
	}

	resp, out = post(t, base+"/process", "text/plain", make([]byte, 2048), "X-Request-Id", "client-413")
	if got := resp.Header.Get("X-Request-Id"); got != "client-413" {
		t.Errorf("413 replaced the client's request id with %q", got)
	}
	if resp.StatusCode != 413 {
		t.Fatalf("oversized body: status %d %s", resp.StatusCode, out)
	}
	e := decodeError(t, out)
	if !strings.Contains(e.Error, "max_body_bytes") || e.RequestID == "" {
		t.Errorf("413 body = %s", out)
	}
}

func TestDeadUpstreamAnswers502Quickly(t *testing.T) {
	// A real echo server that is then stopped, as when its process dies.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echoSrv := &fasthttp.Server{Handler: EchoHandler}
	go echoSrv.Serve(ln)
	url := "http://" + ln.Addr().String()

	svc, up := remote(t, "echo_service", url)
	plan, _ := CompilePlan(FlowSpec{Name: "echo", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
	other, _ := CompilePlan(FlowSpec{Name: "local", Nodes: []NodeSpec{{Service: &MicroService{Name: "local", Handler: ExecutorFunc(func(_ context.Context, c *Call) error { c.SetOutput([]byte("ok")); return nil })}}}})
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/process", Plan: plan}, {Path: "/other", Plan: other}}, nil)
	base := startMegaflow(t, snap)

	if resp, _ := post(t, base+"/process", "text/plain", []byte("before")); resp.StatusCode != 200 {
		t.Fatalf("before kill: %d", resp.StatusCode)
	}
	echoSrv.Shutdown()

	start := time.Now()
	resp, out := post(t, base+"/process", "text/plain", []byte("after"))
	// Well below the service's 5 s timeout: the refused connection fails
	// the call, not the deadline.
	if took := time.Since(start); took > svc.Timeout/2 {
		t.Errorf("502 took %v, want under %v", took, svc.Timeout/2)
	}
	if resp.StatusCode != 502 || decodeError(t, out).Service != "echo_service" {
		t.Errorf("after kill: %d %s", resp.StatusCode, out)
	}
	if resp, out := post(t, base+"/other", "text/plain", nil); resp.StatusCode != 200 || string(out) != "ok" {
		t.Errorf("other route: %d %s", resp.StatusCode, out)
	}
}

// startRawServer accepts TCP connections on 127.0.0.1 and hands each to
// handle, for upstreams that misbehave below HTTP.
func startRawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestLargeHeadersGet431(t *testing.T) {
	echo := startServer(t, EchoHandler)
	base := startMegaflow(t, echoSnapshot(t, echo, ServerSettings{MaxHeaderBytes: 4096}))
	resp, out := post(t, base+"/process", "text/plain", []byte("x"), "X-Big", strings.Repeat("a", 8000))
	if resp.StatusCode != 431 {
		t.Fatalf("status %d, want 431: %s", resp.StatusCode, out)
	}
	if e := decodeError(t, out); e.RequestID == "" || !strings.Contains(e.Error, "headers are too large") {
		t.Errorf("431 body %s", out)
	}
	if resp, _ := post(t, base+"/process", "text/plain", []byte("x"), "X-Small", strings.Repeat("a", 1000)); resp.StatusCode != 200 {
		t.Errorf("normal headers: %d", resp.StatusCode)
	}
}

func TestPartialHeaderNamesLeftOutNodes(t *testing.T) {
	fail := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(500) }
	p := httpFlow(t, "",
		flowNode{name: "start", handler: EchoHandler},
		flowNode{name: "web", handler: fail, after: []string{"start"}, mod: func(n *NodeSpec) { n.Optional = true }},
		flowNode{name: "docs", handler: tagService("docs", 0), after: []string{"start"}},
		flowNode{name: "llm", handler: EchoHandler, after: []string{"web", "docs"}},
	)
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/chat", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	resp, out := post(t, base+"/chat", "application/json", []byte(`"q"`))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	if got := resp.Header.Get("X-Megaflow-Partial"); got != "web" {
		t.Errorf("X-Megaflow-Partial = %q, want web", got)
	}
}
