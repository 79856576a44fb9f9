package runtime

import (
	"sync/atomic"
	"time"
)

// Nodes that become ready while another node is already running on the
// current goroutine are handed to a shared set of worker goroutines. A
// worker waits for work on an unbuffered channel, so a send succeeds only
// when a worker is idle; otherwise a new worker starts. Workers exit after
// workerIdle without work, so the set grows with load and shrinks
// back. Steady-state dispatch allocates nothing; only starting a worker does.

type task struct {
	rs   *runState
	node int32
}

var (
	workerTasks = make(chan task)
	// workerCount is the number of live workers, busy or idle.
	workerCount atomic.Int32
	// workersBusy is the number of workers running a node.
	workersBusy atomic.Int32
)

// workerIdle is how long an idle worker waits before it exits, in
// nanoseconds: 10 s. Leak tests shorten it.
var workerIdle atomic.Int64

func init() { workerIdle.Store(int64(10 * time.Second)) }

// dispatch runs node on some worker goroutine.
func dispatch(rs *runState, node int32) {
	t := task{rs: rs, node: node}
	select {
	case workerTasks <- t:
	default:
		workerCount.Add(1)
		workersBusy.Add(1)
		go workerLoop(t)
	}
}

func workerLoop(t task) {
	timer := time.NewTimer(time.Duration(workerIdle.Load()))
	defer timer.Stop()
	for {
		t.rs.execFrom(t.node)
		workersBusy.Add(-1)
		timer.Reset(time.Duration(workerIdle.Load()))
		select {
		case t = <-workerTasks:
			workersBusy.Add(1)
		case <-timer.C:
			workerCount.Add(-1)
			return
		}
	}
}
