package config

import (
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/megaflow/megaflow/runtime"
)

// Compile turns a file returned by Load or Default into a runtime snapshot:
// it starts built-in services, creates one upstream client per service,
// loads the plugins that nodes use and compiles every flow into a plan.
// listenOverride, when not empty, replaces server.listen. On error nothing
// started by Compile keeps running.
//
// # Errors
//
// Load has already checked what it can without starting anything. Compile
// adds the failures that only loading finds. A plugin may fail to load
// because it lacks the megaflow ABI exports, its init hook fails or it
// needs more memory than max_memory. A plugin may lack the hook a node
// uses it for, and a built-in service may find no free port. Errors are an
// ErrorList with the position of the key concerned.
func Compile(f *File, listenOverride string) (*runtime.Snapshot, error) {
	return compile(f, listenOverride, true)
}

// Check compiles f as Compile does and releases everything at once, so a
// file that passes is one Compile accepts. It starts no health checks,
// which would probe the services; built-in services and plugin instances
// run only until Check returns.
func Check(f *File) error {
	snap, err := compile(f, "", false)
	if err != nil {
		return err
	}
	return snap.Close()
}

// compile implements Compile; health false leaves health checks off.
func compile(f *File, listenOverride string, health bool) (snap *runtime.Snapshot, err error) {
	var closers []io.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
		}
	}()
	out := &problems{file: f.name}

	// Plugins load first: it takes seconds for large modules, and health
	// checks start with the services.
	plugins, pluginCloser, err := loadPlugins(f, out)
	if err != nil {
		return nil, err
	}
	if pluginCloser != nil {
		closers = append(closers, pluginCloser)
	}
	services, upstreams, svcList, svcClosers := compileServices(f, health, out)
	closers = append(closers, svcClosers...)
	guards := newGuardSet(f, out)
	if err := out.err(); err != nil {
		return nil, err
	}

	plans := map[string]*runtime.Plan{}
	for _, name := range sortedKeys(f.Flows) {
		spec := flowSpec(name, f.Flows[name], services, upstreams)
		for i := range spec.Nodes {
			attachHooks(f, name, i, &f.Flows[name].Nodes[i], &spec.Nodes[i], plugins, out)
		}
		attachOPEA(f.Flows[name], &spec)
		p, err := runtime.CompilePlan(spec)
		if err != nil {
			out.add(f.position("flows", name), "%v", err)
			continue
		}
		plans[name] = p
	}
	if err := out.err(); err != nil {
		return nil, err
	}

	routes := make([]runtime.Route, 0, len(f.Routes))
	for i, rc := range f.Routes {
		routes = append(routes, runtime.Route{
			Path:    rc.Path,
			Methods: rc.Methods,
			Plan:    plans[rc.Flow],
			Guards:  guards.routeGuards(f, i, out),
			API:     routeAPI(rc),
		})
	}
	if err := out.err(); err != nil {
		return nil, err
	}
	snap, err = runtime.NewSnapshot(serverSettings(f, listenOverride), routes, svcList, closers...)
	if err != nil {
		out.add(f.position("routes"), "%v", err)
		return nil, out.err()
	}
	return snap, nil
}

// compileServices creates each service and its upstream client, starting
// built-in services on free loopback ports. The closers release what it
// started, also when it reports a problem.
func compileServices(f *File, health bool, out *problems) (map[string]*runtime.MicroService, map[string]*runtime.Upstream, []*runtime.MicroService, []io.Closer) {
	services := map[string]*runtime.MicroService{}
	upstreams := map[string]*runtime.Upstream{}
	var (
		list    []*runtime.MicroService
		closers []io.Closer
	)
	for _, name := range sortedKeys(f.Services) {
		sc := f.Services[name]
		svc, err := microService(name, sc)
		if err != nil {
			out.add(f.position("services", name, "type"), "service %q: %v", name, err)
			continue
		}
		if sc.Builtin != "" {
			url, closer, err := startBuiltin(sc.Builtin)
			if err != nil {
				out.add(f.position("services", name, "builtin"), "service %q: %v", name, err)
				continue
			}
			closers = append(closers, closer)
			svc.URL = url
		}
		opts := upstreamOptions(sc)
		opts.TLSCAFile = f.resolve(sc.TLSCAFile)
		opts.TLSCertFile = f.resolve(sc.TLSCertFile)
		opts.TLSKeyFile = f.resolve(sc.TLSKeyFile)
		if !health {
			opts.Health = runtime.HealthSettings{}
		}
		up, err := runtime.NewUpstream(svc, opts)
		if err != nil {
			out.add(f.position("services", name), "%v", err)
			continue
		}
		closers = append(closers, up)
		services[name], upstreams[name] = svc, up
		list = append(list, svc)
	}
	return services, upstreams, list, closers
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
		MaxHeaderBytes:        int(s.MaxHeaderBytes.Bytes),
		MaxConcurrentRequests: s.MaxConcurrentRequests,
		ReadTimeout:           s.ReadTimeout.Duration,
		WriteTimeout:          s.WriteTimeout.Duration,
		IdleTimeout:           s.IdleTimeout.Duration,
		RequestTimeout:        s.RequestTimeout.Duration,
		ShutdownGrace:         s.ShutdownGrace.Duration,
		AdminListen:           adminListen(f.Admin.Listen),
		AccessLog:             f.Log.Access,
		TLSCertFile:           f.resolve(s.TLSCertFile),
		TLSKeyFile:            f.resolve(s.TLSKeyFile),
	}
}

// adminListen maps [admin] listen to the runtime's setting, where "off"
// turns the listener off and "" would mean the default address.
func adminListen(listen string) string {
	if listen == "" {
		return "off"
	}
	return listen
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
			// The runtime checks its conditions (the output node, one
			// streaming predecessor) when it compiles the plan.
			StreamSentences: nc.StreamSentences,
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
	srv := runtime.NewEchoServer(0)
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
