package config

import (
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/megaflow/megaflow/runtime"
	"github.com/valyala/fasthttp"
)

// Compile turns a file returned by Load or Default into a runtime snapshot:
// it starts built-in services, creates one upstream client per service and
// compiles every flow into a plan. listenOverride, when not empty, replaces
// server.listen. On error nothing started by Compile keeps running.
//
// # Errors
//
// Load has already checked everything Compile relies on, so an error here
// means a port could not be bound for a built-in service, or the runtime
// rejected what the validator accepted; such errors are returned as an
// ErrorList with the position of the service or flow concerned.
func Compile(f *File, listenOverride string) (snap *runtime.Snapshot, err error) {
	var closers []io.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
		}
	}()
	out := &problems{file: f.name}
	errAt := func(path []string, cause error) error {
		out.add(f.position(path...), "%v", cause)
		return out.err()
	}

	services := map[string]*runtime.MicroService{}
	upstreams := map[string]*runtime.Upstream{}
	var svcList []*runtime.MicroService
	for _, name := range sortedKeys(f.Services) {
		sc := f.Services[name]
		svc, err := microService(name, sc)
		if err != nil {
			return nil, errAt([]string{"services", name, "type"}, fmt.Errorf("service %q: %w", name, err))
		}
		if sc.Builtin != "" {
			url, closer, err := startBuiltin(sc.Builtin)
			if err != nil {
				return nil, errAt([]string{"services", name, "builtin"}, fmt.Errorf("service %q: %w", name, err))
			}
			closers = append(closers, closer)
			svc.URL = url
		}
		up, err := runtime.NewUpstream(svc, upstreamOptions(sc))
		if err != nil {
			return nil, errAt([]string{"services", name}, err)
		}
		closers = append(closers, up)
		services[name], upstreams[name] = svc, up
		svcList = append(svcList, svc)
	}

	plans := map[string]*runtime.Plan{}
	for _, name := range sortedKeys(f.Flows) {
		p, err := runtime.CompilePlan(flowSpec(name, f.Flows[name], services, upstreams))
		if err != nil {
			return nil, errAt([]string{"flows", name}, err)
		}
		plans[name] = p
	}

	routes := make([]runtime.Route, 0, len(f.Routes))
	for _, rc := range f.Routes {
		routes = append(routes, runtime.Route{Path: rc.Path, Methods: rc.Methods, Plan: plans[rc.Flow]})
	}
	snap, err = runtime.NewSnapshot(serverSettings(f, listenOverride), routes, svcList, closers...)
	if err != nil {
		return nil, errAt([]string{"routes"}, err)
	}
	return snap, nil
}

// position returns where path is in the file, or the zero Position for a
// File not made by Load.
func (f *File) position(path ...string) Position {
	if f.pos == nil {
		return Position{}
	}
	return f.pos.nearest(path)
}

func serverSettings(f *File, listenOverride string) runtime.ServerSettings {
	s := f.Server
	return runtime.ServerSettings{
		Listen:                cmpOr(listenOverride, s.Listen),
		MaxBodyBytes:          int(s.MaxBodyBytes.Bytes),
		MaxConcurrentRequests: s.MaxConcurrentRequests,
		ReadTimeout:           s.ReadTimeout.Duration,
		WriteTimeout:          s.WriteTimeout.Duration,
		IdleTimeout:           s.IdleTimeout.Duration,
		RequestTimeout:        s.RequestTimeout.Duration,
		ShutdownGrace:         s.ShutdownGrace.Duration,
	}
}

func microService(name string, sc Service) (*runtime.MicroService, error) {
	typ, err := runtime.ParseServiceType(sc.Type)
	if err != nil {
		return nil, err
	}
	return &runtime.MicroService{
		Name:     name,
		Type:     typ,
		URL:      sc.URL,
		Remote:   true,
		Timeout:  sc.Timeout.Duration,
		Stream:   sc.Stream,
		Optional: sc.Optional,
		MaxConns: sc.MaxConns,
		APIKey:   sc.APIKey,
	}, nil
}

func upstreamOptions(sc Service) runtime.UpstreamOptions {
	b := sc.Breaker
	opts := runtime.UpstreamOptions{
		Replicas:         sc.Replicas,
		DialTimeout:      sc.DialTimeout.Duration,
		IdleTimeout:      sc.IdleTimeout.Duration,
		MaxResponseBytes: int(sc.MaxResponseBytes.Bytes),
		Retries:          sc.Retries,
		NotIdempotent:    !sc.Idempotent,
		Breaker: runtime.BreakerSettings{
			Disabled:            !b.Enabled,
			ConsecutiveFailures: uint32(b.ConsecutiveFailures),
			FailureRatio:        b.FailureRatio,
			MinRequests:         uint32(b.MinRequests),
			OpenTimeout:         b.OpenTimeout.Duration,
			HalfOpenRequests:    uint32(b.HalfOpenRequests),
			Interval:            b.Interval.Duration,
		},
	}
	if h := sc.Health; h.enabled {
		opts.Health = runtime.HealthSettings{
			Path:      h.Path,
			Interval:  h.Interval.Duration,
			Timeout:   h.Timeout.Duration,
			Unhealthy: h.Unhealthy,
			Healthy:   h.Healthy,
		}
	}
	return opts
}

func flowSpec(name string, fc Flow, services map[string]*runtime.MicroService, upstreams map[string]*runtime.Upstream) runtime.FlowSpec {
	spec := runtime.FlowSpec{Name: name, Output: fc.Output}
	for _, nc := range fc.Nodes {
		spec.Nodes = append(spec.Nodes, runtime.NodeSpec{
			Name:          nc.Name,
			Service:       services[nc.Service],
			Exec:          upstreams[nc.Service],
			After:         nc.After,
			Optional:      nc.Optional,
			RequestName:   nc.Request,
			ResponseName:  nc.Response,
			EventsName:    nc.Events,
			AggregateName: nc.Aggregate,
			RouteName:     nc.Route,
		})
	}
	return spec
}

// startBuiltin starts a bundled microservice on a free loopback port and
// returns its URL.
func startBuiltin(kind string) (string, io.Closer, error) {
	if kind != "echo" {
		return "", nil, fmt.Errorf("unknown builtin %q; the bundled services are: echo", kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start builtin echo: %w", err)
	}
	srv := &fasthttp.Server{Handler: runtime.EchoHandler, Name: "megaflow-echo", NoDefaultServerHeader: true}
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	return "http://" + ln.Addr().String() + "/", closerFunc(srv.Shutdown), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
