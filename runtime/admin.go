package runtime

import (
	"bytes"
	"context"
	"net"
	"slices"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Admin is the admin listener: /metrics (Prometheus text format),
// /healthz (the process is alive), /readyz (every required service of
// every routed flow has a usable replica) and /v1/health_check (OPEA's
// shape). It is meant for loopback or a private network only.
type Admin struct {
	server *Server
	srv    *fasthttp.Server
}

// NewAdmin returns the admin listener of server.
func NewAdmin(server *Server) *Admin {
	a := &Admin{server: server}
	a.srv = &fasthttp.Server{Handler: a.Handle, Name: "megaflow-admin", NoDefaultServerHeader: true, CloseOnShutdown: true}
	return a
}

// Serve accepts connections on ln until Shutdown.
func (a *Admin) Serve(ln net.Listener) error { return a.srv.Serve(ln) }

// Shutdown stops the admin listener.
func (a *Admin) Shutdown(ctx context.Context) error { return a.srv.ShutdownWithContext(ctx) }

// Handle serves one admin request.
func (a *Admin) Handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.Error(`{"error":"method not allowed; the admin endpoints answer GET"}`, fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		return
	}
	switch string(ctx.Path()) {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		var buf bytes.Buffer
		metrics.WritePrometheus(&buf, true)
		ctx.SetBody(buf.Bytes())
	case "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case "/readyz":
		a.readyz(ctx)
	case "/v1/health_check":
		writeHealthCheck(ctx, a.server.Version)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"not found; the admin endpoints are /metrics, /healthz, /readyz and /v1/health_check"}`)
	}
}

// readyz answers 200 when every required node of every routed flow has a
// usable replica, and 503 listing the services that do not.
func (a *Admin) readyz(ctx *fasthttp.RequestCtx) {
	var notReady []string
	for _, p := range a.server.Snapshot().plans() {
		for i := range p.nodes {
			n := &p.nodes[i]
			up, ok := n.Exec.(*Upstream)
			if !ok || n.optional || up.Usable() {
				continue
			}
			name := up.svc.Name
			if !slices.Contains(notReady, name) {
				notReady = append(notReady, name)
			}
		}
	}
	ctx.SetContentType("application/json")
	body := []byte(`{"ready":`)
	if len(notReady) == 0 {
		body = append(body, `true}`...)
		ctx.SetBody(body)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	body = append(body, `false,"unavailable_services":[`...)
	for i, name := range notReady {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendJSONStringS(body, name)
	}
	ctx.SetBody(append(body, "]}"...))
}
