package runtime

import (
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults of HealthSettings.
const (
	defaultHealthPath      = "/health"
	defaultHealthTimeout   = time.Second
	defaultHealthThreshold = 2
)

func (h HealthSettings) withDefaults() HealthSettings {
	h.Path = cmpOr(h.Path, defaultHealthPath)
	if !strings.HasPrefix(h.Path, "/") {
		h.Path = "/" + h.Path
	}
	h.Timeout = cmpOr(h.Timeout, defaultHealthTimeout)
	h.Unhealthy = cmpOr(h.Unhealthy, defaultHealthThreshold)
	h.Healthy = cmpOr(h.Healthy, defaultHealthThreshold)
	return h
}

// replicaHealth is the result of a replica's active health checks. A
// replica starts healthy, so that calls flow before the first probe.
type replicaHealth struct {
	healthy atomic.Bool
	// probeURL is requested with GET: the replica's scheme and host with
	// HealthSettings.Path.
	probeURL string
	// probeClient is separate from the call pool, so that probes neither
	// wait behind a full pool nor count as its traffic.
	probeClient *fasthttp.HostClient
	// passed and failed count probes in a row; only the health goroutine
	// touches them.
	passed, failed int
}

func newProbeClient(addr string, isTLS bool, tlsConfig *tls.Config, dialTimeout time.Duration) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      "megaflow-health",
		IsTLS:                     isTLS,
		TLSConfig:                 tlsConfig,
		MaxConns:                  1,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		// fasthttp passes the probe's remaining time as timeout.
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if timeout <= 0 || timeout > dialTimeout {
				timeout = dialTimeout
			}
			return fasthttp.DialTimeout(addr, timeout)
		},
	}
}

// startHealthChecks starts the goroutine that probes every replica each
// interval, when active health checks are on. Close stops it.
func (u *Upstream) startHealthChecks() {
	if u.health.Interval <= 0 {
		return
	}
	u.stopHealth = make(chan struct{})
	u.healthDone = make(chan struct{})
	go u.checkHealth()
}

// checkHealth probes every replica at once and then every interval, until
// stopHealth is closed. It probes one replica at a time, so a round takes
// up to one probe timeout per replica that does not respond.
func (u *Upstream) checkHealth() {
	defer close(u.healthDone)
	ticker := time.NewTicker(u.health.Interval)
	defer ticker.Stop()
	for {
		for _, r := range u.list() {
			select {
			case <-u.stopHealth:
				return
			default:
			}
			u.observeProbe(r, u.probe(r))
		}
		select {
		case <-u.stopHealth:
			return
		case <-ticker.C:
		}
	}
}

// probe sends one GET to the replica's health path and reports whether it
// responded with a 2xx status within the timeout. Each probe uses a new connection
// ("Connection: close"), so it checks that the replica accepts connections
// and leaves no pooled connection behind.
func (u *Upstream) probe(r *replica) bool {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.health.probeURL)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetConnectionClose()
	resp.SkipBody = true
	if err := r.health.probeClient.DoTimeout(req, resp, u.health.Timeout); err != nil {
		u.log.Debug("health check failed", "service", u.svc.Name, "replica", r.url, "error", err.Error())
		return false
	}
	if status := resp.StatusCode(); status < 200 || status > 299 {
		u.log.Debug("health check failed", "service", u.svc.Name, "replica", r.url, "status", status)
		return false
	}
	return true
}

// observeProbe counts a probe result and flips the replica's health after
// Unhealthy failures or Healthy passes in a row, logging each change once.
func (u *Upstream) observeProbe(r *replica, ok bool) {
	h := &r.health
	if ok {
		h.passed++
		h.failed = 0
		if !h.healthy.Load() && h.passed >= u.health.Healthy {
			h.healthy.Store(true)
			u.log.Info("replica passed its health checks", "service", u.svc.Name, "replica", r.url, "checks", h.passed)
		}
		return
	}
	h.failed++
	h.passed = 0
	if h.healthy.Load() && h.failed >= u.health.Unhealthy {
		h.healthy.Store(false)
		u.log.Warn("replica failed its health checks", "service", u.svc.Name, "replica", r.url, "checks", h.failed)
	}
}

// stopHealthChecks stops the health goroutine and waits for it to return,
// which takes at most one probe's timeout.
func (u *Upstream) stopHealthChecks() {
	if u.stopHealth == nil {
		return
	}
	close(u.stopHealth)
	<-u.healthDone
}
