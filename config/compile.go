package config

import (
	"fmt"
	"io"
	"net"
	"sort"

	"github.com/megaflow/megaflow/runtime"
	"github.com/valyala/fasthttp"
)

// Compile turns a decoded file into a runtime snapshot: it starts built-in
// services, creates one upstream client per service and compiles every
// flow into a plan. listenOverride, when not empty, replaces server.listen.
// On error nothing started by Compile keeps running.
func Compile(f *File, listenOverride string) (snap *runtime.Snapshot, err error) {
	var closers []io.Closer
	defer func() {
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
		}
	}()

	services := map[string]*runtime.MicroService{}
	upstreams := map[string]*runtime.Upstream{}
	var svcList []*runtime.MicroService
	for _, name := range sortedKeys(f.Services) {
		sc := f.Services[name]
		typ, err := runtime.ParseServiceType(cmpOr(sc.Type, "undefined"))
		if err != nil {
			return nil, fmt.Errorf("%s: service %q: %w", f.name, name, err)
		}
		svc := &runtime.MicroService{Name: name, Type: typ, URL: sc.URL, Remote: true, Timeout: sc.Timeout.Duration}
		if sc.Builtin != "" {
			url, closer, err := startBuiltin(name, sc.Builtin)
			if err != nil {
				return nil, fmt.Errorf("%s: service %q: %w", f.name, name, err)
			}
			closers = append(closers, closer)
			svc.URL = url
		}
		up, err := runtime.NewUpstream(svc, runtime.UpstreamOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		closers = append(closers, up)
		services[name], upstreams[name] = svc, up
		svcList = append(svcList, svc)
	}

	plans := map[string]*runtime.Plan{}
	for _, name := range sortedKeys(f.Flows) {
		fc := f.Flows[name]
		spec := runtime.FlowSpec{Name: name, Output: fc.Output}
		for i, nc := range fc.Nodes {
			svc, ok := services[nc.Service]
			if !ok {
				return nil, fmt.Errorf("%s: flow %q node %d: unknown service %q", f.name, name, i+1, nc.Service)
			}
			spec.Nodes = append(spec.Nodes, runtime.NodeSpec{Name: nc.Name, Service: svc, Exec: upstreams[nc.Service], After: nc.After})
		}
		p, err := runtime.CompilePlan(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		plans[name] = p
	}

	var routes []runtime.Route
	for i, rc := range f.Routes {
		p, ok := plans[rc.Flow]
		if !ok {
			return nil, fmt.Errorf("%s: route %d (%s): unknown flow %q", f.name, i+1, rc.Path, rc.Flow)
		}
		routes = append(routes, runtime.Route{Path: rc.Path, Methods: rc.Methods, Plan: p})
	}
	settings := runtime.ServerSettings{
		Listen:         cmpOr(listenOverride, f.Server.Listen),
		MaxBodyBytes:   f.Server.MaxBodyBytes,
		RequestTimeout: f.Server.RequestTimeout.Duration,
	}
	return runtime.NewSnapshot(settings, routes, svcList, closers...)
}

// startBuiltin starts a bundled microservice on a free loopback port and
// returns its URL.
func startBuiltin(service, kind string) (string, io.Closer, error) {
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
	sort.Strings(keys)
	return keys
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

