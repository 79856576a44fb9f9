package runtime

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// transitionLog is a slog handler that keeps the circuit breaker state
// changes an upstream logs, per replica.
type transitionLog struct {
	mu      sync.Mutex
	changes map[string][]string // replica → states, starting with the first "from"
}

func (l *transitionLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *transitionLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *transitionLog) WithGroup(string) slog.Handler            { return l }

func (l *transitionLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "circuit breaker state changed" {
		return nil
	}
	var replica, from, to string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "replica":
			replica = a.Value.String()
		case "from":
			from = a.Value.String()
		case "to":
			to = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changes == nil {
		l.changes = map[string][]string{}
	}
	if len(l.changes[replica]) == 0 {
		l.changes[replica] = []string{from}
	}
	l.changes[replica] = append(l.changes[replica], to)
	return nil
}

// states returns the breaker states replica went through, or ["closed"]
// when its breaker never changed.
func (l *transitionLog) states(replica string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.changes[replica]; len(s) > 0 {
		return slices.Clone(s)
	}
	return []string{"closed"}
}

// newTestUpstream returns an upstream of service "flaky" at urls[0] with
// urls[1:] as replicas, and the log of its breaker changes.
func newTestUpstream(t testing.TB, urls []string, opts UpstreamOptions, mod ...func(*MicroService)) (*Upstream, *transitionLog) {
	t.Helper()
	log := &transitionLog{}
	opts.Logger = slog.New(log)
	opts.Replicas = urls[1:]
	svc := &MicroService{Name: "flaky", URL: urls[0], Remote: true, Timeout: 2 * time.Second}
	for _, m := range mod {
		m(svc)
	}
	up, err := NewUpstream(svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	return up, log
}

// callUpstream runs one call through up with a flow deadline of 10 s.
func callUpstream(up *Upstream, body string) (*Call, error) {
	call := &Call{Node: up.svc.Name, Service: up.svc, Input: []byte(body), requestID: []byte("test-request")}
	call.deadline = time.Now().Add(10 * time.Second)
	err := up.Execute(context.Background(), call)
	return call, err
}

// serveUpstream serves POST /process → [up] through megaflow and returns
// its base URL.
func serveUpstream(t *testing.T, up *Upstream) string {
	t.Helper()
	plan, err := CompilePlan(FlowSpec{Name: "one", Nodes: []NodeSpec{{Service: up.svc, Exec: up}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/process", Plan: plan}}, []*MicroService{up.svc})
	if err != nil {
		t.Fatal(err)
	}
	return startMegaflow(t, snap)
}

// refusedURL returns the URL of a 127.0.0.1 port that refuses connections.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

// countingServer serves h and counts the requests it received.
func countingServer(t *testing.T, h fasthttp.RequestHandler) (string, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	url := startServer(t, func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		h(ctx)
	})
	return url, hits
}

// resetMidResponse accepts connections, reads a request, sends the start
// of a response and resets the connection. It counts the connections.
func resetMidResponse(t *testing.T) (string, *atomic.Int64) {
	hits := new(atomic.Int64)
	url := startRawServer(t, func(c net.Conn) {
		hits.Add(1)
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial"))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	return url, hits
}

func TestUpstreamFailuresRetryAndBreak(t *testing.T) {
	okAfter := func(failures int64, status int) fasthttp.RequestHandler {
		var n atomic.Int64
		return func(ctx *fasthttp.RequestCtx) {
			if n.Add(1) <= failures {
				ctx.SetStatusCode(status)
				return
			}
			ctx.SetBodyString("ok")
		}
	}
	cases := []struct {
		name string
		// start returns the replica's URL and its hit counter (nil when the
		// replica cannot count).
		start    func(t *testing.T) (string, *atomic.Int64)
		timeout  time.Duration
		status   int    // client's status
		message  string // part of the JSON error, empty on success
		attempts int
		states   []string // breaker states after one client request
	}{
		{"refused", func(t *testing.T) (string, *atomic.Int64) { return refusedURL(t), nil },
			0, 502, "service unreachable", 3, []string{"closed", "open"}},
		{"reset mid-response", resetMidResponse,
			0, 502, "service unreachable", 3, []string{"closed", "open"}},
		{"slow past timeout", func(t *testing.T) (string, *atomic.Int64) {
			return countingServer(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(400 * time.Millisecond) })
		}, 100 * time.Millisecond, 504, "timed out", 3, []string{"closed", "open"}},
		{"burst of 503 then ok", func(t *testing.T) (string, *atomic.Int64) {
			return countingServer(t, okAfter(2, 503))
		}, 0, 200, "", 3, []string{"closed"}},
		{"500 is not retried", func(t *testing.T) (string, *atomic.Int64) {
			return countingServer(t, okAfter(1, 500))
		}, 0, 502, "service responded with an error", 1, []string{"closed"}},
		{"404 is passed on", func(t *testing.T) (string, *atomic.Int64) {
			return countingServer(t, okAfter(1, 404))
		}, 0, 404, "service rejected the request", 1, []string{"closed"}},
	}
	opts := UpstreamOptions{Retries: 2, Breaker: BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			withTimeout := func(s *MicroService) {
				if tc.timeout > 0 {
					s.Timeout = tc.timeout
				}
			}

			// Through megaflow: the client's status and JSON error.
			url, hits := tc.start(t)
			up, log := newTestUpstream(t, []string{url}, opts, withTimeout)
			resp, out := post(t, serveUpstream(t, up)+"/process", "text/plain", []byte("hello"))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, out)
			}
			if tc.message != "" {
				e := decodeError(t, out)
				if !strings.Contains(e.Error, tc.message) {
					t.Errorf("error = %q, want it to contain %q", e.Error, tc.message)
				}
				if e.Service != "flaky" {
					t.Errorf("service = %q, want flaky", e.Service)
				}
			}
			if hits != nil && hits.Load() != int64(tc.attempts) {
				t.Errorf("replica received %d requests, want %d", hits.Load(), tc.attempts)
			}
			if got := log.states(url); !slices.Equal(got, tc.states) {
				t.Errorf("breaker states = %v, want %v", got, tc.states)
			}
			if got, want := up.Replicas()[0].Breaker.String(), tc.states[len(tc.states)-1]; got != want {
				t.Errorf("breaker = %s, want %s", got, want)
			}

			// Directly: the attempts and the replica recorded in the call.
			url, _ = tc.start(t)
			up, _ = newTestUpstream(t, []string{url}, opts, withTimeout)
			call, err := callUpstream(up, "hello")
			if (err == nil) != (tc.status == 200) {
				t.Fatalf("Execute error = %v, want status %d", err, tc.status)
			}
			if err != nil && AsError(err).Status != tc.status {
				t.Errorf("Execute status = %d, want %d", AsError(err).Status, tc.status)
			}
			if call.upstreamAttempts != tc.attempts {
				t.Errorf("attempts = %d, want %d", call.upstreamAttempts, tc.attempts)
			}
			if call.upstreamReplica != url {
				t.Errorf("replica = %q, want %q", call.upstreamReplica, url)
			}
		})
	}
}

func TestRefusedReplicaRetriedOnAnother(t *testing.T) {
	good, hits := countingServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	dead := refusedURL(t)
	up, log := newTestUpstream(t, []string{dead, good},
		UpstreamOptions{Retries: 1, Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Minute}})

	attempts := 0
	for i := range 6 {
		call, err := callUpstream(up, "x")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if call.upstreamReplica != good {
			t.Errorf("call %d answered by %q, want %q", i, call.upstreamReplica, good)
		}
		if string(call.Output) != "ok" {
			t.Errorf("call %d output = %q", i, call.Output)
		}
		attempts += call.upstreamAttempts
	}
	// Round-robin sends the first calls to the dead replica too, until two
	// refusals open its breaker; each of those costs one retry.
	if attempts != 6+2 {
		t.Errorf("attempts = %d, want 8 (6 calls, 2 retried)", attempts)
	}
	if hits.Load() != 6 {
		t.Errorf("good replica received %d requests, want 6", hits.Load())
	}
	if got := log.states(dead); !slices.Equal(got, []string{"closed", "open"}) {
		t.Errorf("dead replica breaker states = %v, want [closed open]", got)
	}
	if got := log.states(good); !slices.Equal(got, []string{"closed"}) {
		t.Errorf("good replica breaker states = %v, want [closed]", got)
	}
}

func TestNotIdempotentRetriedOnlyBeforeSending(t *testing.T) {
	opts := UpstreamOptions{Retries: 2, NotIdempotent: true, Breaker: BreakerSettings{Disabled: true}}

	busy, hits := countingServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(503) })
	up, _ := newTestUpstream(t, []string{busy}, opts)
	call, err := callUpstream(up, "charge the card")
	if AsError(err).Status != 502 || AsError(err).UpstreamStatus != 503 {
		t.Errorf("error = %v, want 502 with upstream status 503", err)
	}
	if call.upstreamAttempts != 1 || hits.Load() != 1 {
		t.Errorf("attempts = %d, requests received = %d; want 1 each", call.upstreamAttempts, hits.Load())
	}

	reset, resets := resetMidResponse(t)
	up, _ = newTestUpstream(t, []string{reset}, opts)
	call, _ = callUpstream(up, "charge the card")
	if call.upstreamAttempts != 1 || resets.Load() != 1 {
		t.Errorf("after a reset: attempts = %d, connections = %d; want 1 each", call.upstreamAttempts, resets.Load())
	}

	up, _ = newTestUpstream(t, []string{refusedURL(t)}, opts)
	call, err = callUpstream(up, "charge the card")
	if AsError(err).Status != 502 {
		t.Errorf("refused: error = %v, want 502", err)
	}
	if call.upstreamAttempts != 3 {
		t.Errorf("refused: attempts = %d, want 3, because no byte was sent", call.upstreamAttempts)
	}
}

func TestBreakerOpensAnswers503AndRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	url, hits := countingServer(t, func(ctx *fasthttp.RequestCtx) {
		if failing.Load() {
			ctx.SetStatusCode(503)
			return
		}
		ctx.SetBodyString("ok")
	})
	const openTimeout = 300 * time.Millisecond
	up, log := newTestUpstream(t, []string{url}, UpstreamOptions{
		Breaker: BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openTimeout, HalfOpenRequests: 2},
	})
	base := serveUpstream(t, up)

	for i := range 2 {
		if resp, out := post(t, base+"/process", "text/plain", nil); resp.StatusCode != 502 {
			t.Fatalf("failing call %d: status %d %s", i, resp.StatusCode, out)
		}
	}
	opened := time.Now()
	resp, out := post(t, base+"/process", "text/plain", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("open breaker: status %d %s", resp.StatusCode, out)
	}
	if e := decodeError(t, out); !strings.Contains(e.Error, "circuit breaker") || e.Service != "flaky" {
		t.Errorf("open breaker: error body %s", out)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (at least one second)", got)
	}
	if hits.Load() != 2 {
		t.Errorf("replica received %d requests, want 2: the open breaker must not call it", hits.Load())
	}
	if up.Usable() {
		t.Error("Usable() = true with the only breaker open")
	}

	failing.Store(false)
	time.Sleep(openTimeout - time.Since(opened) + 50*time.Millisecond)
	for i := range 3 {
		if resp, out := post(t, base+"/process", "text/plain", nil); resp.StatusCode != 200 || string(out) != "ok" {
			t.Fatalf("recovered call %d: status %d %s", i, resp.StatusCode, out)
		}
	}
	want := []string{"closed", "open", "half-open", "closed"}
	if got := log.states(url); !slices.Equal(got, want) {
		t.Errorf("breaker states = %v, want %v", got, want)
	}
	st := up.Replicas()[0]
	if st.Breaker != BreakerClosed || st.BreakerTransitions != 3 || st.Outstanding != 0 {
		t.Errorf("status = %+v, want closed after 3 transitions with nothing outstanding", st)
	}
}

func TestBreakerRetryAfterIsRemainingOpenTime(t *testing.T) {
	url := refusedURL(t)
	up, _ := newTestUpstream(t, []string{url}, UpstreamOptions{
		Breaker: BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 5 * time.Second},
	})
	callUpstream(up, "x")
	_, err := callUpstream(up, "x")
	e := AsError(err)
	if e.Status != 503 {
		t.Fatalf("status = %d, want 503: %v", e.Status, err)
	}
	if e.RetryAfter <= 4*time.Second || e.RetryAfter > 5*time.Second {
		t.Errorf("RetryAfter = %v, want the remaining part of 5s", e.RetryAfter)
	}
}

func TestHalfOpenProbeFailureReopens(t *testing.T) {
	url := refusedURL(t)
	up, log := newTestUpstream(t, []string{url}, UpstreamOptions{
		Breaker: BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 100 * time.Millisecond, HalfOpenRequests: 1},
	})
	callUpstream(up, "x")
	time.Sleep(150 * time.Millisecond)
	_, err := callUpstream(up, "x")
	if AsError(err).Status != 502 {
		t.Errorf("probe: error = %v, want 502 from the refused probe", err)
	}
	want := []string{"closed", "open", "half-open", "open"}
	if got := log.states(url); !slices.Equal(got, want) {
		t.Errorf("breaker states = %v, want %v", got, want)
	}
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	url, _ := countingServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(422) })
	up, log := newTestUpstream(t, []string{url}, UpstreamOptions{Breaker: BreakerSettings{ConsecutiveFailures: 2}})
	for range 10 {
		if _, err := callUpstream(up, "x"); AsError(err).Status != 422 {
			t.Fatalf("error = %v, want 422 passed on", err)
		}
	}
	if got := log.states(url); !slices.Equal(got, []string{"closed"}) {
		t.Errorf("breaker states = %v after 4xx answers, want [closed]", got)
	}
}

func TestBreakerTripsOnFailureRatio(t *testing.T) {
	var n atomic.Int64
	url, _ := countingServer(t, func(ctx *fasthttp.RequestCtx) {
		if n.Add(1)%2 == 0 {
			ctx.SetStatusCode(500)
		}
	})
	up, log := newTestUpstream(t, []string{url}, UpstreamOptions{
		Breaker: BreakerSettings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10, OpenTimeout: time.Minute},
	})
	for i := range 9 {
		callUpstream(up, "x")
		if s := up.Replicas()[0].Breaker; s != BreakerClosed {
			t.Fatalf("breaker %s after %d calls, before min_requests", s, i+1)
		}
	}
	callUpstream(up, "x") // the 10th: 5 failures of 10
	if got := log.states(url); !slices.Equal(got, []string{"closed", "open"}) {
		t.Errorf("breaker states = %v, want [closed open] at a 0.5 failure ratio", got)
	}
}

func TestFlowDeadlineEndsAttemptWithoutRetry(t *testing.T) {
	url, hits := countingServer(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(500 * time.Millisecond) })
	up, _ := newTestUpstream(t, []string{url}, UpstreamOptions{Retries: 3, Breaker: BreakerSettings{ConsecutiveFailures: 1}})

	call := &Call{Node: "flaky", Service: up.svc, Input: []byte("x")}
	call.deadline = time.Now().Add(150 * time.Millisecond)
	start := time.Now()
	err := up.Execute(context.Background(), call)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Execute took %v, past the 150ms flow deadline", took)
	}
	if AsError(err).Status != 504 {
		t.Errorf("error = %v, want 504", err)
	}
	if call.upstreamAttempts != 1 || hits.Load() != 1 {
		t.Errorf("attempts = %d, requests received = %d; want 1 each: no retry past the deadline", call.upstreamAttempts, hits.Load())
	}
	if s := up.Replicas()[0].Breaker; s != BreakerClosed {
		t.Errorf("breaker = %s; a timeout at the flow deadline must not count against the replica", s)
	}
}

func TestUpstreamHeaders(t *testing.T) {
	seen := make(chan *fasthttp.RequestHeader, 1)
	url := startServer(t, func(ctx *fasthttp.RequestCtx) {
		h := new(fasthttp.RequestHeader)
		ctx.Request.Header.CopyTo(h)
		seen <- h
	})
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	call := func(up *Upstream) *fasthttp.RequestHeader {
		t.Helper()
		c := &Call{Node: "flaky", Service: up.svc, Input: []byte("x"), requestID: []byte("req-7"), traceparent: []byte(tp)}
		for _, kv := range [][2]string{
			{"Connection", "X-Private-Hop"}, {"X-Private-Hop", "1"}, {"Keep-Alive", "timeout=5"},
			{"Te", "trailers"}, {"Upgrade", "websocket"}, {"Proxy-Authorization", "Basic Zm9v"},
			{"Trailer", "X-Sum"}, {"Authorization", "Bearer from-a-hook"}, {"X-Tenant", "blue"},
			{"X-Request-Id", "spoofed"},
		} {
			c.SetHeader([]byte(kv[0]), []byte(kv[1]))
		}
		c.deadline = time.Now().Add(5 * time.Second)
		if err := up.Execute(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		return <-seen
	}

	up, _ := newTestUpstream(t, []string{url}, UpstreamOptions{})
	h := call(up)
	for _, name := range []string{"X-Private-Hop", "Keep-Alive", "Te", "Upgrade", "Proxy-Authorization", "Trailer", "Authorization"} {
		if v := h.Peek(name); v != nil {
			t.Errorf("%s forwarded: %q", name, v)
		}
	}
	if v := string(h.Peek("Connection")); v != "" && !strings.EqualFold(v, "keep-alive") {
		t.Errorf("Connection = %q, want none or keep-alive", v)
	}
	if v := string(h.Peek("X-Tenant")); v != "blue" {
		t.Errorf("X-Tenant = %q, want blue", v)
	}
	if v := string(h.Peek("X-Request-Id")); v != "req-7" {
		t.Errorf("X-Request-Id = %q, want req-7", v)
	}
	if v := string(h.Peek("Traceparent")); v != tp {
		t.Errorf("traceparent = %q, want %q", v, tp)
	}

	up, _ = newTestUpstream(t, []string{url}, UpstreamOptions{}, func(s *MicroService) { s.APIKey = "sk-test" })
	h = call(up)
	if v := string(h.Peek("Authorization")); v != "Bearer sk-test" {
		t.Errorf("Authorization = %q, want Bearer sk-test", v)
	}
}

func TestRetryPrefersAnotherReplica(t *testing.T) {
	var first, second atomic.Int64
	busy := startServer(t, func(ctx *fasthttp.RequestCtx) { first.Add(1); ctx.SetStatusCode(503) })
	good := startServer(t, func(ctx *fasthttp.RequestCtx) { second.Add(1); ctx.SetBodyString("ok") })
	up, _ := newTestUpstream(t, []string{busy, good}, UpstreamOptions{Retries: 1, Breaker: BreakerSettings{Disabled: true}})
	for i := range 10 {
		call, err := callUpstream(up, "x")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if call.upstreamReplica != good {
			t.Errorf("call %d answered by %q", i, call.upstreamReplica)
		}
	}
	if first.Load() != 5 || second.Load() != 10 {
		t.Errorf("busy replica got %d requests, good one %d; want 5 (round-robin) and 10", first.Load(), second.Load())
	}
}

func TestUpstreamRejectsTooManyReplicas(t *testing.T) {
	replicas := make([]string, maxReplicas)
	for i := range replicas {
		replicas[i] = "http://127.0.0.1:" + strconv.Itoa(20000+i)
	}
	_, err := NewUpstream(&MicroService{Name: "wide", URL: "http://127.0.0.1:19999", Remote: true}, UpstreamOptions{Replicas: replicas})
	if err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("error = %v, want one naming the limit of 64", err)
	}
}

func TestStaleKeepAliveRetriedOnNewConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The service closes keep-alive connections idle for 50 ms, long
	// before the pool would. open counts its connections not closed yet.
	var open atomic.Int64
	srv := &fasthttp.Server{
		Handler:     func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		IdleTimeout: 50 * time.Millisecond,
		ConnState: func(_ net.Conn, state fasthttp.ConnState) {
			switch state {
			case fasthttp.StateNew:
				open.Add(1)
			case fasthttp.StateClosed:
				open.Add(-1)
			}
		},
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	url := "http://" + ln.Addr().String()
	up, log := newTestUpstream(t, []string{url}, UpstreamOptions{Breaker: BreakerSettings{ConsecutiveFailures: 1}})

	attempts := 0
	for i := range 4 {
		call, err := callUpstream(up, "x")
		if err != nil {
			t.Fatalf("call %d after an idle period: %v", i, err)
		}
		attempts += call.upstreamAttempts
		time.Sleep(150 * time.Millisecond)
	}
	if attempts < 4 || attempts > 7 {
		t.Errorf("attempts = %d for 4 calls, want 4 to 7: at most one retry per call after the first", attempts)
	}
	if got := log.states(url); !slices.Equal(got, []string{"closed"}) {
		t.Errorf("breaker states = %v, want [closed]: a stale connection is not the replica's failure", got)
	}

	once, _ := newTestUpstream(t, []string{url}, UpstreamOptions{NotIdempotent: true, Breaker: BreakerSettings{Disabled: true}})
	callUpstream(once, "x")
	// A fixed sleep is not enough: on a loaded machine the second call
	// can reach the service before its idle timeout has closed the
	// connection, and succeed.
	waitUntil(t, "the service closed its idle connections", func() bool { return open.Load() == 0 })
	call, err := callUpstream(once, "x")
	if err == nil || call.upstreamAttempts != 1 {
		t.Errorf("not idempotent after an idle period: err %v, attempts %d; want the stale connection's 502 and no retry", err, call.upstreamAttempts)
	}
}

func TestUpstreamTLSWithCAFile(t *testing.T) {
	var probes atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			probes.Add(1)
			return
		}
		w.Write([]byte("secure"))
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	up, _ := newTestUpstream(t, []string{srv.URL + "/v1/x"}, UpstreamOptions{
		TLSCAFile: caFile,
		Health:    HealthSettings{Interval: 20 * time.Millisecond, Timeout: time.Second},
	})
	call, err := callUpstream(up, "x")
	if err != nil {
		t.Fatalf("call over TLS with the server's CA: %v", err)
	}
	if string(call.Output) != "secure" {
		t.Errorf("output = %q, want secure", call.Output)
	}
	waitUntil(t, "a health probe over TLS succeeded", func() bool { return probes.Load() > 0 })
	if !up.Replicas()[0].Healthy {
		t.Error("replica unhealthy although its TLS health endpoint responds 200")
	}

	untrusted, _ := newTestUpstream(t, []string{srv.URL + "/v1/x"}, UpstreamOptions{TLSCAFile: "", Breaker: BreakerSettings{Disabled: true}})
	if _, err := callUpstream(untrusted, "x"); AsError(err).Status != 502 {
		t.Errorf("call without the server's CA: error %v, want 502 for an unverified certificate", err)
	}

	_, err = NewUpstream(&MicroService{Name: "bad", URL: srv.URL, Remote: true}, UpstreamOptions{TLSCAFile: filepath.Join(t.TempDir(), "missing.pem")})
	if err == nil || !strings.Contains(err.Error(), `service "bad"`) {
		t.Errorf("missing CA file: error %v, want one naming the service", err)
	}
}
