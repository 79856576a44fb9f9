package runtime

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// maxReplicas bounds the addresses of one service, so that acquire can
// track the replicas it tried in one 64-bit mask.
const maxReplicas = 64

// replica is one address of a service with its own connection pool,
// circuit breaker and health state.
type replica struct {
	url string
	// uri is url parsed once and copied into each request, which
	// BenchmarkBuildRequest measured as about 100 ns cheaper per call
	// than parsing url again.
	uri    fasthttp.URI
	client *fasthttp.HostClient
	index  int
	// outstanding counts calls acquired and not yet released.
	outstanding atomic.Int64
	// breaker is nil when the service disables breakers.
	breaker *breaker
	health  replicaHealth
	// calls counts attempts by outcome for megaflow_replica_calls_total;
	// it is shared with other upstreams of the same service and address.
	calls *replicaCounters
}

// usable reports whether the replica may be picked: it passed its health
// checks and its breaker would let a call through.
func (r *replica) usable() bool {
	return r.health.healthy.Load() && (r.breaker == nil || r.breaker.available())
}

// acquire picks the replica for the next call and reserves it.
//
// A replica is usable when it is healthy and its breaker is closed,
// half-open with a probe slot free, or open past its open timeout. Among
// the usable replicas acquire picks the one with the fewest outstanding
// calls, and ties go round-robin.
// exclude, when not nil, is picked only when no other replica is usable,
// so that a retry goes to another replica when there is one.
//
// On success the replica's outstanding count is incremented and, when its
// breaker is half-open, one probe slot is taken. The caller must then call
// release exactly once with the same replica when the call ends, streamed
// or not. acquire does not allocate on this path.
//
// When no replica is usable, acquire returns a 503 *Error naming the
// service, with RetryAfter set to the time until the first open breaker
// lets probes through, or one health check interval, and at least 1 s.
func (u *Upstream) acquire(exclude *replica) (*replica, error) {
	var tried uint64
	for range len(u.list()) {
		r := u.pick(exclude, tried)
		if r == nil {
			break
		}
		if r.breaker == nil || r.breaker.admit() {
			r.outstanding.Add(1)
			return r, nil
		}
		// Another caller took the last probe slot, or the breaker opened
		// since pick looked at it.
		tried |= 1 << r.index
	}
	return nil, u.unavailable()
}

// pick returns the usable replica with the fewest outstanding calls, not
// in the tried mask, preferring any replica to exclude. It returns nil
// when none is usable.
func (u *Upstream) pick(exclude *replica, tried uint64) *replica {
	var best *replica
	var bestLoad int64
	excludeUsable := false
	list := u.list()
	n := uint32(len(list))
	// A retry does not move the rotation, so that a failing replica's
	// retries do not shift its neighbours' turns onto it.
	var start uint32
	if exclude == nil {
		start = u.next.Add(1)
	} else {
		start = u.next.Load()
	}
	for k := range n {
		r := list[(start+k)%n]
		if tried&(1<<r.index) != 0 || !r.usable() {
			continue
		}
		if r == exclude {
			excludeUsable = true
			continue
		}
		// Strictly fewer: among equals the first in rotation order wins,
		// and the rotation start moves with every call.
		if load := r.outstanding.Load(); best == nil || load < bestLoad {
			best, bestLoad = r, load
		}
	}
	if best == nil && excludeUsable {
		return exclude
	}
	return best
}

// release ends a call reserved with acquire: it records the call's outcome
// in the replica's breaker and decrements its outstanding count.
//
// err is the transport error of the exchange, nil when the replica sent a
// response, and status is the response's HTTP status, 0 when there was
// none. Transport errors, timeouts and status 500 and above count as
// failures. Any other response, 4xx included, counts as a success. An err
// that wraps context.Canceled or ErrCanceled (the request ended, the client
// went away) or fasthttp.ErrNoFreeConns counts neither way, and neither
// does a timeout at the flow's deadline or a stale pooled connection that
// Execute reports as errAttemptCutShort or errStaleConnection. A streamed call should release with a nil err once
// the stream ended normally.
func (u *Upstream) release(r *replica, err error, status int) {
	outcome := classifyOutcome(err, status)
	if r.breaker != nil {
		r.breaker.record(outcome)
	}
	if int(outcome) < len(r.calls.byOutcome) {
		r.calls.byOutcome[outcome].Add(1)
	}
	r.outstanding.Add(-1)
}

// unavailable returns the 503 error of a call that found no usable
// replica.
func (u *Upstream) unavailable() *Error {
	wait := time.Duration(math.MaxInt64)
	open := 0
	for _, r := range u.list() {
		var d time.Duration
		switch {
		case r.breaker != nil && BreakerState(r.breaker.state.Load()) == BreakerOpen:
			d = r.breaker.retryAfter()
			open++
		case !r.health.healthy.Load():
			d = u.health.Interval
		default:
			// Half-open with every probe slot taken: probes end soon.
			d = time.Second
		}
		wait = min(wait, d)
	}
	e := &Error{Status: 503, Service: u.svc.Name, RetryAfter: max(wait, time.Second)}
	if open == len(u.list()) {
		e.Message = "service unavailable: the circuit breaker of every replica is open"
	} else {
		e.Message = "service unavailable: no healthy replica"
	}
	return e
}

// ReplicaStatus is one replica's state at the moment Replicas was called,
// for metrics.
type ReplicaStatus struct {
	// URL is the replica's address as configured.
	URL string
	// Healthy is false after the replica failed its active health checks;
	// always true when they are off.
	Healthy bool
	// Breaker is the state of its circuit breaker; always BreakerClosed
	// when breakers are disabled. An open breaker whose open timeout passed
	// reads BreakerOpen until the next call moves it to half-open.
	Breaker BreakerState
	// BreakerTransitions counts the breaker's state changes since the
	// upstream was created.
	BreakerTransitions uint64
	// Outstanding is the number of calls in progress on the replica.
	Outstanding int64
}

// Replicas returns the state of every replica, the service's URL first.
// It allocates the returned slice and is meant for scrapes, not calls.
func (u *Upstream) Replicas() []ReplicaStatus {
	list := u.list()
	out := make([]ReplicaStatus, len(list))
	for i, r := range list {
		out[i] = ReplicaStatus{URL: r.url, Healthy: r.health.healthy.Load(), Outstanding: r.outstanding.Load()}
		if r.breaker != nil {
			out[i].Breaker = BreakerState(r.breaker.state.Load())
			out[i].BreakerTransitions = r.breaker.transitions.Load()
		}
	}
	return out
}

// Usable reports whether a call could be sent now: at least one replica
// is healthy and its breaker would let the call through. /readyz uses it.
func (u *Upstream) Usable() bool {
	for _, r := range u.list() {
		if r.usable() {
			return true
		}
	}
	return false
}
