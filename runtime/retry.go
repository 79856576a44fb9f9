package runtime

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Retry timing and budget.
const (
	// retryBackoffBase and retryBackoffMax bound the backoff before retry
	// n (from 0): a uniformly random wait in [0, min(max, base*2^n)), the
	// "full jitter" of exponential backoff.
	retryBackoffBase = 25 * time.Millisecond
	retryBackoffMax  = time.Second
	// A service's retries in flight may reach retryBudgetPercent of its
	// calls in flight, and at least retryBudgetMin, so that a failing
	// service receives little more traffic than it would without retries.
	retryBudgetPercent = 20
	retryBudgetMin     = 3
)

// retryable reports whether a failed attempt may be tried again: after a
// transport error (refused or failed connection, timeout, reset, invalid
// response) or a 502, 503 or 504 response. A service marked not idempotent is
// retried only when the request never left: the connection could not be
// made or no pooled connection was free.
func (u *Upstream) retryable(e *Error) bool {
	if e.Err == nil {
		switch e.UpstreamStatus {
		case fasthttp.StatusBadGateway, fasthttp.StatusServiceUnavailable, fasthttp.StatusGatewayTimeout:
			return !u.notIdempotent
		}
		return false
	}
	if errors.Is(e.Err, fasthttp.ErrBodyTooLarge) {
		return false // the same response would come back
	}
	return !u.notIdempotent || notSent(e.Err)
}

// notSent reports whether err happened before any byte of the request was
// written.
func notSent(err error) bool {
	var de *dialError
	return errors.As(err, &de) || errors.Is(err, fasthttp.ErrNoFreeConns)
}

// takeRetry reserves a place in the service's retry budget. The caller
// gives it back with u.retrying.Add(-1) once the retry ended.
func (u *Upstream) takeRetry() bool {
	limit := max(u.inFlight.Load()*retryBudgetPercent/100, retryBudgetMin)
	if u.retrying.Add(1) > limit {
		u.retrying.Add(-1)
		return false
	}
	return true
}

// backoff returns the wait before retry n (from 0).
func backoff(n int) time.Duration {
	ceiling := retryBackoffMax
	if n < 16 {
		ceiling = min(retryBackoffBase<<n, retryBackoffMax)
	}
	return rand.N(ceiling)
}

// sleepBackoff waits before retry n. It returns false without waiting
// when the wait would reach deadline (zero means none), and false early
// when ctx is done.
func sleepBackoff(ctx context.Context, n int, deadline time.Time) bool {
	d := backoff(n)
	if !deadline.IsZero() && !time.Now().Add(d).Before(deadline) {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logRetry logs a retry decision, at most once per second per service.
// The line's count includes the decisions held back since the last line.
func (u *Upstream) logRetry(call *Call, r *replica, attempt int, e *Error, msg string) {
	n, ok := u.retryLog.allow()
	if !ok {
		return
	}
	u.log.Info(msg, "service", u.svc.Name, "replica", r.url, "request_id", string(call.RequestID()),
		"attempt", attempt+1, "error", e.Error(), "count", n)
}

// logLimiter lets one log line through per second and counts the ones it
// holds back.
type logLimiter struct {
	last       atomic.Int64 // Unix nanoseconds of the last line let through
	suppressed atomic.Int64
}

// allow reports whether a line may be logged now and, when it may, how
// many events the line stands for (itself and those held back).
func (l *logLimiter) allow() (int64, bool) {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0) + 1, true
}
