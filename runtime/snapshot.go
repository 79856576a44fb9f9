package runtime

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ServerSettings configures the main listener. Zero values take the
// defaults given on each field.
type ServerSettings struct {
	// Listen is the address of the megaservice, host:port.
	Listen string
	// MaxBodyBytes caps a request body; larger ones get 413. Zero means
	// 10 MiB.
	MaxBodyBytes int
	// MaxHeaderBytes caps the request line and headers; larger ones get
	// 431. Zero means 16 KiB. It is the listener's read buffer size, so it
	// applies from NewServer on and a reload does not change it.
	MaxHeaderBytes int
	// MaxConcurrentRequests caps requests in flight; past it requests get
	// 503 with Retry-After at once. Zero means 10000.
	MaxConcurrentRequests int
	// ReadTimeout, WriteTimeout and IdleTimeout bound reading a request,
	// writing a response and an idle keep-alive connection. Zero means
	// 30 s, 30 s and 120 s.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// RequestTimeout is the deadline of one request's whole flow. Zero
	// means 60 s.
	RequestTimeout time.Duration
	// ShutdownGrace bounds draining in-flight requests at shutdown. Zero
	// means 30 s.
	ShutdownGrace time.Duration
	// AdminListen is the address of the admin listener (/metrics, /healthz,
	// /readyz, /v1/health_check). Empty means 127.0.0.1:8001; "off"
	// disables it.
	AdminListen string
	// AccessLog logs one line per request when true.
	AccessLog bool
	// TLSCertFile and TLSKeyFile are the PEM files of the main listener's
	// certificate chain and private key, served by ListenTLS. Empty means
	// plain HTTP.
	TLSCertFile, TLSKeyFile string
}

// Defaults of ServerSettings.
const (
	DefaultListen                = "0.0.0.0:8000"
	DefaultMaxBodyBytes          = 10 << 20
	DefaultMaxHeaderBytes        = 16 << 10
	DefaultMaxConcurrentRequests = 10000
	DefaultReadTimeout           = 30 * time.Second
	DefaultWriteTimeout          = 30 * time.Second
	DefaultIdleTimeout           = 120 * time.Second
	DefaultRequestTimeout        = 60 * time.Second
	DefaultShutdownGrace         = 30 * time.Second
	DefaultAdminListen           = "127.0.0.1:8001"
)

func (s ServerSettings) withDefaults() ServerSettings {
	s.Listen = cmpOr(s.Listen, DefaultListen)
	s.MaxBodyBytes = cmpOr(s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.MaxHeaderBytes = cmpOr(s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	s.MaxConcurrentRequests = cmpOr(s.MaxConcurrentRequests, DefaultMaxConcurrentRequests)
	s.ReadTimeout = cmpOr(s.ReadTimeout, DefaultReadTimeout)
	s.WriteTimeout = cmpOr(s.WriteTimeout, DefaultWriteTimeout)
	s.IdleTimeout = cmpOr(s.IdleTimeout, DefaultIdleTimeout)
	s.RequestTimeout = cmpOr(s.RequestTimeout, DefaultRequestTimeout)
	s.ShutdownGrace = cmpOr(s.ShutdownGrace, DefaultShutdownGrace)
	s.AdminListen = cmpOr(s.AdminListen, DefaultAdminListen)
	return s
}

// Route maps a path and its methods to a flow.
type Route struct {
	// Path is matched exactly, e.g. "/v1/chatqna".
	Path string
	// Methods lists the accepted methods. Empty means POST.
	Methods []string
	// Plan is the compiled flow that serves the route.
	Plan *Plan
	// Guards check each request, in order, before the flow runs:
	// authentication, rate limits, content checks. Nil means none.
	Guards []Guard
	// API shapes the route's requests and responses, such as OpenAI's chat
	// completions. Nil passes the body to the flow and its output back
	// unchanged.
	API RouteAPI
}

// Snapshot is one immutable, compiled configuration: settings, routes with
// their plans, and the resources they use. A server serves exactly one
// snapshot at a time and can swap it atomically.
type Snapshot struct {
	snapshotRefs
	settings ServerSettings
	routes   map[string]*routeEntry
	services []*MicroService
	closers  []io.Closer
}

type routeEntry struct {
	path    string
	methods []string
	plans   []*Plan         // plans[k] serves methods[k]
	guards  [][]Guard       // guards[k] check methods[k]
	apis    []RouteAPI      // apis[k] shapes methods[k], nil for none
	metrics []*routeMetrics // metrics[k] counts methods[k]
	allow   string          // value of the Allow header for 405
}

// NewSnapshot builds a snapshot. closers are closed by Snapshot.Close,
// after the snapshot stopped serving. It fails on a route without a plan
// and on two routes claiming the same method and path.
func NewSnapshot(settings ServerSettings, routes []Route, services []*MicroService, closers ...io.Closer) (*Snapshot, error) {
	s := &Snapshot{
		settings: settings.withDefaults(),
		routes:   map[string]*routeEntry{},
		services: services,
		closers:  closers,
	}
	var errs []error
	for _, r := range routes {
		if r.Plan == nil {
			errs = append(errs, fmt.Errorf("route %q has no flow", r.Path))
			continue
		}
		methods := r.Methods
		if len(methods) == 0 {
			methods = []string{"POST"}
		}
		e := s.routes[r.Path]
		if e == nil {
			e = &routeEntry{path: r.Path}
			s.routes[r.Path] = e
		}
		for _, m := range methods {
			m = strings.ToUpper(m)
			if slices.Contains(e.methods, m) {
				errs = append(errs, fmt.Errorf("two routes serve %s %s; keep one", m, r.Path))
				continue
			}
			e.methods = append(e.methods, m)
			e.plans = append(e.plans, r.Plan)
			e.guards = append(e.guards, r.Guards)
			e.apis = append(e.apis, r.API)
			e.metrics = append(e.metrics, newRouteMetrics(r.Path, m))
		}
		e.allow = strings.Join(e.methods, ", ")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.registerUpstreams()
	return s, nil
}

// Settings returns the snapshot's listener settings, defaults applied.
func (s *Snapshot) Settings() ServerSettings { return s.settings }

// Services returns the services the snapshot's flows call.
func (s *Snapshot) Services() []*MicroService { return s.services }

// Routes returns "METHOD PATH -> flow" descriptions, sorted, for logs.
func (s *Snapshot) Routes() []string {
	var out []string
	for _, e := range s.routes {
		for k, m := range e.methods {
			out = append(out, m+" "+e.path+" -> "+e.plans[k].Name())
		}
	}
	slices.Sort(out)
	return out
}

// lookup returns the route entry of path and the index of method in it:
// e is nil when the path is unknown, and k is -1 when the method is not
// allowed.
func (s *Snapshot) lookup(method, path []byte) (e *routeEntry, k int) {
	e = s.routes[string(path)]
	if e == nil {
		return nil, -1
	}
	for k, m := range e.methods {
		if string(method) == m {
			return e, k
		}
	}
	return e, -1
}

// upstream returns the client of the named service in a routed flow, or
// nil.
func (s *Snapshot) upstream(service string) *Upstream {
	for _, p := range s.plans() {
		for i := range p.nodes {
			if up, ok := p.nodes[i].Exec.(*Upstream); ok && up.svc.Name == service {
				return up
			}
		}
	}
	return nil
}

// plans returns every routed plan once.
func (s *Snapshot) plans() []*Plan {
	var out []*Plan
	for _, e := range s.routes {
		for _, p := range e.plans {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Close releases the snapshot's resources (upstream pools, health checks,
// plugins, built-in services). Only the first call closes them; later
// calls return the first call's error. A server closes retired snapshots
// itself once their requests ended.
func (s *Snapshot) Close() error {
	s.closeOnce.Do(func() {
		s.unregisterUpstreams()
		// In reverse order, as defer does: what was created later (upstream
		// pools) may depend on what came earlier (built-in services).
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i].Close())
		}
		s.closeErr = errors.Join(errs...)
		s.closed.Store(true)
	})
	return s.closeErr
}

// Closed reports whether Close has run.
func (s *Snapshot) Closed() bool { return s.closed.Load() }
