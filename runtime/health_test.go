package runtime

import (
	"bytes"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// healthServer responds to GET /health with 200 while healthy is true and
// 503 otherwise, and to POST with its name. It counts the health probes.
func healthServer(t *testing.T, name string, healthy *atomic.Bool) (string, *atomic.Int64) {
	t.Helper()
	probes := new(atomic.Int64)
	url := startServer(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/health" && ctx.IsGet() {
			probes.Add(1)
			if !healthy.Load() {
				ctx.SetStatusCode(503)
			}
			return
		}
		ctx.SetBodyString(name)
	})
	return url, probes
}

// waitUntil polls cond every 10 ms for up to 10 s. The bound is generous
// so that a slow machine does not fail a condition that does hold.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

var fastHealth = HealthSettings{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond}

func TestHealthChecksSteerCalls(t *testing.T) {
	var aHealthy, bHealthy atomic.Bool
	aHealthy.Store(true)
	bHealthy.Store(true)
	a, aProbes := healthServer(t, "a", &aHealthy)
	b, _ := healthServer(t, "b", &bHealthy)
	up, _ := newTestUpstream(t, []string{a + "/v1/embed", b + "/v1/embed"}, UpstreamOptions{Health: fastHealth})

	waitUntil(t, "replica a was probed", func() bool { return aProbes.Load() > 0 })
	aHealthy.Store(false)
	waitUntil(t, "replica a is unhealthy", func() bool { return !up.Replicas()[0].Healthy })
	for i := range 6 {
		call, err := callUpstream(up, "x")
		if err != nil {
			t.Fatal(err)
		}
		if string(call.Output) != "b" {
			t.Errorf("call %d answered by %q while a is unhealthy, want b", i, call.Output)
		}
	}
	if !up.Usable() {
		t.Error("Usable() = false with replica b healthy")
	}

	aHealthy.Store(true)
	waitUntil(t, "replica a is healthy again", func() bool { return up.Replicas()[0].Healthy })
	seen := map[string]int{}
	for range 6 {
		call, err := callUpstream(up, "x")
		if err != nil {
			t.Fatal(err)
		}
		seen[string(call.Output)]++
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Errorf("answers after recovery: %v, want 3 from each replica", seen)
	}
}

func TestUnhealthyOnlyReplicaAnswers503(t *testing.T) {
	var healthy atomic.Bool
	url, _ := healthServer(t, "only", &healthy)
	up, _ := newTestUpstream(t, []string{url}, UpstreamOptions{Health: fastHealth})
	waitUntil(t, "the replica is unhealthy", func() bool { return !up.Usable() })

	resp, out := post(t, serveUpstream(t, up)+"/process", "text/plain", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("status = %d, want 503; body %s", resp.StatusCode, out)
	}
	if e := decodeError(t, out); e.Error != "service unavailable: no healthy replica" || e.Service != "flaky" {
		t.Errorf("error body = %s", out)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
}

// healthGoroutines counts the goroutines running health checks.
func healthGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:goruntime.Stack(buf, true)]
	return bytes.Count(buf, []byte("(*Upstream).checkHealth("))
}

func TestCloseStopsHealthChecks(t *testing.T) {
	// Close returns once the health goroutine has closed healthDone, a
	// moment before the goroutine exits. So the goroutines of upstreams
	// that earlier tests closed may still be in a stack dump.
	waitUntil(t, "the health goroutines of earlier tests exited", func() bool { return healthGoroutines() == 0 })
	var healthy atomic.Bool
	healthy.Store(true)
	url, probes := healthServer(t, "x", &healthy)
	slow := startServer(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(600 * time.Millisecond) })

	var ups []*Upstream
	for _, u := range []string{url, slow} {
		up, err := NewUpstream(&MicroService{Name: "checked", URL: u, Remote: true}, UpstreamOptions{Health: fastHealth})
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, up)
	}
	waitUntil(t, "probes ran", func() bool { return probes.Load() >= 2 })
	if n := healthGoroutines(); n != 2 {
		t.Errorf("%d health goroutines running for 2 upstreams", n)
	}

	// The second upstream is inside a probe that hangs; Close waits for
	// at most the probe timeout.
	start := time.Now()
	for _, up := range ups {
		up.Close()
		up.Close()
	}
	if took := time.Since(start); took > 25*fastHealth.Timeout {
		t.Errorf("Close took %v, want about one probe timeout (%v)", took, fastHealth.Timeout)
	}
	waitUntil(t, "no health goroutine is left after Close", func() bool { return healthGoroutines() == 0 })
	after := probes.Load()
	time.Sleep(5 * fastHealth.Interval)
	if probes.Load() != after {
		t.Errorf("probes went on after Close: %d, then %d", after, probes.Load())
	}
}

func TestHealthSettingsDefaults(t *testing.T) {
	cases := []struct {
		in   HealthSettings
		want HealthSettings
	}{
		{HealthSettings{}, HealthSettings{Path: "/health", Timeout: time.Second, Unhealthy: 2, Healthy: 2}},
		{HealthSettings{Path: "ready", Timeout: 3 * time.Second, Unhealthy: 1, Healthy: 5},
			HealthSettings{Path: "/ready", Timeout: 3 * time.Second, Unhealthy: 1, Healthy: 5}},
	}
	for _, tc := range cases {
		if got := tc.in.withDefaults(); got != tc.want {
			t.Errorf("withDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
