package config

import (
	"mime"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/megaflow/megaflow/runtime"
)

// resolve returns path made absolute against the file's directory, or ""
// for an empty path.
func (f *File) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(f.dir, path)
}

// file checks that the file a key names exists and can be read, and
// reports whether it does.
func (v *validator) file(owner string, path []string, name string) bool {
	if name == "" {
		return false
	}
	if problem := checkReadable(v.f.resolve(name)); problem != "" {
		v.add(path, "%s: %s %q %s", owner, describeKey(path), name, problem)
		return false
	}
	return true
}

// certificatePair checks a PEM certificate and key given together.
func (v *validator) certificatePair(owner string, base []string, cert, key string) {
	switch {
	case cert != "" && key == "":
		v.add(appendPath(base, "tls_cert_file"), "%s: tls_cert_file is set without tls_key_file; set both or neither", owner)
	case cert == "" && key != "":
		v.add(appendPath(base, "tls_key_file"), "%s: tls_key_file is set without tls_cert_file; set both or neither", owner)
	}
	certOK := v.file(owner, appendPath(base, "tls_cert_file"), cert)
	keyOK := v.file(owner, appendPath(base, "tls_key_file"), key)
	if certOK && keyOK {
		// A mismatched or unparsable pair is caught here, so a reload
		// with it fails instead of logging errors while the old
		// certificate keeps serving.
		if err := runtime.CheckTLSKeyPair(v.f.resolve(cert), v.f.resolve(key)); err != nil {
			v.add(appendPath(base, "tls_cert_file"), "%s: tls_cert_file and tls_key_file are not a usable pair: %v; give the key that belongs to the certificate", owner, err)
		}
	}
}

// serviceTLS checks a service's TLS files, which apply to https replicas.
func (v *validator) serviceTLS(owner string, s Service, base []string) {
	v.file(owner, appendPath(base, "tls_ca_file"), s.TLSCAFile)
	v.certificatePair(owner, base, s.TLSCertFile, s.TLSKeyFile)
	if s.TLSCAFile == "" && s.TLSCertFile == "" {
		return
	}
	for _, u := range append([]string{s.URL}, s.Replicas...) {
		if strings.HasPrefix(u, "https://") {
			return
		}
	}
	v.add(base, "%s sets TLS files, but no url or replica starts with https://; use https or remove the tls_* keys", owner)
}

// jwtAlgorithms lists the algorithms the runtime's JWT verifier supports.
var jwtAlgorithms = []string{"HS256", "RS256", "ES256"}

// auth checks the [auth] table and returns the names of the API keys it
// defines, inline and in api_key_file.
func (v *validator) auth() (keyNames []string) {
	a := v.f.Auth
	seen := map[string]int{}
	for i, k := range a.APIKeys {
		base := []string{"auth", "api_keys", strconv.Itoa(i)}
		if _, err := runtime.ParseAPIKeyHash(k.SHA256); err != nil {
			v.add(appendPath(base, "sha256"), "auth: api_keys[%d].sha256: %v; compute it with: printf %%s KEY | sha256sum", i, err)
		}
		if k.Name == "" {
			continue
		}
		if first, dup := seen[k.Name]; dup {
			v.add(appendPath(base, "name"), "auth: API key name %q is used twice, first at line %d; give each key its own name", k.Name, v.at("auth", "api_keys", strconv.Itoa(first)).Line)
			continue
		}
		seen[k.Name] = i
		keyNames = append(keyNames, k.Name)
	}
	if v.file("auth", []string{"auth", "api_key_file"}, a.APIKeyFile) {
		keys, err := runtime.ReadAPIKeyFile(v.f.resolve(a.APIKeyFile))
		if err != nil {
			v.add([]string{"auth", "api_key_file"}, "auth: %v", err)
		}
		for _, k := range keys {
			if k.Name != "" {
				keyNames = append(keyNames, k.Name)
			}
		}
	}
	v.jwt(a.JWT)
	return keyNames
}

func (v *validator) jwt(j JWT) {
	base := []string{"auth", "jwt"}
	for _, key := range []struct{ name, value string }{{"key_file", j.KeyFile}, {"jwks_file", j.JWKSFile}, {"secret_file", j.SecretFile}} {
		v.file("auth", appendPath(base, key.name), key.value)
	}
	if !j.enabled() && v.pos.defined(base) {
		v.add(base, "auth: [auth.jwt] has no key; set key_file, jwks_file or secret_file")
	}
	for i, alg := range j.Algorithms {
		if !slices.Contains(jwtAlgorithms, alg) {
			v.add(appendPath(base, "algorithms", strconv.Itoa(i)), "auth: jwt algorithm %q is not supported%s", alg, oneOf(alg, jwtAlgorithms))
		}
	}
}

func (j JWT) enabled() bool { return j.KeyFile != "" || j.JWKSFile != "" || j.SecretFile != "" }

func (a Auth) hasKeys() bool { return len(a.APIKeys) > 0 || a.APIKeyFile != "" }

// routeGuards checks route i's guard tables and marks the present ones.
func (v *validator) routeGuards(i int, owner string, keyNames []string) {
	r := &v.f.Routes[i]
	base := []string{"routes", strconv.Itoa(i)}
	if v.pos.defined(appendPath(base, "auth")) {
		r.Auth.enabled = true
		v.routeAuth(owner, r.Auth, appendPath(base, "auth"), keyNames)
	}
	if v.pos.defined(appendPath(base, "rate_limit")) {
		r.RateLimit.enabled = true
		v.rateLimit(owner, r.RateLimit, appendPath(base, "rate_limit"))
	}
	if v.pos.defined(appendPath(base, "content")) {
		r.Content.enabled = true
		v.content(owner, r.Content, appendPath(base, "content"))
	}
}

func (v *validator) routeAuth(owner string, ra RouteAuth, base []string, keyNames []string) {
	a := v.f.Auth
	if !a.hasKeys() && !a.JWT.enabled() {
		v.add(base, "%s has an auth table, but [auth] defines no API keys and no JWT key; add [[auth.api_keys]], api_key_file or [auth.jwt]", owner)
		return
	}
	for k, name := range ra.Keys {
		path := appendPath(base, "keys", strconv.Itoa(k))
		switch {
		case !a.hasKeys():
			v.add(path, "%s: auth.keys names %q, but [auth] defines no API keys", owner, name)
		case !slices.Contains(keyNames, name):
			v.add(path, "%s: auth.keys names unknown API key %q%s", owner, name, choices(name, keyNames, "named API keys"))
		}
	}
	if len(ra.Claims) > 0 && !a.JWT.enabled() {
		v.add(appendPath(base, "claims"), "%s: auth.claims needs [auth.jwt] with a key; add it or remove claims", owner)
	}
	if h := ra.KeyHeader; h != "" && !isHeaderName(h) {
		v.add(appendPath(base, "key_header"), "%s: auth.key_header %q is not a valid header name; use letters, digits and -", owner, h)
	}
}

// isHeaderName reports whether h is an HTTP field name token (RFC 9110
// §5.1), restricted to letters, digits and "-" as header names are in
// practice.
func isHeaderName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return h != ""
}

func (v *validator) rateLimit(owner string, rl RateLimit, base []string) {
	if rl.Rate <= 0 {
		v.add(appendPath(base, "rate"), "%s: rate_limit.rate is %g; set it to the requests per second one client may send, such as 10", owner, rl.Rate)
	}
	v.atLeast(owner, int64(rl.Burst), 0, appendPath(base, "burst")...)
	v.atLeast(owner, int64(rl.MaxClients), 1, appendPath(base, "max_clients")...)
	for k, p := range rl.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			v.add(appendPath(base, "trusted_proxies", strconv.Itoa(k)), "%s: trusted proxy %q is not an IP address or CIDR prefix; write, for example, \"10.0.0.0/8\"", owner, p)
		}
	}
}

// parsePrefix reads a CIDR prefix or a single address, which becomes a
// prefix of its full length.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

func (v *validator) content(owner string, c Content, base []string) {
	for k, t := range c.Types {
		if _, _, err := mime.ParseMediaType(t); err != nil || !strings.Contains(t, "/") {
			v.add(appendPath(base, "types", strconv.Itoa(k)), "%s: content type %q is not a media type; write type/subtype, such as \"application/json\" or \"text/*\"", owner, t)
		}
	}
	v.file(owner, appendPath(base, "schema_file"), c.SchemaFile)
}

// guardSet builds the shared credentials of [auth] once for all routes.
type guardSet struct {
	keys *runtime.APIKeySet
	jwt  *runtime.JWTVerifier
}

func newGuardSet(f *File, out *problems) guardSet {
	var g guardSet
	a := f.Auth
	if a.hasKeys() {
		keys := make([]runtime.APIKey, 0, len(a.APIKeys))
		for _, k := range a.APIKeys {
			hash, _ := runtime.ParseAPIKeyHash(k.SHA256) // checked by Load
			keys = append(keys, runtime.APIKey{Name: k.Name, Hash: hash})
		}
		set, err := runtime.NewAPIKeySet(keys, f.resolve(a.APIKeyFile))
		if err != nil {
			out.add(f.position("auth"), "auth: %v", err)
		}
		g.keys = set
	}
	if a.JWT.enabled() {
		j := a.JWT
		verifier, err := runtime.NewJWTVerifier(runtime.JWTSettings{
			Algorithms: j.Algorithms,
			KeyFile:    f.resolve(j.KeyFile),
			JWKSFile:   f.resolve(j.JWKSFile),
			SecretFile: f.resolve(j.SecretFile),
			Issuer:     j.Issuer,
			Audience:   j.Audience,
			ClockSkew:  clockSkew(j.ClockSkew.Duration),
		})
		if err != nil {
			out.add(f.position("auth", "jwt"), "auth: %v", err)
		}
		g.jwt = verifier
	}
	return g
}

// routeGuards returns route i's guards in checking order: authentication
// first, so the rate limit can key on the client it found, then content.
func (g guardSet) routeGuards(f *File, i int, out *problems) []runtime.Guard {
	r := f.Routes[i]
	name := strings.Join(r.Methods, ",") + " " + r.Path
	base := []string{"routes", strconv.Itoa(i)}
	var guards []runtime.Guard
	if r.Auth.enabled {
		guard, err := runtime.NewAuthGuard(runtime.AuthSettings{
			Route:          name,
			Keys:           g.keys,
			AllowedKeys:    r.Auth.Keys,
			KeyHeader:      r.Auth.KeyHeader,
			JWT:            g.jwt,
			RequiredClaims: r.Auth.Claims,
		})
		if err != nil {
			out.add(f.position(appendPath(base, "auth")...), "%v", err)
		} else {
			guards = append(guards, guard)
		}
	}
	if r.RateLimit.enabled {
		rl := r.RateLimit
		var proxies []netip.Prefix
		for _, p := range rl.TrustedProxies {
			prefix, _ := parsePrefix(p) // checked by Load
			proxies = append(proxies, prefix)
		}
		guard, err := runtime.NewRateLimitGuard(runtime.RateLimitSettings{
			Rate:           rl.Rate,
			Burst:          rl.Burst,
			TrustedProxies: proxies,
			MaxClients:     rl.MaxClients,
		})
		if err != nil {
			out.add(f.position(appendPath(base, "rate_limit")...), "%s: %v", routeLabel(i, r.Path), err)
		} else {
			guards = append(guards, guard)
		}
	}
	if r.Content.enabled {
		guard, err := runtime.NewContentGuard(runtime.ContentSettings{
			ContentTypes: r.Content.Types,
			SchemaFile:   f.resolve(r.Content.SchemaFile),
		})
		if err != nil {
			out.add(f.position(appendPath(base, "content")...), "%s: %v", routeLabel(i, r.Path), err)
		} else {
			guards = append(guards, guard)
		}
	}
	return guards
}

// clockSkew maps the configured leeway onto the runtime's setting, where
// zero means the 30 s default: "0s" in the file means no leeway at all.
func clockSkew(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
