package runtime

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// replica is one address of a service with its own connection pool.
type replica struct {
	url    string
	client *fasthttp.HostClient
	// outstanding counts calls acquired and not yet released.
	outstanding atomic.Int64
}

// acquire picks the replica for the next call: the one with the fewest
// outstanding calls, ties broken round-robin. exclude, when not nil, is
// picked only if no other replica is usable, so that a retry goes to
// another replica when there is one. The caller must pass the returned
// replica to release exactly once when the call ends.
//
// When no replica is usable, acquire returns a 503 *Error with RetryAfter
// set.
func (u *Upstream) acquire(exclude *replica) (*replica, error) {
	var best *replica
	n := uint32(len(u.replicas))
	start := u.next.Add(1)
	for k := range n {
		r := u.replicas[(start+k)%n]
		if r == exclude && n > 1 {
			continue
		}
		if best == nil || r.outstanding.Load() < best.outstanding.Load() {
			best = r
		}
	}
	if best == nil {
		return nil, &Error{Status: 503, Message: "no replica of the service is available", Service: u.svc.Name, RetryAfter: time.Second}
	}
	best.outstanding.Add(1)
	return best, nil
}

// release ends a call acquired with acquire. err is the transport error of
// the exchange (nil when the replica answered) and status the HTTP status it
// answered with (0 when it did not).
func (u *Upstream) release(r *replica, err error, status int) {
	r.outstanding.Add(-1)
}
