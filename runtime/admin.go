package runtime

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"
)

// Admin is the admin listener: /metrics (Prometheus text format),
// /healthz (the process is alive), /readyz (every required service of
// every routed flow has a usable replica), /v1/health_check (OPEA's
// shape), Go's profiles under /debug/pprof/, and the admin calls under
// /admin/. It is meant for loopback or a private network only.
type Admin struct {
	// Reload, when set, is called by POST /admin/reload: it loads and
	// compiles the configuration and swaps it in, or returns why not.
	Reload func() error
	// Token guards the admin calls (POST /admin/...), sent as
	// "Authorization: Bearer TOKEN". Empty disables the admin calls;
	// the read-only endpoints need no token.
	Token string

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
	if bytes.HasPrefix(ctx.Path(), []byte("/admin/")) {
		a.handleCall(ctx)
		return
	}
	if bytes.HasPrefix(ctx.Path(), []byte("/debug/pprof/")) {
		pprofhandler.PprofHandler(ctx)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		ctx.Error(`{"error":"method not allowed; the admin endpoints accept GET"}`, fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		return
	}
	switch string(ctx.Path()) {
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		var buf bytes.Buffer
		if err := writeMetrics(&buf); err != nil {
			a.server.log.Error("writing /metrics failed", "error", err)
			ctx.Error(`{"error":"writing the metrics failed"}`, fasthttp.StatusInternalServerError)
			ctx.SetContentType("application/json")
			return
		}
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
		ctx.SetBodyString(`{"error":"not found; the admin endpoints are GET /metrics, /healthz, /readyz, /v1/health_check and /debug/pprof/, and POST /admin/reload and POST or DELETE /admin/services/NAME/replicas"}`)
	}
}

// readyz responds 200 when every required node of every routed flow has a
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

// handleCall serves the admin calls, which change the running server and
// so need the admin token.
func (a *Admin) handleCall(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if a.Token == "" {
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString(`{"error":"admin calls are disabled; start megaflow with an admin token"}`)
		return
	}
	auth := ctx.Request.Header.Peek("Authorization")
	token, ok := bytes.CutPrefix(auth, []byte("Bearer "))
	if !ok || subtle.ConstantTimeCompare(token, []byte(a.Token)) != 1 {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="megaflow-admin"`)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetBodyString(`{"error":"missing or invalid admin token; send Authorization: Bearer TOKEN"}`)
		a.server.log.Warn("admin call rejected", "path", string(ctx.Path()), "remote", ctx.RemoteAddr().String())
		return
	}
	path := string(ctx.Path())
	switch {
	case path == "/admin/reload" && ctx.IsPost():
		a.reload(ctx)
	case strings.HasPrefix(path, "/admin/services/") && strings.HasSuffix(path, "/replicas") && (ctx.IsPost() || ctx.IsDelete()):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/admin/services/"), "/replicas")
		a.replicas(ctx, name)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(`{"error":"unknown admin call; the admin calls are POST /admin/reload and POST or DELETE /admin/services/NAME/replicas"}`)
	}
}

// replicas registers (POST) or removes (DELETE) a replica of a service at
// run time. The body is {"url": "http://host:port/path"}.
func (a *Admin) replicas(ctx *fasthttp.RequestCtx, service string) {
	up := a.server.Snapshot().upstream(service)
	if up == nil {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBody(append(appendJSONStringS([]byte(`{"error":"no routed flow calls this service","service":`), service), '}'))
		return
	}
	var body struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &body); err != nil || body.URL == "" {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":"send a JSON body {\"url\": \"http://host:port/path\"}"}`)
		return
	}
	var err error
	if ctx.IsPost() {
		err = up.AddReplica(body.URL)
	} else {
		err = up.RemoveReplica(body.URL)
	}
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBody(append(appendJSONStringS([]byte(`{"error":`), err.Error()), '}'))
		return
	}
	out := []byte(`{"service":`)
	out = appendJSONStringS(out, service)
	out = append(out, `,"replicas":[`...)
	for i, st := range up.Replicas() {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONStringS(out, st.URL)
	}
	ctx.SetBody(append(out, "]}"...))
}

func (a *Admin) reload(ctx *fasthttp.RequestCtx) {
	if a.Reload == nil {
		ctx.SetStatusCode(fasthttp.StatusNotImplemented)
		ctx.SetBodyString(`{"error":"this server was not started from a configuration file, so it cannot reload"}`)
		return
	}
	if err := a.Reload(); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		body := []byte(`{"error":"reload failed; the running configuration keeps serving","details":[`)
		for i, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
			if i > 0 {
				body = append(body, ',')
			}
			body = appendJSONStringS(body, line)
		}
		ctx.SetBody(append(body, "]}"...))
		return
	}
	ctx.SetBodyString(`{"reloaded":true}`)
}
