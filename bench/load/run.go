package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// runner is the shared state of one run.
type runner struct {
	cfg    Config
	client *fasthttp.HostClient

	start        time.Time
	measureStart time.Time // start + warmup
	deadline     time.Time // measureStart + duration; zero without a time bound
	interval     float64   // open loop: nanoseconds between scheduled sends

	seq    atomic.Uint64 // next request number, warmup included
	issued atomic.Int64  // measured requests sent or claimed

	done     chan struct{}
	stopOnce sync.Once
	shards   []*shard
}

// Run sends load as cfg describes and returns the figures. It returns once
// the duration or the request count is reached and every in-flight request
// has finished or timed out. After ctx is cancelled it returns as soon as
// the in-flight requests end, with figures for the part that ran. The
// error reports an invalid cfg.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, client: client, done: make(chan struct{})}
	if cfg.Rate > 0 {
		r.interval = float64(time.Second) / cfg.Rate
	}
	nShards := min(cfg.Connections, 64)
	for range nShards {
		r.shards = append(r.shards, newShard(cfg.SSE))
	}

	r.start = time.Now()
	r.measureStart = r.start.Add(cfg.Warmup)
	if cfg.Duration > 0 {
		r.deadline = r.measureStart.Add(cfg.Duration)
	}
	stopWatch := context.AfterFunc(ctx, r.stop)
	defer stopWatch()
	if !r.deadline.IsZero() && r.interval == 0 {
		timer := time.AfterFunc(time.Until(r.deadline), r.stop)
		defer timer.Stop()
	}

	windowOpened := make(chan struct{})
	openWindow := func() {
		if cfg.OnWindow != nil {
			cfg.OnWindow(true)
		}
		close(windowOpened)
	}
	windowTimer := time.AfterFunc(cfg.Warmup, openWindow)

	col := newCollector(r)
	collectorDone := col.start()

	var workers sync.WaitGroup
	for i := range cfg.Connections {
		w := newWorker(r, r.shards[i%nShards])
		workers.Go(w.loop)
	}
	workers.Wait()
	end := time.Now()
	r.stop()
	// A run that ended during the warmup still opens the window first, so
	// OnWindow receives true before false.
	if windowTimer.Stop() {
		openWindow()
	}
	<-windowOpened
	if cfg.OnWindow != nil {
		cfg.OnWindow(false)
	}
	<-collectorDone
	col.collect(end, true)
	col.clearProgress()
	return col.result(end, ctx.Err() != nil), nil
}

func newClient(cfg *Config) (*fasthttp.HostClient, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid target URL %q: %w", cfg.URL, err)
	}
	tlsTarget := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if tlsTarget {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return &fasthttp.HostClient{
		Addr:                addr,
		Name:                "megaflow-bench",
		IsTLS:               tlsTarget,
		TLSConfig:           &tls.Config{ServerName: u.Hostname()},
		MaxConns:            cfg.Connections,
		MaxIdleConnDuration: time.Minute,
		ReadBufferSize:      16 << 10,
		WriteBufferSize:     16 << 10,
		StreamResponseBody:  cfg.SSE,
		// One attempt per request: a retried GET would count as one
		// success with the latency of both attempts.
		MaxIdemponentCallAttempts: 1,
		// Without dual-stack dialing, fasthttp resolves the host to IPv4
		// addresses only, so an IPv6 target such as [::1] fails to connect.
		DialDualStack: true,
	}, nil
}

func (r *runner) stop() {
	r.stopOnce.Do(func() { close(r.done) })
}

func (r *runner) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// scheduledTime returns the open-loop send time of request seq.
func (r *runner) scheduledTime(seq uint64) time.Time {
	return r.start.Add(time.Duration(float64(seq) * r.interval))
}

// claim takes the next request number and returns it with its scheduled
// send time. In the open loop it first sleeps until that time, and in the
// closed loop the time is now. ok is false when the run is over.
func (r *runner) claim(timer *time.Timer) (seq uint64, scheduled time.Time, measured, ok bool) {
	if r.stopped() {
		return 0, time.Time{}, false, false
	}
	seq = r.seq.Add(1) - 1
	if r.interval == 0 {
		scheduled = time.Now()
	} else {
		scheduled = r.scheduledTime(seq)
		// A request due inside the window but still unclaimed when the
		// window closes counts as unsent, so the run ends on time under
		// overload.
		if !r.deadline.IsZero() && (!scheduled.Before(r.deadline) || !time.Now().Before(r.deadline)) {
			return 0, time.Time{}, false, false
		}
		if !r.sleepUntil(timer, scheduled) {
			return 0, time.Time{}, false, false
		}
	}
	measured = !scheduled.Before(r.measureStart)
	if measured && r.cfg.Requests > 0 && r.issued.Add(1) > r.cfg.Requests {
		r.stop()
		return 0, time.Time{}, false, false
	}
	if measured && r.cfg.Requests == 0 {
		r.issued.Add(1)
	}
	return seq, scheduled, measured, true
}

// sleepUntil waits until t on the caller's stopped timer, which it leaves
// stopped, and returns false if the run stopped first.
func (r *runner) sleepUntil(timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer.Reset(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.done:
		return false
	}
}

// unsent counts the open-loop requests scheduled inside the measured window
// that were never sent.
func (r *runner) unsent() int64 {
	if r.interval == 0 || r.deadline.IsZero() {
		return 0
	}
	first := uint64((r.measureStart.Sub(r.start).Nanoseconds() + int64(r.interval) - 1) / int64(r.interval))
	last := uint64((r.deadline.Sub(r.start).Nanoseconds() - 1) / int64(r.interval))
	due := int64(last - first + 1)
	if r.cfg.Requests > 0 {
		due = min(due, r.cfg.Requests)
	}
	return max(due-min(r.issued.Load(), due), 0)
}
