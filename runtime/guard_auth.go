package runtime

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// APIKey is one accepted API key. Only the SHA-256 hash of the key is
// stored, so a leaked configuration does not leak usable keys.
type APIKey struct {
	// Name identifies the key in route policies, rate limits and logs.
	// Empty for a key listed by its hash alone; such a key is accepted only
	// by routes that accept any key.
	Name string
	// Hash is the SHA-256 digest of the key as the client sends it.
	Hash [sha256.Size]byte
}

// ParseAPIKeyHash parses the 64 hex digits of a SHA-256 hash, as printed by
// `printf %s KEY | sha256sum`.
func ParseAPIKeyHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	s = strings.TrimSpace(s)
	if len(s) != hex.EncodedLen(sha256.Size) {
		return h, fmt.Errorf("API key hash has %d characters; write the 64 hex digits of the key's SHA-256 hash", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("API key hash is not hexadecimal: %w", err)
	}
	return h, nil
}

// ReadAPIKeyFile reads API keys from path, one per line, each written as
// "NAME HASH" or as "HASH" alone, where HASH is the key's SHA-256 hash in
// hex. Blank lines and lines starting with '#' are skipped. Errors name the
// file and line.
func ReadAPIKeyFile(path string) ([]APIKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read API key file: %w", err)
	}
	var keys []APIKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Fields(text)
		var k APIKey
		switch len(fields) {
		case 1:
			k.Hash, err = ParseAPIKeyHash(fields[0])
		case 2:
			k.Name = fields[0]
			k.Hash, err = ParseAPIKeyHash(fields[1])
		default:
			err = fmt.Errorf("found %d fields; write NAME HASH or HASH", len(fields))
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read API key file %s: %w", path, err)
	}
	return keys, nil
}

// APIKeySet is the list of API keys that routes may accept: keys given
// inline plus the keys of an optional file. Removing a key from the list or
// the file and reloading revokes it. An APIKeySet is safe for concurrent
// use, and Reload may run while requests are checked.
type APIKeySet struct {
	inline []APIKey
	file   string
	keys   atomic.Pointer[[]apiKeyEntry]
}

// apiKeyEntry is an APIKey with the Principal that requests using it carry,
// built once so that a successful check does not allocate.
type apiKeyEntry struct {
	hash      [sha256.Size]byte
	principal Principal
}

// NewAPIKeySet builds a key set from keys and, when file is not empty, the
// keys that ReadAPIKeyFile reads from it. It fails when the file cannot be
// read or two keys share a name.
func NewAPIKeySet(keys []APIKey, file string) (*APIKeySet, error) {
	s := &APIKeySet{inline: slices.Clone(keys), file: file}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the key file again and swaps the key list at once, so a key
// removed from the file is rejected by the next request. On error the old
// list stays in use.
func (s *APIKeySet) Reload() error {
	all := slices.Clone(s.inline)
	if s.file != "" {
		fromFile, err := ReadAPIKeyFile(s.file)
		if err != nil {
			return err
		}
		all = append(all, fromFile...)
	}
	entries := make([]apiKeyEntry, 0, len(all))
	seen := map[string]bool{}
	for _, k := range all {
		name := k.Name
		if name != "" {
			if seen[name] {
				return fmt.Errorf("API key name %q is used twice; give each key its own name", name)
			}
			seen[name] = true
		} else {
			// Unnamed keys still need distinct identities for rate limits
			// and logs; a hash prefix identifies them without revealing
			// the key.
			name = "sha256:" + hex.EncodeToString(k.Hash[:6])
		}
		entries = append(entries, apiKeyEntry{hash: k.Hash, principal: Principal{Kind: PrincipalAPIKey, Name: name, named: k.Name != ""}})
	}
	s.keys.Store(&entries)
	return nil
}

// Len returns the number of keys in the set.
func (s *APIKeySet) Len() int { return len(*s.keys.Load()) }

// lookup returns the entry whose hash matches key, or nil. It compares the
// hash with every entry in constant time, so the time taken does not tell
// which entry, if any, came close.
func (s *APIKeySet) lookup(key []byte) *apiKeyEntry {
	sum := sha256.Sum256(key)
	entries := *s.keys.Load()
	found := -1
	for i := range entries {
		if subtle.ConstantTimeCompare(sum[:], entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil
	}
	return &entries[found]
}

// Kinds of Principal.
const (
	PrincipalAPIKey = "api_key"
	PrincipalJWT    = "jwt"
)

// Principal is the client that an AuthGuard authenticated. Later guards of
// the route, such as a RateLimitGuard, and the flow read it with
// PrincipalOf.
type Principal struct {
	// Kind is PrincipalAPIKey or PrincipalJWT.
	Kind string
	// Name is the API key's name (or "sha256:" and a hash prefix for an
	// unnamed key), or the JWT's "sub" claim.
	Name string
	// Claims are the verified claims of a JWT; nil for an API key.
	Claims jwt.MapClaims

	named bool // false for an API key listed without a name
}

// principalKey is the fasthttp user value under which the Principal of a
// request is stored.
const principalKey = "megaflow.principal"

// PrincipalOf returns the client that a guard authenticated for this
// request, or nil when no AuthGuard ran or the route has none. The
// Principal of an API key is shared by all its requests, so callers must
// not modify it.
func PrincipalOf(ctx *fasthttp.RequestCtx) *Principal {
	p, _ := ctx.UserValue(principalKey).(*Principal)
	return p
}

// AuthSettings configures the authentication of one route. At least one of
// Keys and JWT must be set.
type AuthSettings struct {
	// Route names the route in logs, e.g. "POST /v1/chatqna".
	Route string
	// Keys is the set of API keys the route checks. Nil means API keys are
	// not accepted. Several routes may share one set.
	Keys *APIKeySet
	// AllowedKeys names the keys of Keys that this route accepts; a valid
	// key not listed gets 403. Empty means every key of Keys.
	AllowedKeys []string
	// KeyHeader is the request header carrying the API key as its whole
	// value, e.g. "X-API-Key". Empty means "Authorization: Bearer KEY".
	KeyHeader string
	// JWT verifies bearer tokens. Nil means JWTs are not accepted.
	JWT *JWTVerifier
	// RequiredClaims lists claims a JWT must carry for this route: for each
	// claim name, the token's value must equal one of the listed values. A
	// claim whose value is an array matches when one element does, and the
	// space-separated "scope" and "scp" claims match when one scope does. A
	// valid token that fails this check gets 403.
	RequiredClaims map[string][]string
	// Logger receives one line per rejected request, without the
	// credential, at most one line per second per route. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// AuthGuard authenticates requests with an API key or a JWT and checks
// that the client may use the route. It rejects a request with 401 and
// "WWW-Authenticate: Bearer" when the credentials are missing or invalid,
// and 403 when they are valid but the route does not accept them
// (RFC 6750 §3.1). On success it stores the client's Principal in the
// request for later guards. An API key check does not allocate; a JWT check
// does, since the token's claims are decoded.
type AuthGuard struct {
	route       string
	keys        *APIKeySet
	allowedKeys []string
	keyHeader   []byte
	jwt         *JWTVerifier
	claims      map[string][]string
	log         *slog.Logger
	logLimit    logLimiter
}

// NewAuthGuard returns the guard that set describes. It fails when neither
// API keys nor JWTs are configured, or when AllowedKeys names a key that is
// not in Keys.
func NewAuthGuard(set AuthSettings) (*AuthGuard, error) {
	if set.Keys == nil && set.JWT == nil {
		return nil, fmt.Errorf("route %s: authentication needs API keys or a JWT verifier", set.Route)
	}
	if len(set.AllowedKeys) > 0 && set.Keys == nil {
		return nil, fmt.Errorf("route %s: allowed keys %q are listed but no API keys are configured", set.Route, set.AllowedKeys)
	}
	for _, name := range set.AllowedKeys {
		if !set.Keys.hasName(name) {
			return nil, fmt.Errorf("route %s: allowed key %q is not in the API key list", set.Route, name)
		}
	}
	if len(set.RequiredClaims) > 0 && set.JWT == nil {
		return nil, fmt.Errorf("route %s: required claims are listed but no JWT verifier is configured", set.Route)
	}
	g := &AuthGuard{
		route:       set.Route,
		keys:        set.Keys,
		allowedKeys: slices.Clone(set.AllowedKeys),
		jwt:         set.JWT,
		claims:      set.RequiredClaims,
		log:         set.Logger,
	}
	if set.KeyHeader != "" {
		g.keyHeader = []byte(set.KeyHeader)
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	return g, nil
}

func (s *APIKeySet) hasName(name string) bool {
	for _, e := range *s.keys.Load() {
		if e.principal.named && e.principal.Name == name {
			return true
		}
	}
	return false
}

var (
	headerWWWAuthenticate = []byte("WWW-Authenticate")
	bearerPrefix          = []byte("bearer ")
	// Values of WWW-Authenticate, RFC 6750 §3: no error code when the
	// request carried no credentials, invalid_token when it carried bad
	// ones.
	challengeMissing = []byte(`Bearer realm="megaflow"`)
	challengeInvalid = []byte(`Bearer realm="megaflow", error="invalid_token"`)
)

// Check implements Guard.
func (g *AuthGuard) Check(ctx *fasthttp.RequestCtx) *Error {
	bearer := bearerToken(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if g.jwt != nil && looksLikeJWT(bearer) {
		return g.checkJWT(ctx, bearer)
	}
	if g.keys == nil {
		if len(bearer) == 0 {
			return g.unauthorized(ctx, challengeMissing, "missing bearer token", "missing credentials: send Authorization: Bearer TOKEN")
		}
		return g.unauthorized(ctx, challengeInvalid, "bearer token is not a JWT", "invalid credentials")
	}
	key := bearer
	if g.keyHeader != nil {
		key = bytes.TrimSpace(ctx.Request.Header.PeekBytes(g.keyHeader))
	}
	if len(key) == 0 {
		return g.unauthorized(ctx, challengeMissing, "missing API key", g.missingKeyMessage())
	}
	entry := g.keys.lookup(key)
	if entry == nil {
		return g.unauthorized(ctx, challengeInvalid, "unknown API key", "invalid credentials")
	}
	if len(g.allowedKeys) > 0 && (!entry.principal.named || !slices.Contains(g.allowedKeys, entry.principal.Name)) {
		return g.forbidden(ctx, &entry.principal, "API key not allowed on this route")
	}
	ctx.SetUserValue(principalKey, &entry.principal)
	return nil
}

func (g *AuthGuard) missingKeyMessage() string {
	if g.keyHeader != nil {
		return "missing credentials: send the API key in the " + string(g.keyHeader) + " header"
	}
	return "missing credentials: send Authorization: Bearer TOKEN"
}

// checkJWT verifies a bearer JWT and the route's required claims.
func (g *AuthGuard) checkJWT(ctx *fasthttp.RequestCtx, token []byte) *Error {
	p, err := g.jwt.Verify(string(token))
	if err != nil {
		return g.unauthorized(ctx, challengeInvalid, err.Error(), "invalid token: "+jwtFailure(err))
	}
	for name, accepted := range g.claims {
		if !claimMatches(name, p.Claims[name], accepted) {
			return g.forbidden(ctx, p, "token lacks required claim "+name)
		}
	}
	ctx.SetUserValue(principalKey, p)
	return nil
}

func (g *AuthGuard) unauthorized(ctx *fasthttp.RequestCtx, challenge []byte, reason, message string) *Error {
	ctx.Response.Header.SetBytesKV(headerWWWAuthenticate, challenge)
	g.logRejection(ctx, fasthttp.StatusUnauthorized, reason, nil)
	return &Error{Status: fasthttp.StatusUnauthorized, Message: message}
}

func (g *AuthGuard) forbidden(ctx *fasthttp.RequestCtx, p *Principal, reason string) *Error {
	g.logRejection(ctx, fasthttp.StatusForbidden, reason, p)
	return &Error{Status: fasthttp.StatusForbidden, Message: "credentials are valid but not allowed on this route"}
}

// logRejection logs a rejected request at most once per second, with the
// reason and the client's address but not the credential.
func (g *AuthGuard) logRejection(ctx *fasthttp.RequestCtx, status int, reason string, p *Principal) {
	n, ok := g.logLimit.allow()
	if !ok {
		return
	}
	attrs := []any{
		"route", g.route, "status", status, "reason", reason,
		"remote_ip", ctx.RemoteIP().String(),
		"request_id", string(ctx.Response.Header.PeekBytes(headerRequestID)),
	}
	if p != nil {
		attrs = append(attrs, "principal", p.Name)
	}
	if n > 1 {
		attrs = append(attrs, "rejections", n)
	}
	g.log.Warn("request rejected by authentication", attrs...)
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" value,
// or nil. The scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(v []byte) []byte {
	if len(v) <= len(bearerPrefix) || !bytes.EqualFold(v[:len(bearerPrefix)], bearerPrefix) {
		return nil
	}
	return bytes.TrimSpace(v[len(bearerPrefix):])
}

// looksLikeJWT reports whether tok has the three dot-separated parts of a
// JWS compact serialization (RFC 7515 §7.1).
func looksLikeJWT(tok []byte) bool {
	return bytes.Count(tok, []byte{'.'}) == 2
}

// jwtFailure returns a short reason for a failed token, safe to send to
// the client.
func jwtFailure(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signature not verified"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "rejected"
}

// claimMatches reports whether the value of claim name equals one of
// accepted.
func claimMatches(name string, value any, accepted []string) bool {
	switch v := value.(type) {
	case string:
		if slices.Contains(accepted, v) {
			return true
		}
		if name != "scope" && name != "scp" {
			return false
		}
		// OAuth scopes are one space-separated string (RFC 8693 §4.2).
		for _, scope := range strings.Fields(v) {
			if slices.Contains(accepted, scope) {
				return true
			}
		}
	case []any:
		for _, elem := range v {
			if s, ok := elem.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	case bool, float64:
		return slices.Contains(accepted, fmt.Sprint(v))
	}
	return false
}
