package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/megaflow/megaflow/runtime"
)

// validator checks the meaning of a decoded, settled File: values in
// range, addresses well formed, and names that refer to things that exist.
type validator struct {
	f   *File
	pos *positionIndex
	out *problems
}

func (v *validator) validate() {
	v.server()
	v.admin()
	v.log()
	for _, name := range sortedKeys(v.f.Services) {
		v.service(name)
	}
	for _, name := range sortedKeys(v.f.Plugins) {
		v.plugin(name)
	}
	for _, name := range sortedKeys(v.f.Flows) {
		v.flow(name)
	}
	keyNames := v.auth()
	v.routes(keyNames)
	v.opea()
}

// at returns the position of the key at path, or of its nearest table.
func (v *validator) at(path ...string) Position { return v.pos.nearest(path) }

// add reports a problem at path, unless the value there was already
// reported as unusable.
func (v *validator) add(path []string, format string, args ...any) {
	if v.out.hasFailed(path) {
		return
	}
	v.out.add(v.pos.nearest(path), format, args...)
}

func (v *validator) server() {
	s := &v.f.Server
	v.listenAddress("server", s.Listen, false, "server", "listen")
	v.atLeast("server", s.MaxBodyBytes.Bytes, 1, "server", "max_body_bytes")
	v.atLeast("server", s.MaxHeaderBytes.Bytes, 1024, "server", "max_header_bytes")
	v.atLeast("server", int64(s.MaxConcurrentRequests), 1, "server", "max_concurrent_requests")
	v.positive("server", s.ReadTimeout, "server", "read_timeout")
	v.positive("server", s.WriteTimeout, "server", "write_timeout")
	v.positive("server", s.IdleTimeout, "server", "idle_timeout")
	v.positive("server", s.RequestTimeout, "server", "request_timeout")
	v.positive("server", s.ShutdownGrace, "server", "shutdown_grace")
	v.certificatePair("server", []string{"server"}, s.TLSCertFile, s.TLSKeyFile)
}

func (v *validator) admin() {
	a := v.f.Admin.Listen
	if a == "" || a == "off" {
		return // the admin listener is turned off
	}
	if !v.listenAddress("admin", a, true, "admin", "listen") {
		return
	}
	if a == v.f.Server.Listen {
		v.add([]string{"admin", "listen"}, "admin: listen %q is also server.listen; give the admin listener its own port, or write \"off\" to turn it off", a)
	}
}

func (v *validator) log() {
	l := v.f.Log
	levels := []string{"debug", "info", "warn", "error"}
	if !slices.Contains(levels, l.Level) {
		v.add([]string{"log", "level"}, "log: level %q is unknown%s", l.Level, oneOf(l.Level, levels))
	}
	formats := []string{"json", "text"}
	if !slices.Contains(formats, l.Format) {
		v.add([]string{"log", "format"}, "log: format %q is unknown%s", l.Format, oneOf(l.Format, formats))
	}
}

// listenAddress checks a host:port listen address; port 0 picks a free
// port. It reports whether the address is valid.
func (v *validator) listenAddress(owner, addr string, allowEmpty bool, path ...string) bool {
	key := path[len(path)-1]
	if addr == "" && allowEmpty {
		return true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "%s: %s %q is not host:port; write, for example, \"0.0.0.0:8000\" or \"127.0.0.1:8001\"", owner, key, addr)
		return false
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil:
		v.add(path, "%s: %s %q has port %q, which is not a number; write a port from 1 to 65535, or 0 for a free port", owner, key, addr, port)
		return false
	case n < 0 || n > 65535:
		v.add(path, "%s: %s %q has port %s, out of range; use 1 to 65535, or 0 for a free port", owner, key, addr, port)
		return false
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		v.add(path, "%s: %s %q has an invalid host %q; write an IP address or a host name", owner, key, addr, host)
		return false
	}
	return true
}

func isHostname(h string) bool {
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return len(h) <= 253
}

// serviceURL checks an http or https URL with a host and, when given, a
// port in range.
func (v *validator) serviceURL(owner, key, raw string, path []string) {
	if !strings.Contains(raw, "://") {
		v.add(path, "%s: %s %q has no scheme; write \"http://%s\"", owner, key, raw, raw)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		v.add(path, "%s: %s %q is not a valid URL: %v", owner, key, raw, unwrapURLError(err))
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.add(path, "%s: %s %q has scheme %q; use http or https", owner, key, raw, u.Scheme)
		return
	}
	if u.Hostname() == "" {
		v.add(path, "%s: %s %q has no host; write, for example, \"%s://127.0.0.1:8080%s\"", owner, key, raw, u.Scheme, u.EscapedPath())
		return
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			v.add(path, "%s: %s %q has port %s, out of range; use 1 to 65535", owner, key, raw, p)
		}
	}
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// validName checks a service, plugin, flow or node name. Names appear in
// metrics, logs and diagrams, so they are kept to a plain alphabet.
func (v *validator) validName(kind, name string, path []string) {
	if name == "" {
		v.add(path, "%s name is empty; use letters, digits, _, - and .", kind)
		return
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			v.add(path, "%s name %q contains %q; use letters, digits, _, - and .", kind, name, string(rune(c)))
			return
		}
	}
}

func (v *validator) positive(owner string, d Duration, path ...string) {
	if d.Duration <= 0 {
		v.add(path, "%s: %s must be longer than 0s; write, for example, \"%s\"", owner, describeKey(path), suggestDuration(path[len(path)-1]))
	}
}

// suggestDuration picks an example for a message about a zero duration.
func suggestDuration(key string) string {
	if strings.Contains(key, "interval") {
		return "5s"
	}
	return "1s"
}

func (v *validator) atLeast(owner string, n, min int64, path ...string) {
	if n < min {
		v.add(path, "%s: %s is %d; it must be %d or more", owner, describeKey(path), n, min)
	}
}

// oneOf returns a "did you mean" for a near miss, or the list of choices.
func oneOf(value string, choices []string) string {
	if s := suggestion(value, choices); s != "" {
		return s
	}
	return "; use one of " + strings.Join(choices, ", ")
}

func (v *validator) service(name string) {
	s := v.f.Services[name]
	base := []string{"services", name}
	owner := fmt.Sprintf("service %q", name)
	v.validName("service", name, base)

	if _, err := runtime.ParseServiceType(s.Type); err != nil {
		hint := suggestion(s.Type, runtime.ServiceTypes())
		if hint == "" {
			hint = "; use one of " + strings.Join(runtime.ServiceTypes(), ", ")
		}
		v.add(appendPath(base, "type"), "%s: type %q is unknown%s", owner, s.Type, hint)
	}
	v.serviceAddress(name, s, base, owner)
	v.positive(owner, s.Timeout, appendPath(base, "timeout")...)
	v.positive(owner, s.DialTimeout, appendPath(base, "dial_timeout")...)
	v.positive(owner, s.IdleTimeout, appendPath(base, "idle_timeout")...)
	v.atLeast(owner, int64(s.Retries), 0, appendPath(base, "retries")...)
	v.atLeast(owner, int64(s.MaxConns), 1, appendPath(base, "max_conns")...)
	v.atLeast(owner, s.MaxResponseBytes.Bytes, 1, appendPath(base, "max_response_bytes")...)
	v.serviceTLS(owner, s, base)
	v.breaker(owner, s.Breaker, appendPath(base, "breaker"))
	if v.pos.defined(appendPath(base, "health")) {
		s.Health.enabled = true
		v.f.Services[name] = s
		v.health(owner, s.Health, appendPath(base, "health"))
	}
}

// builtins lists the microservices megaflow can start in process.
var builtins = []string{"echo"}

func (v *validator) serviceAddress(name string, s Service, base []string, owner string) {
	switch {
	case s.Builtin != "":
		if !slices.Contains(builtins, s.Builtin) {
			v.add(appendPath(base, "builtin"), "%s: builtin %q is unknown%s", owner, s.Builtin, oneOf(s.Builtin, builtins))
		}
		if s.URL != "" {
			v.add(appendPath(base, "url"), "%s: url is set, but builtin %q starts its own server on a free port; remove url or builtin", owner, s.Builtin)
		}
		if len(s.Replicas) > 0 {
			v.add(appendPath(base, "replicas"), "%s: replicas cannot be used with builtin %q; remove replicas or builtin", owner, s.Builtin)
		}
		return
	case s.URL == "":
		v.add(base, "%s has no url; set url = \"http://HOST:PORT/PATH\", or builtin = \"echo\"", owner)
	default:
		v.serviceURL(owner, "url", s.URL, appendPath(base, "url"))
	}
	seen := map[string]bool{s.URL: true}
	for i, r := range s.Replicas {
		path := appendPath(base, "replicas", strconv.Itoa(i))
		if seen[r] {
			v.add(path, "%s: replica %q is listed twice; remove the copy", owner, r)
			continue
		}
		seen[r] = true
		v.serviceURL(owner, fmt.Sprintf("replicas[%d]", i), r, path)
	}
}

func (v *validator) breaker(owner string, b Breaker, base []string) {
	v.atLeast(owner, int64(b.ConsecutiveFailures), 1, appendPath(base, "consecutive_failures")...)
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		v.add(appendPath(base, "failure_ratio"), "%s: breaker.failure_ratio is %g; it must be more than 0 and at most 1", owner, b.FailureRatio)
	}
	v.atLeast(owner, int64(b.MinRequests), 1, appendPath(base, "min_requests")...)
	v.positive(owner, b.OpenTimeout, appendPath(base, "open_timeout")...)
	v.atLeast(owner, int64(b.HalfOpenRequests), 1, appendPath(base, "half_open_requests")...)
	v.positive(owner, b.Interval, appendPath(base, "interval")...)
}

func (v *validator) health(owner string, h Health, base []string) {
	if !strings.HasPrefix(h.Path, "/") {
		v.add(appendPath(base, "path"), "%s: health.path %q must start with \"/\"; write \"/%s\"", owner, h.Path, h.Path)
	}
	v.positive(owner, h.Interval, appendPath(base, "interval")...)
	v.positive(owner, h.Timeout, appendPath(base, "timeout")...)
	if h.Interval.Duration > 0 && h.Timeout.Duration > h.Interval.Duration {
		v.add(appendPath(base, "timeout"), "%s: health.timeout %s is longer than health.interval %s; probes would overlap, so shorten the timeout", owner, h.Timeout.Duration, h.Interval.Duration)
	}
	v.atLeast(owner, int64(h.Unhealthy), 1, appendPath(base, "unhealthy")...)
	v.atLeast(owner, int64(h.Healthy), 1, appendPath(base, "healthy")...)
}

// Wasm32 limits: linear memory grows in 64 KiB pages up to 4 GiB.
const (
	minPluginMemory = 64 << 10
	maxPluginMemory = 4 << 30
)

func (v *validator) plugin(name string) {
	p := v.f.Plugins[name]
	base := []string{"plugins", name}
	owner := fmt.Sprintf("plugin %q", name)
	v.validName("plugin", name, base)
	if p.Path == "" {
		v.add(base, "%s has no path; set path to its .wasm file", owner)
	} else {
		p.resolved = p.Path
		if !filepath.IsAbs(p.Path) {
			p.resolved = filepath.Join(v.f.dir, p.Path)
		}
		v.f.Plugins[name] = p
		if problem := checkWasmFile(p.resolved); problem != "" {
			v.add(appendPath(base, "path"), "%s: path %q %s", owner, p.Path, problem)
		}
	}
	if m := p.MaxMemory.Bytes; m < minPluginMemory || m > maxPluginMemory {
		v.add(appendPath(base, "max_memory"), "%s: max_memory is %d bytes; it must be from 64KiB to 4GiB, the range of 32-bit Wasm memory", owner, m)
	}
	v.positive(owner, p.Timeout, appendPath(base, "timeout")...)
	v.atLeast(owner, int64(p.Instances), 0, appendPath(base, "instances")...)
}

func (v *validator) routes(keyNames []string) {
	type claim struct {
		route int
		line  int
	}
	claimed := map[string]claim{}
	for i, r := range v.f.Routes {
		base := []string{"routes", strconv.Itoa(i)}
		owner := routeLabel(i, r.Path)
		switch {
		case r.Path == "":
			v.add(base, "%s has no path; set path, for example \"/v1/chatqna\"", owner)
		case !strings.HasPrefix(r.Path, "/"):
			v.add(appendPath(base, "path"), "%s: path must start with \"/\"; write \"/%s\"", owner, r.Path)
		}
		switch _, ok := v.f.Flows[r.Flow]; {
		case r.Flow == "":
			v.add(base, "%s has no flow; set flow to one of the [flows.NAME] tables", owner)
		case !ok:
			v.add(appendPath(base, "flow"), "%s: flow %q is not defined%s", owner, r.Flow, v.knownFlows(r.Flow))
		}
		v.routeGuards(i, owner, keyNames)
		if len(r.Methods) == 0 {
			v.add(appendPath(base, "methods"), "%s: methods is empty; list at least one, such as [\"POST\"]", owner)
		}
		for k, m := range r.Methods {
			mpath := appendPath(base, "methods", strconv.Itoa(k))
			upper := strings.ToUpper(m)
			if !slices.Contains(httpMethods, upper) {
				v.add(mpath, "%s: method %q is unknown%s", owner, m, oneOf(upper, httpMethods))
				continue
			}
			v.f.Routes[i].Methods[k] = upper
			key := upper + " " + r.Path
			if prev, dup := claimed[key]; dup {
				if prev.route == i {
					v.add(mpath, "%s: method %s is listed twice; remove the copy", owner, upper)
				} else {
					v.add(mpath, "%s: %s %s is already served by route %d at line %d; keep one of the two", owner, upper, r.Path, prev.route+1, prev.line)
				}
				continue
			}
			claimed[key] = claim{route: i, line: v.at(base...).Line}
		}
	}
}

// httpMethods lists the methods a route may accept (RFC 9110 §9 and
// PATCH from RFC 5789).
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func (v *validator) knownFlows(name string) string {
	names := sortedKeys(v.f.Flows)
	if s := suggestion(name, names); s != "" {
		return s
	}
	if len(names) == 0 {
		return "; add a [flows." + name + "] table"
	}
	return "; the flows are " + strings.Join(names, ", ")
}
