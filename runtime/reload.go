package runtime

import (
	"sync"
	"sync/atomic"
)

// Hot reload swaps the server's snapshot atomically. Each request holds a
// reference to the snapshot it started on, so in-flight requests and
// streams finish on the old one. The old snapshot's resources (upstream
// pools, health checks, plugin instances, built-in services) are closed
// when its last request ends.

// snapshotRefs is the reference count embedded in a Snapshot.
type snapshotRefs struct {
	refs      atomic.Int64
	retired   atomic.Bool
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// acquireSnapshot returns the current snapshot with a reference held for
// the caller, who must call releaseSnapshot.
func (s *Server) acquireSnapshot() *Snapshot {
	for {
		snap := s.snap.Load()
		snap.refs.Add(1)
		if s.snap.Load() == snap {
			return snap
		}
		// Swapped in between: the old snapshot may already be closing.
		s.releaseSnapshot(snap)
	}
}

func (s *Server) releaseSnapshot(snap *Snapshot) {
	if snap.refs.Add(-1) == 0 && snap.retired.Load() {
		// Closing waits for pools and built-in servers to stop; the
		// request that happened to be last must not wait for it.
		go snap.closeNow(s)
	}
}

// Swap makes snap the served snapshot and retires the previous one, which
// is closed once its in-flight requests end. It returns the previous
// snapshot. Listener settings (address, timeouts, body limit of the
// fasthttp server) keep their values from NewServer; a restart applies
// them.
func (s *Server) Swap(snap *Snapshot) *Snapshot {
	old := s.snap.Swap(snap)
	if old == nil || old == snap {
		return old
	}
	old.retired.Store(true)
	// The server holds no reference of its own, so a snapshot with no
	// request in flight closes now; otherwise its last request closes it.
	old.refs.Add(1)
	s.releaseSnapshot(old)
	return old
}

// closeNow closes the snapshot's resources and logs a failure.
func (snap *Snapshot) closeNow(s *Server) {
	if err := snap.Close(); err != nil && s != nil {
		s.log.Error("closing a retired configuration failed", "error", err)
	}
}
