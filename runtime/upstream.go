package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// UpstreamOptions tunes the HTTP client of a remote service. Zero values
// take the defaults given on each field.
type UpstreamOptions struct {
	// Replicas lists more addresses of the same service, load balanced with
	// the service's URL.
	Replicas []string
	// DialTimeout bounds connecting to a replica. Zero means 2 s.
	DialTimeout time.Duration
	// IdleTimeout closes pooled connections unused this long. Zero means
	// 90 s.
	IdleTimeout time.Duration
	// MaxResponseBytes caps an upstream's response body. Zero means 64 MiB.
	MaxResponseBytes int
	// Retries is the number of extra attempts after a connect error, a
	// timeout, 502, 503 or 504. Zero means none.
	Retries int
	// NotIdempotent forbids retrying a call once its bytes were sent,
	// because the service may have acted on it.
	NotIdempotent bool
	// Breaker configures the circuit breaker of each replica.
	Breaker BreakerSettings
	// Health configures active health checks; a zero Interval disables them.
	Health HealthSettings
}

// BreakerSettings configures one circuit breaker per replica. Failures are
// transport errors, timeouts and 5xx answers; 4xx never counts. Zero values
// take the defaults given on each field.
type BreakerSettings struct {
	// Disabled turns the breaker off.
	Disabled bool
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row. Zero means 5.
	ConsecutiveFailures uint32
	// FailureRatio opens the breaker when failures/requests reaches it,
	// once MinRequests were seen in the current window. Zero means 0.5.
	FailureRatio float64
	// MinRequests is the smallest window FailureRatio applies to. Zero
	// means 20.
	MinRequests uint32
	// OpenTimeout is how long the breaker stays open before letting probes
	// through. Zero means 10 s.
	OpenTimeout time.Duration
	// HalfOpenRequests is the number of probes allowed while half-open;
	// that many successes close it again. Zero means 3.
	HalfOpenRequests uint32
	// Interval clears the closed-state counts this often. Zero means 60 s.
	Interval time.Duration
}

// HealthSettings configures active health checks of each replica.
type HealthSettings struct {
	// Path is requested with GET on each replica; 2xx means healthy.
	// Empty means "/health".
	Path string
	// Interval between probes. Zero disables active health checks.
	Interval time.Duration
	// Timeout of one probe. Zero means 1 s.
	Timeout time.Duration
	// Unhealthy is the number of failed probes in a row that mark a replica
	// unhealthy, and Healthy the number of passing ones that mark it healthy
	// again. Zero means 2 each.
	Unhealthy, Healthy int
}

// Upstream calls one remote service over pooled keep-alive connections. It
// is the Executor of remote nodes and is safe for concurrent use.
type Upstream struct {
	svc      *MicroService
	timeout  time.Duration
	replicas []*replica
	// next rotates the replica that wins a tie in acquire.
	next atomic.Uint32
}

const (
	defaultMaxConns         = 512
	defaultDialTimeout      = 2 * time.Second
	defaultIdleTimeout      = 90 * time.Second
	defaultMaxResponseBytes = 64 << 20
)

// NewUpstream creates the client of a remote service. It fails when an
// address is not an absolute http or https URL.
func NewUpstream(svc *MicroService, opts UpstreamOptions) (*Upstream, error) {
	first, err := svc.EndpointURL()
	if err != nil {
		return nil, err
	}
	u := &Upstream{svc: svc, timeout: svc.Timeout}
	if u.timeout <= 0 {
		u.timeout = DefaultServiceTimeout
	}
	for _, raw := range append([]string{first}, opts.Replicas...) {
		r, err := newReplica(svc, raw, opts)
		if err != nil {
			return nil, err
		}
		u.replicas = append(u.replicas, r)
	}
	return u, nil
}

func newReplica(svc *MicroService, raw string, opts UpstreamOptions) (*replica, error) {
	parsed, err := url.Parse(raw)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return nil, fmt.Errorf("service %q: replica url %q must be an absolute http:// or https:// URL", svc.Name, raw)
	}
	addr := parsed.Host
	if parsed.Port() == "" {
		port := "80"
		if parsed.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(parsed.Hostname(), port)
	}
	dialTimeout := cmpOr(opts.DialTimeout, defaultDialTimeout)
	maxConns := svc.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	client := &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      "megaflow",
		IsTLS:                     parsed.Scheme == "https",
		MaxConns:                  maxConns,
		MaxIdleConnDuration:       cmpOr(opts.IdleTimeout, defaultIdleTimeout),
		MaxResponseBodySize:       cmpOr(opts.MaxResponseBytes, defaultMaxResponseBytes),
		MaxIdemponentCallAttempts: 1,
		// Retries are megaflow's own decision, never fasthttp's.
		RetryIfErr:               func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		Dial: func(addr string) (net.Conn, error) {
			return fasthttp.DialTimeout(addr, dialTimeout)
		},
	}
	return &replica{url: raw, client: client}, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Service returns the service this upstream calls.
func (u *Upstream) Service() *MicroService { return u.svc }

// Execute sends call.Input to the service and stores its answer in call.
func (u *Upstream) Execute(ctx context.Context, call *Call) error {
	if err := ctx.Err(); err != nil {
		return &Error{Status: 504, Message: "request ended before the service was called", Service: u.svc.Name, Err: err}
	}
	r, err := u.acquire(nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(u.timeout)
	if d := call.Deadline(); !d.IsZero() && d.Before(deadline) {
		deadline = d
	}

	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	u.buildRequest(req, r, call)
	resp.Header.SetNoDefaultContentType(true)

	err = r.client.DoDeadline(req, resp, deadline)
	call.upstreamAttempts++
	call.upstreamReplica = r.url
	u.release(r, err, resp.StatusCode())
	if err != nil {
		return u.transportError(err)
	}
	status := resp.StatusCode()
	call.Status = status
	switch {
	case status >= 500:
		return &Error{Status: 502, Message: "service answered with an error", Service: u.svc.Name, UpstreamStatus: status}
	case status >= 400:
		// The service rejected what the client sent: pass its status on.
		return &Error{Status: status, Message: "service rejected the request", Service: u.svc.Name, UpstreamStatus: status}
	}
	call.SetOutput(resp.Body())
	call.SetOutputType(resp.Header.ContentType())
	return nil
}

func (u *Upstream) buildRequest(req *fasthttp.Request, r *replica, call *Call) {
	req.SetRequestURI(r.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	if len(call.InputType) > 0 {
		req.Header.SetContentTypeBytes(call.InputType)
	} else {
		req.Header.SetNoDefaultContentType(true)
	}
	if id := call.RequestID(); len(id) > 0 {
		req.Header.SetBytesV("X-Request-Id", id)
	}
	if tp := call.Traceparent(); len(tp) > 0 {
		req.Header.SetBytesV("Traceparent", tp)
	}
	call.VisitHeaders(func(k, v []byte) { req.Header.AddBytesKV(k, v) })
	req.SetBodyRaw(call.Input)
}

// transportError maps a failed exchange to the client's status: 504 when a
// deadline passed, 502 for refused, reset or unparsable answers.
func (u *Upstream) transportError(err error) *Error {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return &Error{Status: 504, Message: "service timed out", Service: u.svc.Name, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Status: 504, Message: "service timed out", Service: u.svc.Name, Err: err}
	}
	return &Error{Status: 502, Message: "service unreachable or answered an invalid response", Service: u.svc.Name, Err: err}
}

// Close closes idle pooled connections. In-flight calls finish normally.
func (u *Upstream) Close() error {
	for _, r := range u.replicas {
		r.client.CloseIdleConnections()
	}
	return nil
}
