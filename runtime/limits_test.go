package runtime

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// localSnapshot serves POST /local under set, where a local service
// returns output.
func localSnapshot(t testing.TB, set ServerSettings, output []byte) *Snapshot {
	t.Helper()
	svc := &MicroService{Name: "local", Handler: ExecutorFunc(func(_ context.Context, c *Call) error {
		c.SetOutput(output)
		return nil
	})}
	plan, err := CompilePlan(FlowSpec{Name: "local", Nodes: []NodeSpec{{Service: svc}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(set, []Route{{Path: "/local", Methods: []string{"POST"}, Plan: plan}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// dialRaw opens a TCP connection to the server at base, an http:// URL.
func dialRaw(t testing.TB, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readResponse reads one HTTP response from conn, waiting at most wait.
func readResponse(t testing.TB, conn net.Conn, wait time.Duration) (*http.Response, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", wait, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return resp, string(body)
}

// waitClosed waits up to wait for the server to close conn and returns
// how long that took.
func waitClosed(t testing.TB, conn net.Conn, wait time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(wait))
	_, err := io.Copy(io.Discard, conn)
	if isTimeout(err) {
		t.Fatalf("connection still open after %v", wait)
	}
	return time.Since(start)
}

func TestLimitHeaderSize(t *testing.T) {
	base := startMegaflow(t, localSnapshot(t, ServerSettings{}, []byte("ok")))
	send := func(t *testing.T, headerBytes int) (*http.Response, string) {
		t.Helper()
		conn := dialRaw(t, base)
		big := strings.Repeat("a", headerBytes)
		if _, err := io.WriteString(conn, "POST /local HTTP/1.1\r\nHost: test\r\nX-Big: "+big+"\r\nContent-Length: 0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return readResponse(t, conn, 5*time.Second)
	}

	if resp, body := send(t, 8<<10); resp.StatusCode != 200 {
		t.Errorf("8 KiB header under the default limit: status = %d, want 200; body %s", resp.StatusCode, body)
	}
	resp, body := send(t, DefaultMaxHeaderBytes+1<<10)
	if resp.StatusCode != 431 {
		t.Fatalf("header past the default limit: status = %d, want 431; body %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	e := decodeError(t, []byte(body))
	if !strings.Contains(e.Error, "headers are too large") {
		t.Errorf("error = %q", e.Error)
	}
	if e.RequestID == "" || e.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q does not match X-Request-Id %q", e.RequestID, resp.Header.Get("X-Request-Id"))
	}
}

func TestLimitReadTimeout(t *testing.T) {
	base := startMegaflow(t, localSnapshot(t, ServerSettings{ReadTimeout: 300 * time.Millisecond}, []byte("ok")))
	cases := map[string]string{
		"stalled headers": "POST /local HTTP/1.1\r\nHost: test\r\n",
		"stalled body":    "POST /local HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789",
	}
	for name, partial := range cases {
		t.Run(name, func(t *testing.T) {
			conn := dialRaw(t, base)
			start := time.Now()
			if _, err := io.WriteString(conn, partial); err != nil {
				t.Fatal(err)
			}
			resp, body := readResponse(t, conn, 5*time.Second)
			if took := time.Since(start); took < 250*time.Millisecond {
				t.Errorf("answered after %v, before the read timeout", took)
			}
			if resp.StatusCode != 408 {
				t.Fatalf("status = %d, want 408; body %s", resp.StatusCode, body)
			}
			if e := decodeError(t, []byte(body)); e.RequestID == "" {
				t.Errorf("408 body has no request_id: %s", body)
			}
			waitClosed(t, conn, 5*time.Second)
		})
	}
}

func TestLimitIdleTimeout(t *testing.T) {
	base := startMegaflow(t, localSnapshot(t, ServerSettings{IdleTimeout: 300 * time.Millisecond}, []byte("ok")))
	conn := dialRaw(t, base)
	if _, err := io.WriteString(conn, "POST /local HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, body := readResponse(t, conn, 5*time.Second); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("first request: %d %q", resp.StatusCode, body)
	}
	took := waitClosed(t, conn, 5*time.Second)
	if took < 250*time.Millisecond {
		t.Errorf("idle connection closed after %v, before the idle timeout", took)
	}
}

func TestLimitWriteTimeout(t *testing.T) {
	const size = 32 << 20 // far more than the socket buffers of both ends
	base := startMegaflow(t, localSnapshot(t, ServerSettings{WriteTimeout: 300 * time.Millisecond}, make([]byte, size)))
	conn := dialRaw(t, base)
	if _, err := io.WriteString(conn, "POST /local HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The first byte shows that the server started writing, which a slow
	// run, as under the race detector, may do late. Then the client reads
	// nothing more until the write timeout has long passed.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first [1]byte
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		t.Fatalf("no response started: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if isTimeout(err) {
		t.Fatalf("connection still open after the write timeout; read %d bytes", n)
	}
	if n >= size {
		t.Errorf("read %d bytes, the whole response: the write timeout did not cut the connection", n)
	}
}

// TestLimitSlowloris holds 200 connections that each send one header
// byte per second, reconnecting when cut, for 5 s, and checks that normal
// requests are served meanwhile and that the server cuts the slow
// connections at its read timeout.
func TestLimitSlowloris(t *testing.T) {
	const (
		slowConns = 200
		duration  = 5 * time.Second
	)
	base := startMegaflow(t, localSnapshot(t, ServerSettings{ReadTimeout: time.Second}, []byte("ok")))
	addr := strings.TrimPrefix(base, "http://")
	stop := time.Now().Add(duration)

	var cuts, dials atomic.Int64
	var wg sync.WaitGroup
	for range slowConns {
		wg.Go(func() {
			for time.Now().Before(stop) {
				conn, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				dials.Add(1)
				if holdSlowly(conn, stop) {
					cuts.Add(1)
				}
				conn.Close()
			}
		})
	}

	client := &http.Client{Timeout: 5 * time.Second}
	var served int
	var slowest time.Duration
	for time.Now().Before(stop) {
		start := time.Now()
		resp, err := client.Post(base+"/local", "text/plain", strings.NewReader("hi"))
		if err != nil {
			t.Errorf("normal request failed under slowloris: %v", err)
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("normal request: status %d", resp.StatusCode)
		}
		served++
		slowest = max(slowest, time.Since(start))
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()

	t.Logf("served %d normal requests, slowest %v; %d slow connections opened, %d cut by the server", served, slowest, dials.Load(), cuts.Load())
	if served < 20 {
		t.Errorf("served %d normal requests in %v, want at least 20", served, duration)
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest normal request took %v, want under 2 s", slowest)
	}
	// Each connection lives about one read timeout, so most are cut once
	// per second of the run.
	if cuts.Load() < slowConns {
		t.Errorf("server cut %d slow connections, want at least %d", cuts.Load(), slowConns)
	}
}

// holdSlowly sends a request line and headers one byte per second until
// stop, and reports whether the server ended the connection first.
func holdSlowly(conn net.Conn, stop time.Time) (cut bool) {
	const header = "GET /local HTTP/1.1\r\nHost: test\r\nX-Slow: " // never finished
	buf := make([]byte, 512)
	for i := 0; time.Now().Before(stop); i++ {
		if _, err := conn.Write([]byte{header[i%len(header)]}); err != nil {
			return true
		}
		// The read doubles as the one-second pause between bytes.
		deadline := time.Now().Add(time.Second)
		if deadline.After(stop) {
			deadline = stop
		}
		conn.SetReadDeadline(deadline)
		_, err := conn.Read(buf)
		if err == nil || !isTimeout(err) || errors.Is(err, io.EOF) {
			return true
		}
	}
	return false
}

func TestLimitConcurrentRequests(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	blocking := &MicroService{Name: "blocking", Handler: ExecutorFunc(func(ctx context.Context, c *Call) error {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		c.SetOutput([]byte("done"))
		return nil
	})}
	plan, err := CompilePlan(FlowSpec{Name: "blocking", Nodes: []NodeSpec{{Service: blocking}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{MaxConcurrentRequests: 2}, []Route{{Path: "/slow", Plan: plan}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := startMegaflow(t, snap)

	results := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := httpClient.Post(base+"/slow", "text/plain", nil)
			if err != nil {
				results <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	<-entered
	<-entered

	start := time.Now()
	resp, out := post(t, base+"/slow", "text/plain", nil)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the request past the limit waited %v; it must be rejected at once", took)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("status = %d, want 503; body %s", resp.StatusCode, out)
	}
	if got := resp.Header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
	if e := decodeError(t, out); !strings.Contains(e.Error, "concurrent request limit") {
		t.Errorf("error = %q", e.Error)
	}

	close(release)
	for range 2 {
		if got := <-results; got != 200 {
			t.Errorf("request within the limit: status %d, want 200", got)
		}
	}
	if resp, _ := post(t, base+"/slow", "text/plain", nil); resp.StatusCode != 200 {
		t.Errorf("after the load: status %d, want 200", resp.StatusCode)
	}
}
