package runtime

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeReplicas returns n replica URLs on ports nothing listens on, for
// tests that acquire and release without sending anything.
func fakeReplicas(n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = "http://127.0.0.1:" + strconv.Itoa(19990+i) + "/x"
	}
	return urls
}

func TestAcquireRoundRobinsTies(t *testing.T) {
	up, _ := newTestUpstream(t, fakeReplicas(3), UpstreamOptions{})
	counts := map[string]int{}
	for range 30 {
		r, err := up.acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[r.url]++
		up.release(r, nil, 200)
	}
	for _, u := range fakeReplicas(3) {
		if counts[u] != 10 {
			t.Errorf("%s picked %d times of 30, want 10", u, counts[u])
		}
	}
}

func TestAcquirePicksLeastOutstanding(t *testing.T) {
	up, _ := newTestUpstream(t, fakeReplicas(3), UpstreamOptions{})
	var held []*replica
	for range 6 {
		r, err := up.acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	for _, st := range up.Replicas() {
		if st.Outstanding != 2 {
			t.Errorf("%s has %d outstanding, want 2 after 6 calls over 3 replicas", st.URL, st.Outstanding)
		}
	}
	// Free one replica: the next two calls go to it, the least loaded.
	up.release(held[0], nil, 200)
	up.release(held[3], nil, 200)
	if held[0] != held[3] {
		t.Fatalf("calls 0 and 3 went to different replicas; round-robin expected the same")
	}
	for i := range 2 {
		r, _ := up.acquire(nil)
		if r != held[0] {
			t.Errorf("call %d went to %s, want the idle %s", i, r.url, held[0].url)
		}
	}
}

func TestAcquireExcludesUnlessAlone(t *testing.T) {
	up, _ := newTestUpstream(t, fakeReplicas(2), UpstreamOptions{})
	first, _ := up.acquire(nil)
	up.release(first, nil, 200)
	for range 4 {
		r, _ := up.acquire(first)
		if r == first {
			t.Fatal("acquire returned the excluded replica while another was usable")
		}
		up.release(r, nil, 200)
	}

	single, _ := newTestUpstream(t, fakeReplicas(1), UpstreamOptions{})
	r, _ := single.acquire(nil)
	single.release(r, nil, 200)
	if again, err := single.acquire(r); again != r || err != nil {
		t.Errorf("single replica excluded: got %v, %v; want the replica itself", again, err)
	}
}

func TestAcquireSkipsOpenAndUnhealthy(t *testing.T) {
	urls := fakeReplicas(3)
	up, _ := newTestUpstream(t, urls, UpstreamOptions{Breaker: BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}})
	r0, r1, r2 := up.list()[0], up.list()[1], up.list()[2]

	// Open r0's breaker with one failure; mark r1 unhealthy.
	up.release(acquireThis(t, up, r0), errors.New("connection refused"), 0)
	r1.health.healthy.Store(false)
	for range 6 {
		r, err := up.acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		if r != r2 {
			t.Fatalf("acquire picked %s; only %s is usable", r.url, r2.url)
		}
		up.release(r, nil, 200)
	}

	r2.health.healthy.Store(false)
	_, err := up.acquire(nil)
	e := AsError(err)
	if e.Status != 503 || e.Service != "flaky" || e.RetryAfter < time.Second {
		t.Errorf("no usable replica: error %+v, want 503 naming flaky with Retry-After", e)
	}
	if up.Usable() {
		t.Error("Usable() = true with no usable replica")
	}
}

// acquireThis acquires until it gets want, releasing the others.
func acquireThis(t *testing.T, up *Upstream, want *replica) *replica {
	t.Helper()
	for range 2 * len(up.list()) {
		r, err := up.acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		if r == want {
			return r
		}
		up.release(r, nil, 200)
	}
	t.Fatalf("acquire never picked %s", want.url)
	return nil
}

func TestHalfOpenAdmitsProbeSlotsOnly(t *testing.T) {
	up, log := newTestUpstream(t, fakeReplicas(1), UpstreamOptions{
		Breaker: BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 50 * time.Millisecond, HalfOpenRequests: 2},
	})
	r, _ := up.acquire(nil)
	up.release(r, errors.New("connection refused"), 0)
	if _, err := up.acquire(nil); AsError(err).Status != 503 {
		t.Fatalf("open breaker admitted a call: %v", err)
	}
	time.Sleep(80 * time.Millisecond)

	p1, err1 := up.acquire(nil)
	p2, err2 := up.acquire(nil)
	_, err3 := up.acquire(nil)
	if err1 != nil || err2 != nil {
		t.Fatalf("half-open breaker rejected its probes: %v, %v", err1, err2)
	}
	if AsError(err3).Status != 503 {
		t.Errorf("third call while two probes are out: %v, want 503", err3)
	}

	// A canceled probe gives its slot back without counting.
	up.release(p1, ErrCanceled, 0)
	p3, err := up.acquire(nil)
	if err != nil {
		t.Fatalf("slot of a canceled probe not given back: %v", err)
	}
	up.release(p2, nil, 200)
	up.release(p3, nil, 200)
	want := []string{"closed", "open", "half-open", "closed"}
	if got := log.states(r.url); !slices.Equal(got, want) {
		t.Errorf("breaker states = %v, want %v", got, want)
	}
	if n := up.Replicas()[0].Outstanding; n != 0 {
		t.Errorf("outstanding = %d after every release, want 0", n)
	}
}

// TestDeadReplicaUnderLoad kills one of three replicas while clients keep
// sending requests through megaflow, and checks that no client request
// fails once the dead replica's breaker opened, and that the breaker
// probes the replica again after its open timeout.
func TestDeadReplicaUnderLoad(t *testing.T) {
	handler := func(ctx *fasthttp.RequestCtx) { ctx.SetBody(ctx.Request.Body()) }
	urls := []string{startServer(t, handler), startServer(t, handler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	victim := &fasthttp.Server{Handler: handler, CloseOnShutdown: true}
	go victim.Serve(ln)
	victimURL := "http://" + ln.Addr().String()
	urls = append(urls, victimURL)

	const openTimeout = 200 * time.Millisecond
	up, log := newTestUpstream(t, urls, UpstreamOptions{
		Retries: 2,
		Breaker: BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: openTimeout, HalfOpenRequests: 1},
	})
	base := serveUpstream(t, up)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	const (
		workers     = 8
		minRequests = 2000
		maxRequests = 20000
		maxDuration = 10 * time.Second
	)
	var (
		sent, failedBefore, failedAfter atomic.Int64
		opened                          atomic.Bool
		killOnce                        sync.Once
		wg                              sync.WaitGroup
	)
	start := time.Now()
	probedAgain := func() bool {
		s := log.states(victimURL)
		// closed, open, half-open, open: a probe found the replica still dead.
		return len(s) >= 4 && s[2] == "half-open"
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < maxDuration {
				n := sent.Add(1)
				if n > maxRequests || (n > minRequests && probedAgain()) {
					return
				}
				if n == minRequests/4 {
					killOnce.Do(func() { victim.Shutdown() })
				}
				wasOpen := opened.Load()
				resp, err := client.Post(base+"/process", "text/plain", nil)
				ok := err == nil && resp.StatusCode == 200
				if resp != nil {
					resp.Body.Close()
				}
				if !ok {
					if wasOpen {
						failedAfter.Add(1)
					} else {
						failedBefore.Add(1)
					}
				}
				if !wasOpen && up.Replicas()[2].Breaker != BreakerClosed {
					opened.Store(true)
				}
			}
		}()
	}
	wg.Wait()

	t.Logf("%d requests in %v; failures before the breaker opened: %d, after: %d; victim breaker states %v",
		min(sent.Load(), maxRequests), time.Since(start).Round(time.Millisecond), failedBefore.Load(), failedAfter.Load(), log.states(victimURL))
	if !opened.Load() {
		t.Fatal("the dead replica's breaker never opened")
	}
	if failedAfter.Load() != 0 {
		t.Errorf("%d client requests failed after the breaker opened, want 0", failedAfter.Load())
	}
	if !probedAgain() {
		t.Errorf("dead replica not probed again after the open timeout: states %v", log.states(victimURL))
	}
	for _, u := range urls[:2] {
		if s := log.states(u); len(s) != 1 {
			t.Errorf("live replica %s breaker changed: %v", u, s)
		}
	}
}
