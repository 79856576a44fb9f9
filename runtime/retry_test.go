package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestBackoffFullJitterBounds(t *testing.T) {
	for n, ceiling := range []time.Duration{25, 50, 100, 200, 400, 800, 1000, 1000} {
		ceiling *= time.Millisecond
		var longest time.Duration
		for range 2000 {
			d := backoff(n)
			if d < 0 || d >= ceiling {
				t.Fatalf("backoff(%d) = %v, want in [0, %v)", n, d, ceiling)
			}
			longest = max(longest, d)
		}
		// 2000 uniform draws all below 80% of the range happen with
		// probability 0.8^2000, about 1e-194.
		if longest < ceiling*8/10 {
			t.Errorf("backoff(%d) never exceeded %v; the jitter does not span [0, %v)", n, longest, ceiling)
		}
	}
	if d := backoff(200); d >= retryBackoffMax {
		t.Errorf("backoff(200) = %v, want below the %v cap", d, retryBackoffMax)
	}
}

func TestSleepBackoffRespectsDeadlineAndCancel(t *testing.T) {
	if sleepBackoff(context.Background(), 10, time.Now().Add(time.Millisecond)) {
		t.Error("slept although every backoff of retry 10 ends past a 1ms deadline")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if sleepBackoff(ctx, 10, time.Time{}) {
		t.Error("sleepBackoff returned true with its context canceled")
	}
	// A backoff of retry 10 is up to a second long; the bound leaves room
	// for a stalled machine.
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("sleepBackoff slept %v after its context was canceled", took)
	}
}

func TestRetryBudget(t *testing.T) {
	up, _ := newTestUpstream(t, fakeReplicas(1), UpstreamOptions{})
	for i := range retryBudgetMin {
		if !up.takeRetry() {
			t.Fatalf("retry %d refused below the minimum budget of %d", i+1, retryBudgetMin)
		}
	}
	if up.takeRetry() {
		t.Errorf("retry %d allowed with no calls in flight; the minimum is %d", retryBudgetMin+1, retryBudgetMin)
	}
	up.retrying.Store(0)

	up.inFlight.Store(100)
	taken := 0
	for up.takeRetry() {
		taken++
	}
	if taken != 20 {
		t.Errorf("%d retries allowed with 100 calls in flight, want 20%%", taken)
	}
}

func TestRetryableErrors(t *testing.T) {
	idempotent, _ := newTestUpstream(t, fakeReplicas(1), UpstreamOptions{})
	once, _ := newTestUpstream(t, fakeReplicas(1), UpstreamOptions{NotIdempotent: true})
	dial := &dialError{err: errors.New("connect: connection refused")}
	cases := []struct {
		name           string
		err            *Error
		retry, retryNI bool // for an idempotent and a not idempotent service
	}{
		{"connect error", idempotent.transportError(dial), true, true},
		{"no free connection", idempotent.transportError(fasthttp.ErrNoFreeConns), true, true},
		{"timeout", idempotent.transportError(fasthttp.ErrTimeout), true, false},
		{"closed connection", idempotent.transportError(fasthttp.ErrConnectionClosed), true, false},
		{"response too large", idempotent.transportError(fasthttp.ErrBodyTooLarge), false, false},
		{"502", &Error{Status: 502, UpstreamStatus: 502}, true, false},
		{"503", &Error{Status: 502, UpstreamStatus: 503}, true, false},
		{"504", &Error{Status: 502, UpstreamStatus: 504}, true, false},
		{"500", &Error{Status: 502, UpstreamStatus: 500}, false, false},
		{"429", &Error{Status: 429, UpstreamStatus: 429}, false, false},
	}
	for _, tc := range cases {
		if got := idempotent.retryable(tc.err); got != tc.retry {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.retry)
		}
		if got := once.retryable(tc.err); got != tc.retryNI {
			t.Errorf("%s, not idempotent: retryable = %v, want %v", tc.name, got, tc.retryNI)
		}
	}
}
