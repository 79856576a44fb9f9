package runtime

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"
)

// BreakerState is the state of a replica's circuit breaker.
type BreakerState int32

// The states of a circuit breaker. A closed breaker lets calls through, an
// open one rejects them until its open timeout passes, and a half-open one
// lets a few probe calls through to decide whether to close again.
const (
	BreakerClosed BreakerState = iota
	BreakerHalfOpen
	BreakerOpen
)

// String returns "closed", "half-open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// Defaults of BreakerSettings.
const (
	defaultConsecutiveFailures = 5
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 20
	defaultOpenTimeout         = 10 * time.Second
	defaultHalfOpenRequests    = 3
	defaultBreakerInterval     = 60 * time.Second
)

// breaker is the circuit breaker of one replica. gobreaker runs the state
// machine, and breaker adds what the call path needs without taking
// gobreaker's mutex or allocating:
//
//   - state mirrors gobreaker's state, so admitting a call to a closed
//     breaker is one atomic load. gobreaker reports every change through
//     OnStateChange, under its mutex, so the mirror never misses one. The
//     change from open to half-open happens only when gobreaker is asked
//     for its state, which admit does once the open timeout passed.
//   - probes counts the half-open calls admitted, so at most maxProbes
//     calls reach a half-open replica. gobreaker's own limit applies
//     when an outcome is recorded, which is too late for a split
//     acquire/release.
//
// Outcomes are recorded with one Execute call each in record, with
// package-level functions so that nothing escapes to the heap.
type breaker struct {
	cb          *gobreaker.CircuitBreaker[struct{}]
	state       atomic.Int32 // a BreakerState
	openUntil   atomic.Int64 // Unix nanoseconds at which an open breaker lets probes through
	probes      atomic.Int32
	maxProbes   int32
	openTimeout time.Duration
	transitions atomic.Uint64
}

// errReplicaFailed is the error record passes to gobreaker for a failed
// call.
var errReplicaFailed = errors.New("replica call failed")

func reportSuccess() (struct{}, error) { return struct{}{}, nil }
func reportFailure() (struct{}, error) { return struct{}{}, errReplicaFailed }

// newBreaker returns the breaker of the replica at url, or nil when
// set.Disabled. State changes are logged once each on logger.
func newBreaker(set BreakerSettings, service, url string, logger *slog.Logger) *breaker {
	if set.Disabled {
		return nil
	}
	consecutive := cmpOr(set.ConsecutiveFailures, defaultConsecutiveFailures)
	ratio := cmpOr(set.FailureRatio, defaultFailureRatio)
	minRequests := cmpOr(set.MinRequests, defaultMinRequests)
	probes := cmpOr(set.HalfOpenRequests, defaultHalfOpenRequests)
	b := &breaker{
		maxProbes:   int32(min(probes, 1<<30)),
		openTimeout: cmpOr(set.OpenTimeout, defaultOpenTimeout),
	}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        url,
		MaxRequests: probes,
		Interval:    cmpOr(set.Interval, defaultBreakerInterval),
		Timeout:     b.openTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= consecutive {
				return true
			}
			return c.Requests >= minRequests && float64(c.TotalFailures) >= ratio*float64(c.Requests)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.onStateChange(breakerState(from), breakerState(to))
			logger.Warn("circuit breaker state changed",
				"service", service, "replica", url, "from", breakerState(from).String(), "to", breakerState(to).String())
		},
	})
	return b
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// onStateChange updates the mirror. gobreaker calls it with its mutex
// held, so changes arrive one at a time and in order. The probe count and
// the open deadline are stored before the state, so a caller that loads
// the new state also loads them.
func (b *breaker) onStateChange(from, to BreakerState) {
	switch to {
	case BreakerOpen:
		b.openUntil.Store(time.Now().Add(b.openTimeout).UnixNano())
	case BreakerHalfOpen:
		b.probes.Store(0)
	}
	b.state.Store(int32(to))
	b.transitions.Add(1)
}

// available reports whether admit would let a call through now, without
// taking a probe slot.
func (b *breaker) available() bool {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerOpen:
		return time.Now().UnixNano() >= b.openUntil.Load()
	}
	return b.probes.Load() < b.maxProbes
}

// admit reports whether a call may go to the replica now. For a half-open
// breaker it takes one of the probe slots, which the call's outcome then
// gives back through record.
func (b *breaker) admit() bool {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if time.Now().UnixNano() < b.openUntil.Load() {
			return false
		}
		// Past the open timeout: asking gobreaker for its state moves it
		// to half-open, which onStateChange mirrors.
		if breakerState(b.cb.State()) == BreakerClosed {
			return true
		}
	}
	for {
		n := b.probes.Load()
		if BreakerState(b.state.Load()) != BreakerHalfOpen || n >= b.maxProbes {
			return BreakerState(b.state.Load()) == BreakerClosed
		}
		if b.probes.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// callOutcome is the class of a finished call for its replica's breaker.
type callOutcome uint8

const (
	outcomeSuccess callOutcome = iota
	outcomeFailure
	// outcomeIgnored marks a call whose result does not reflect the
	// replica's health: the request was canceled, or the local connection
	// pool was full.
	outcomeIgnored
)

// record reports a finished call to gobreaker, which may open or close
// the breaker. A result that reaches gobreaker after the state changed
// counts for the new state, unlike with gobreaker's own Execute, because
// release does not know in which state its call was admitted.
func (b *breaker) record(o callOutcome) {
	switch o {
	case outcomeSuccess:
		b.cb.Execute(reportSuccess)
	case outcomeFailure:
		b.cb.Execute(reportFailure)
	default:
		// Give back a probe slot, so that an ignored probe does not leave a
		// half-open breaker waiting for outcomes that never come. When the
		// call was not a probe this lets one more probe through, which is
		// harmless.
		if BreakerState(b.state.Load()) == BreakerHalfOpen {
			for {
				n := b.probes.Load()
				if n <= 0 || b.probes.CompareAndSwap(n, n-1) {
					break
				}
			}
		}
	}
}

// retryAfter returns how long until an open breaker lets probes through,
// or zero when it is not open.
func (b *breaker) retryAfter() time.Duration {
	if BreakerState(b.state.Load()) != BreakerOpen {
		return 0
	}
	return max(time.Duration(b.openUntil.Load()-time.Now().UnixNano()), 0)
}

// errAttemptCutShort marks an attempt that timed out at the flow's
// deadline before its own timeout: the replica did not get its full time,
// so the timeout does not count against it.
var errAttemptCutShort = errors.New("the flow deadline ended the call before the service's timeout")

// errStaleConnection marks an attempt that failed on a pooled connection
// the service had closed, which Execute retries on a new connection.
var errStaleConnection = errors.New("the service closed the pooled connection before the response")

// classifyOutcome decides how a call counts for its replica's breaker.
// Failures are transport errors, timeouts and 5xx responses. 4xx
// responses are the client's fault and count as successes.
func classifyOutcome(err error, status int) callOutcome {
	switch {
	case err == nil && status >= 500:
		return outcomeFailure
	case err == nil:
		return outcomeSuccess
	case errors.Is(err, context.Canceled), errors.Is(err, ErrCanceled),
		errors.Is(err, errAttemptCutShort), errors.Is(err, errStaleConnection),
		errors.Is(err, fasthttp.ErrNoFreeConns):
		return outcomeIgnored
	}
	return outcomeFailure
}
