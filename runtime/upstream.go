package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// UpstreamOptions tunes the HTTP client of a remote service. Zero values
// take the defaults given on each field.
type UpstreamOptions struct {
	// Replicas lists more addresses of the same service, load balanced with
	// the service's URL; at most 63 besides it.
	Replicas []string
	// DialTimeout bounds connecting to a replica. Zero means 2 s.
	DialTimeout time.Duration
	// IdleTimeout closes pooled connections unused this long. Zero means
	// 4 s, below the shortest keep-alive timeouts of common servers
	// (uvicorn's Config.timeout_keep_alive and Node.js's keepAliveTimeout
	// default to 5 s), so megaflow drops an idle connection before the
	// service does.
	//
	// NOTE: a service that closes idle connections sooner than IdleTimeout
	// fails the next call on such a connection. Execute retries that call
	// once on a new connection, but not for a NotIdempotent service, so set
	// IdleTimeout below the service's keep-alive there.
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
	// Logger receives breaker state changes, health changes and retries.
	// Nil means slog.Default().
	Logger *slog.Logger
	// TLSCAFile, TLSCertFile and TLSKeyFile configure https replicas: a PEM
	// file of the CA certificates that verify them (empty means the system
	// roots), and a client certificate and key for mutual TLS (empty means
	// none). Calls and health probes use TLS 1.2 or later when any is set.
	TLSCAFile, TLSCertFile, TLSKeyFile string
}

// BreakerSettings configures one circuit breaker per replica. Failures are
// transport errors, timeouts and 5xx responses; 4xx never counts. Zero values
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

// Upstream calls one remote service over pooled keep-alive connections,
// spreading calls over its replicas, retrying failed attempts and keeping
// one circuit breaker per replica. It is the Executor of remote nodes and is
// safe for concurrent use. Close releases it.
type Upstream struct {
	svc     *MicroService
	timeout time.Duration
	// replicas is the current replica list, replaced whole (copy on write)
	// when replicas are registered or removed at run time.
	replicas atomic.Pointer[[]*replica]
	// opts and tlsConfig build replicas registered at run time; replicaMu
	// serializes those changes.
	opts      UpstreamOptions
	tlsConfig *tls.Config
	replicaMu sync.Mutex
	// next rotates the replica that wins a tie in acquire.
	next atomic.Uint32

	retries       int
	notIdempotent bool
	// inFlight counts Execute calls in progress and retrying the retries
	// among them, for the retry budget.
	inFlight, retrying atomic.Int64
	// authorization is the Authorization header value, empty for none.
	authorization []byte

	log        *slog.Logger
	retryLog   logLimiter
	health     HealthSettings
	stopHealth chan struct{}
	healthDone chan struct{}
	closeOnce  sync.Once
}

const (
	defaultMaxConns         = 512
	defaultDialTimeout      = 2 * time.Second
	defaultIdleTimeout      = 4 * time.Second
	defaultMaxResponseBytes = 64 << 20
)

// NewUpstream creates the client of a remote service: one connection pool
// and one breaker per replica, and the health check goroutine when
// opts.Health.Interval is set. It fails when an address is not an absolute
// http or https URL, or when there are more than 64 addresses.
func NewUpstream(svc *MicroService, opts UpstreamOptions) (*Upstream, error) {
	first, err := svc.EndpointURL()
	if err != nil {
		return nil, err
	}
	if n := 1 + len(opts.Replicas); n > maxReplicas {
		return nil, fmt.Errorf("service %q has %d addresses; at most %d are supported, so list fewer replicas", svc.Name, n, maxReplicas)
	}
	u := &Upstream{
		svc:           svc,
		timeout:       cmpOr(svc.Timeout, DefaultServiceTimeout),
		retries:       max(opts.Retries, 0),
		notIdempotent: opts.NotIdempotent,
		log:           opts.Logger,
		health:        opts.Health.withDefaults(),
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if svc.APIKey != "" {
		u.authorization = []byte("Bearer " + svc.APIKey)
	}
	tlsConfig, err := upstreamTLSConfig(opts.TLSCAFile, opts.TLSCertFile, opts.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	u.opts, u.tlsConfig = opts, tlsConfig
	var list []*replica
	for i, raw := range append([]string{first}, opts.Replicas...) {
		r, err := u.newReplica(raw, opts, tlsConfig)
		if err != nil {
			return nil, err
		}
		r.index = i
		list = append(list, r)
	}
	u.replicas.Store(&list)
	u.startHealthChecks()
	return u, nil
}

func (u *Upstream) newReplica(raw string, opts UpstreamOptions, tlsConfig *tls.Config) (*replica, error) {
	parsed, err := url.Parse(raw)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return nil, fmt.Errorf("service %q: replica url %q must be an absolute http:// or https:// URL", u.svc.Name, raw)
	}
	addr := parsed.Host
	if parsed.Port() == "" {
		port := "80"
		if parsed.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(parsed.Hostname(), port)
	}
	isTLS := parsed.Scheme == "https"
	dialTimeout := cmpOr(opts.DialTimeout, defaultDialTimeout)

	r := &replica{
		url:     raw,
		client:  u.newCallClient(addr, isTLS, tlsConfig, dialTimeout, opts),
		breaker: newBreaker(opts.Breaker, u.svc.Name, raw, u.log),
	}
	r.calls = acquireReplicaCounters(u.svc.Name, raw)
	if err := r.uri.Parse(nil, []byte(raw)); err != nil {
		return nil, fmt.Errorf("service %q: replica url %q: %w", u.svc.Name, raw, err)
	}
	r.health.healthy.Store(true)
	if u.health.Interval > 0 {
		r.health.probeURL = parsed.Scheme + "://" + parsed.Host + u.health.Path
		r.health.probeClient = newProbeClient(addr, isTLS, tlsConfig, dialTimeout)
	}
	return r, nil
}

// newCallClient returns the connection pool of one replica at addr.
func (u *Upstream) newCallClient(addr string, isTLS bool, tlsConfig *tls.Config, dialTimeout time.Duration, opts UpstreamOptions) *fasthttp.HostClient {
	maxConns := u.svc.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	return &fasthttp.HostClient{
		Addr:                addr,
		Name:                "megaflow",
		IsTLS:               isTLS,
		TLSConfig:           tlsConfig,
		MaxConns:            maxConns,
		MaxIdleConnDuration: cmpOr(opts.IdleTimeout, defaultIdleTimeout),
		// A call that finds every connection busy waits for one, up to the
		// attempt's deadline.
		MaxConnWaitTimeout:        u.timeout,
		MaxResponseBodySize:       cmpOr(opts.MaxResponseBytes, defaultMaxResponseBytes),
		MaxIdemponentCallAttempts: 1,
		// Retries are megaflow's own decision, never fasthttp's.
		RetryIfErr:               func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		NoDefaultUserAgentHeader: true,
		DisablePathNormalizing:   true,
		// fasthttp passes the attempt's remaining time as timeout.
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			if timeout <= 0 || timeout > dialTimeout {
				timeout = dialTimeout
			}
			conn, err := fasthttp.DialTimeout(addr, timeout)
			if err != nil {
				return nil, &dialError{err: err}
			}
			return conn, nil
		},
	}
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

// Execute sends call.Input to the service and stores its response in call.
//
// Each attempt goes to the replica acquire picks and ends at the service's
// timeout or the flow's deadline, whichever is first. A failed attempt is
// retried as retryable decides, up to UpstreamOptions.Retries times, after
// a backoff, on another replica when there is one. An attempt that failed
// because the service had closed the pooled connection is retried once
// more at once, unless the service is not idempotent. call records the
// number of attempts and the replica of the last one.
//
// # Errors
//
// Execute returns an *Error naming the service: 502 when the replica was
// unreachable, reset the connection, sent something that is not HTTP or
// responded with 5xx (UpstreamStatus is set then), 504 when an attempt
// timed out, 503 with RetryAfter when no replica was usable, and the
// replica's own status when it responded with 4xx.
func (u *Upstream) Execute(ctx context.Context, call *Call) error {
	return u.callService(ctx, call, false)
}

// callService makes the attempts of one call, as Execute describes. With
// stream set, an attempt that gets a text/event-stream response leaves it
// open in call (see executeStream), so retries can only happen before the
// first event reaches the client.
func (u *Upstream) callService(ctx context.Context, call *Call, stream bool) error {
	if err := ctx.Err(); err != nil {
		return &Error{Status: 504, Message: "request ended before the service was called", Service: u.svc.Name, Err: err}
	}
	u.inFlight.Add(1)
	defer u.inFlight.Add(-1)

	// A streamed response outlives this call, so streaming attempts take
	// their own request and response objects.
	var req *fasthttp.Request
	var resp *fasthttp.Response
	if !stream {
		req = fasthttp.AcquireRequest()
		resp = fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
	}

	var (
		prev       *replica
		last       *Error // the previous attempt's failure
		holdsRetry bool
	)
	// A pooled connection the service closed while idle fails the first
	// call that uses it. One such failure per call is retried at once on a
	// new connection, outside Retries and the budget.
	staleRetryLeft := !u.notIdempotent
	for attempt, retries := 0, 0; ; attempt++ {
		r, err := u.acquire(prev)
		if err != nil {
			if holdsRetry {
				u.retrying.Add(-1)
			}
			if ae, ok := err.(*Error); ok && last != nil {
				ae.Err = last // for the log: why the previous attempt failed
			}
			return err
		}
		var e *Error
		if stream {
			e = u.streamAttempt(r, call, staleRetryLeft)
		} else {
			if attempt > 0 {
				req.Reset()
			}
			e = u.attempt(r, req, resp, call, staleRetryLeft)
		}
		if holdsRetry {
			u.retrying.Add(-1)
			holdsRetry = false
		}
		if e == nil {
			return nil
		}
		last = e
		if staleRetryLeft && closedBeforeResponse(e.Err) {
			staleRetryLeft = false
			r.client.CloseIdleConnections()
			prev = nil
			continue
		}
		if retries >= u.retries || !u.retryable(e) || ctx.Err() != nil {
			return e
		}
		if !u.takeRetry() {
			u.logRetry(call, r, retries, e, "not retrying: the retry budget is exhausted")
			return e
		}
		if !sleepBackoff(ctx, retries, call.Deadline()) {
			u.retrying.Add(-1)
			return e
		}
		holdsRetry = true
		u.logRetry(call, r, retries, e, "retrying service call")
		retries++
		prev = r
	}
}

// closedBeforeResponse reports whether err is fasthttp's report of a
// connection the service closed before sending any byte of a response,
// which is how a pooled connection that the service closed while idle
// fails.
func closedBeforeResponse(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed)
}

// attempt makes one exchange with replica r, reports its outcome to
// release and maps a failure to the client's error. When forgiveClosed is
// true, a connection closed before the response does not count against
// the replica, because Execute retries it on a new connection.
func (u *Upstream) attempt(r *replica, req *fasthttp.Request, resp *fasthttp.Response, call *Call, forgiveClosed bool) *Error {
	deadline, cutShort := u.attemptDeadline(call)
	u.buildRequest(req, r, call)
	resp.Header.SetNoDefaultContentType(true)

	err := r.client.DoDeadline(req, resp, deadline)
	call.upstreamAttempts++
	call.upstreamReplica = r.url
	if err != nil {
		return u.failAttempt(r, err, cutShort, forgiveClosed)
	}
	status := resp.StatusCode()
	u.release(r, nil, status)
	return u.finishAttempt(call, status, resp)
}

// attemptDeadline returns when an attempt must end: after the service's
// timeout, or at the flow's deadline when that comes first (cutShort).
func (u *Upstream) attemptDeadline(call *Call) (deadline time.Time, cutShort bool) {
	deadline = time.Now().Add(u.timeout)
	if d := call.Deadline(); !d.IsZero() && d.Before(deadline) {
		return d, true
	}
	return deadline, false
}

// failAttempt releases r after a failed exchange and returns the client's
// error. A timeout caused by the flow's deadline, and a stale pooled
// connection that is retried at once, do not count against the replica.
func (u *Upstream) failAttempt(r *replica, err error, cutShort, forgiveClosed bool) *Error {
	outcome := err
	switch {
	case cutShort && isTimeoutError(err):
		outcome = errAttemptCutShort
	case forgiveClosed && closedBeforeResponse(err):
		outcome = errStaleConnection
	}
	u.release(r, outcome, 0)
	return u.transportError(err)
}

// finishAttempt maps a response's status to the client's error, or stores
// the response in call.
func (u *Upstream) finishAttempt(call *Call, status int, resp *fasthttp.Response) *Error {
	call.Status = status
	switch {
	case status >= 500:
		return &Error{Status: 502, Message: "service responded with an error", Service: u.svc.Name, UpstreamStatus: status}
	case status >= 400:
		// The service rejected what the client sent: pass its status on.
		return &Error{Status: status, Message: "service rejected the request", Service: u.svc.Name, UpstreamStatus: status}
	}
	call.SetOutput(resp.Body())
	call.SetOutputType(resp.Header.ContentType())
	return nil
}

// Headers buildRequest sets or reads, in fasthttp's canonical form so that
// it can set them with SetCanonical.
var (
	upstreamRequestID     = []byte("X-Request-Id")
	upstreamTraceparent   = []byte("Traceparent")
	upstreamAuthorization = []byte("Authorization")
	upstreamConnection    = []byte("Connection")
)

// buildRequest fills req for a call to replica r: method, URL, body, the
// request id and traceparent, the service's API key, and the headers hooks
// set on call, minus those forwardHeader drops.
func (u *Upstream) buildRequest(req *fasthttp.Request, r *replica, call *Call) {
	req.SetURI(&r.uri)
	req.Header.SetMethod(fasthttp.MethodPost)
	if len(call.InputType) > 0 {
		req.Header.SetContentTypeBytes(call.InputType)
	} else {
		req.Header.SetNoDefaultContentType(true)
	}
	if id := call.RequestID(); len(id) > 0 {
		req.Header.SetCanonical(upstreamRequestID, id)
	}
	if tp := call.Traceparent(); len(tp) > 0 {
		req.Header.SetCanonical(upstreamTraceparent, tp)
	}
	if len(u.authorization) > 0 {
		req.Header.SetCanonical(upstreamAuthorization, u.authorization)
	}
	connection := call.Header(upstreamConnection)
	call.VisitHeaders(func(k, v []byte) {
		if forwardHeader(k, connection) {
			req.Header.AddBytesKV(k, v)
		}
	})
	req.SetBodyRaw(call.Input)
}

// hopByHopHeaders are meaningful only for a single connection and are
// never forwarded (RFC 7230 §6.1; Proxy-Connection is its common
// non-standard variant).
var hopByHopHeaders = [][]byte{
	[]byte("Connection"), []byte("Proxy-Connection"), []byte("Keep-Alive"),
	[]byte("Proxy-Authenticate"), []byte("Proxy-Authorization"), []byte("Te"),
	[]byte("Trailer"), []byte("Transfer-Encoding"), []byte("Upgrade"),
}

// ownHeaders are set by buildRequest or by fasthttp from the call itself,
// so a hook's value is dropped: the request id, the trace context, the
// service's own credentials, the replica's host and the body's length.
var ownHeaders = [][]byte{
	upstreamRequestID, upstreamTraceparent, upstreamAuthorization, []byte("Host"), []byte("Content-Length"),
}

// forwardHeader reports whether a header a hook set may go upstream: not
// hop-by-hop, not one buildRequest owns, and not named in the value of a
// Connection header the hook also set (RFC 7230 §6.1).
func forwardHeader(key, connection []byte) bool {
	for _, h := range hopByHopHeaders {
		if bytes.EqualFold(key, h) {
			return false
		}
	}
	for _, h := range ownHeaders {
		if bytes.EqualFold(key, h) {
			return false
		}
	}
	for len(connection) > 0 {
		var token []byte
		token, connection, _ = bytes.Cut(connection, []byte{','})
		if bytes.EqualFold(bytes.TrimSpace(token), key) {
			return false
		}
	}
	return true
}

// dialError marks a failure to connect, so retryable can tell that no byte
// of the request was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect failed: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// transportError maps a failed exchange to the client's status: 504 when a
// deadline passed, 502 for refused, reset or unparsable responses.
func (u *Upstream) transportError(err error) *Error {
	if isTimeoutError(err) {
		return &Error{Status: 504, Message: "service timed out", Service: u.svc.Name, Err: err}
	}
	return &Error{Status: 502, Message: "service unreachable or sent an invalid response", Service: u.svc.Name, Err: err}
}

func isTimeoutError(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close stops the health checks, waiting for a probe in progress (at most
// HealthSettings.Timeout), and closes idle pooled connections. Calls in
// flight finish normally. Close may be called more than once.
func (u *Upstream) Close() error {
	u.closeOnce.Do(func() {
		u.stopHealthChecks()
		for _, r := range u.list() {
			r.client.CloseIdleConnections()
			releaseReplicaCounters(u.svc.Name, r.url)
		}
	})
	return nil
}
