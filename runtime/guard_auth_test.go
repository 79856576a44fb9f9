package runtime

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// guardFunc adapts a function to Guard, for probing what earlier guards
// stored in the request.
type guardFunc func(ctx *fasthttp.RequestCtx) *Error

func (f guardFunc) Check(ctx *fasthttp.RequestCtx) *Error { return f(ctx) }

// guardedServer serves POST /guarded, where a local service returns "ok"
// once the guards pass, and returns the route's URL.
func guardedServer(t testing.TB, set ServerSettings, guards ...Guard) string {
	t.Helper()
	ok := &MicroService{Name: "local", Handler: ExecutorFunc(func(_ context.Context, c *Call) error {
		c.SetOutput([]byte("ok"))
		return nil
	})}
	plan, err := CompilePlan(FlowSpec{Name: "guarded", Nodes: []NodeSpec{{Service: ok}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(set, []Route{{Path: "/guarded", Methods: []string{"POST"}, Plan: plan, Guards: guards}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return startMegaflow(t, snap) + "/guarded"
}

func hashHex(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func mustHash(t testing.TB, key string) [sha256.Size]byte {
	t.Helper()
	h, err := ParseAPIKeyHash(hashHex(key))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestGuardAPIKeys(t *testing.T) {
	const alice, bob, carol = "alice-secret-key-1", "bob-secret-key-2", "carol-secret-key-3"
	file := writeFile(t, "keys.txt", "# team keys\nbob "+hashHex(bob)+"\n\n"+hashHex(carol)+"\n")
	keys, err := NewAPIKeySet([]APIKey{{Name: "alice", Hash: mustHash(t, alice)}}, file)
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() != 3 {
		t.Fatalf("key set has %d keys, want 3", keys.Len())
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	anyKey, err := NewAuthGuard(AuthSettings{Route: "POST /guarded", Keys: keys, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	onlyAlice, err := NewAuthGuard(AuthSettings{Route: "POST /guarded", Keys: keys, AllowedKeys: []string{"alice"}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	header, err := NewAuthGuard(AuthSettings{Route: "POST /guarded", Keys: keys, KeyHeader: "X-API-Key", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	anyURL := guardedServer(t, ServerSettings{}, anyKey)
	aliceURL := guardedServer(t, ServerSettings{}, onlyAlice)
	headerURL := guardedServer(t, ServerSettings{}, header)

	cases := []struct {
		name      string
		url       string
		header    []string
		status    int
		challenge string
	}{
		{"missing", anyURL, nil, 401, `Bearer realm="megaflow"`},
		{"wrong key", anyURL, []string{"Authorization", "Bearer not-a-key"}, 401, `Bearer realm="megaflow", error="invalid_token"`},
		{"other scheme", anyURL, []string{"Authorization", "Basic " + alice}, 401, `Bearer realm="megaflow"`},
		{"inline key", anyURL, []string{"Authorization", "Bearer " + alice}, 200, ""},
		{"file key", anyURL, []string{"Authorization", "Bearer " + bob}, 200, ""},
		{"unnamed file key", anyURL, []string{"Authorization", "bearer " + carol}, 200, ""},
		{"allowed key", aliceURL, []string{"Authorization", "Bearer " + alice}, 200, ""},
		{"key not allowed", aliceURL, []string{"Authorization", "Bearer " + bob}, 403, ""},
		{"unnamed key not allowed", aliceURL, []string{"Authorization", "Bearer " + carol}, 403, ""},
		{"custom header", headerURL, []string{"X-API-Key", bob}, 200, ""},
		{"custom header missing", headerURL, []string{"Authorization", "Bearer " + bob}, 401, `Bearer realm="megaflow"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := post(t, tc.url, "text/plain", []byte("hi"), tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, out)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.status != 200 && decodeError(t, out).RequestID == "" {
				t.Errorf("error body has no request_id: %s", out)
			}
		})
	}

	t.Run("revoked", func(t *testing.T) {
		if err := os.WriteFile(file, []byte(hashHex(carol)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := keys.Reload(); err != nil {
			t.Fatal(err)
		}
		resp, out := post(t, anyURL, "text/plain", nil, "Authorization", "Bearer "+bob)
		if resp.StatusCode != 401 {
			t.Errorf("revoked key: status = %d, want 401; body %s", resp.StatusCode, out)
		}
		resp, out = post(t, anyURL, "text/plain", nil, "Authorization", "Bearer "+carol)
		if resp.StatusCode != 200 {
			t.Errorf("kept key: status = %d, want 200; body %s", resp.StatusCode, out)
		}
	})

	t.Run("logs without secret", func(t *testing.T) {
		got := logs.String()
		if !strings.Contains(got, "request rejected by authentication") {
			t.Fatalf("no rejection logged: %q", got)
		}
		for _, secret := range []string{alice, bob, carol, "not-a-key"} {
			if strings.Contains(got, secret) {
				t.Errorf("log contains the key %q: %s", secret, got)
			}
		}
	})
}

func TestGuardAPIKeyErrors(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"short hash", "alice abc\n", "keys.txt:1:"},
		{"not hex", "alice " + strings.Repeat("z", 64) + "\n", "not hexadecimal"},
		{"three fields", "\nalice bob " + hashHex("x") + "\n", "keys.txt:2:"},
		{"duplicate name", "alice " + hashHex("x") + "\nalice " + hashHex("y") + "\n", `"alice" is used twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAPIKeySet(nil, writeFile(t, "keys.txt", tc.content))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}

	keys, err := NewAPIKeySet([]APIKey{{Name: "alice", Hash: mustHash(t, "k")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAuthGuard(AuthSettings{Keys: keys, AllowedKeys: []string{"bob"}}); err == nil {
		t.Error("allowed key missing from the set was accepted")
	}
	if _, err := NewAuthGuard(AuthSettings{}); err == nil {
		t.Error("guard without keys or JWT was accepted")
	}
}

// jwtTestKeys are the signing keys of the JWT tests, generated once
// because RSA key generation is slow.
var jwtTestKeys = sync.OnceValue(func() (k struct {
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	secret []byte
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	k.secret = []byte("a shared HS256 secret of 32+ bytes!")
	return k
})

func signJWT(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemPublicKey(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwksFile writes a JWKS with the test keys under kids "rsa-1", "ec-1" and
// "hmac-1", plus an encryption key that must be skipped.
func jwksFile(t testing.TB) string {
	t.Helper()
	k := jwtTestKeys()
	b64 := base64.RawURLEncoding
	ecPub := k.ec.PublicKey
	point, err := ecPub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64.EncodeToString(k.rsa.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:])},
		{"kty": "oct", "kid": "hmac-1", "k": b64.EncodeToString(k.secret)},
		{"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"},
	}}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "jwks.json", string(data))
}

func TestGuardJWT(t *testing.T) {
	k := jwtTestKeys()
	pemFile := writeFile(t, "keys.pem", pemPublicKey(t, &k.rsa.PublicKey)+pemPublicKey(t, &k.ec.PublicKey))
	secretFile := writeFile(t, "secret", string(k.secret)+"\n")
	fromPEM, err := NewJWTVerifier(JWTSettings{KeyFile: pemFile, SecretFile: secretFile, Issuer: "https://issuer.test", Audience: []string{"megaflow"}})
	if err != nil {
		t.Fatal(err)
	}
	fromJWKS, err := NewJWTVerifier(JWTSettings{JWKSFile: jwksFile(t), Issuer: "https://issuer.test", Audience: []string{"megaflow", "other"}, ClockSkew: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	pemGuard, err := NewAuthGuard(AuthSettings{Route: "POST /guarded", JWT: fromPEM, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	jwksGuard, err := NewAuthGuard(AuthSettings{Route: "POST /guarded", JWT: fromJWKS, Logger: logger,
		RequiredClaims: map[string][]string{"scope": {"chat"}, "tier": {"gold", "silver"}}})
	if err != nil {
		t.Fatal(err)
	}
	pemURL := guardedServer(t, ServerSettings{}, pemGuard)
	jwksURL := guardedServer(t, ServerSettings{}, jwksGuard)

	now := time.Now()
	claims := func(mod ...func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://issuer.test", "aud": "megaflow", "sub": "user-7",
			"exp": now.Add(time.Minute).Unix(), "scope": "read chat", "tier": []any{"gold"}}
		for _, m := range mod {
			m(c)
		}
		return c
	}
	hs, rs, es := jwt.SigningMethodHS256, jwt.SigningMethodRS256, jwt.SigningMethodES256
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// alg "none" must never pass, whatever the keys.
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// An RS256 public key used as an HS256 secret (algorithm confusion).
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	confused := signJWT(t, hs, pubDER, "rsa-1", claims())

	cases := []struct {
		name   string
		url    string
		token  string
		status int
		reason string
	}{
		{"HS256 from secret file", pemURL, signJWT(t, hs, k.secret, "", claims()), 200, ""},
		{"RS256 from PEM", pemURL, signJWT(t, rs, k.rsa, "", claims()), 200, ""},
		{"ES256 from PEM", pemURL, signJWT(t, es, k.ec, "", claims()), 200, ""},
		{"RS256 from JWKS", jwksURL, signJWT(t, rs, k.rsa, "rsa-1", claims()), 200, ""},
		{"ES256 from JWKS", jwksURL, signJWT(t, es, k.ec, "ec-1", claims()), 200, ""},
		{"HS256 from JWKS", jwksURL, signJWT(t, hs, k.secret, "hmac-1", claims()), 200, ""},
		{"second audience", jwksURL, signJWT(t, es, k.ec, "ec-1", claims(func(c jwt.MapClaims) { c["aud"] = []string{"x", "other"} })), 200, ""},
		{"expired within skew", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })), 200, ""},
		{"missing", pemURL, "", 401, ""},
		{"expired", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), 401, "expired"},
		{"no exp", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { delete(c, "exp") })), 401, "required claim missing"},
		{"not valid yet", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), 401, "not valid yet"},
		{"wrong audience", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), 401, "wrong audience"},
		{"wrong issuer", pemURL, signJWT(t, es, k.ec, "", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), 401, "wrong issuer"},
		{"other key", pemURL, signJWT(t, rs, otherRSA, "", claims()), 401, "signature not verified"},
		{"unknown kid", jwksURL, signJWT(t, rs, k.rsa, "rsa-9", claims()), 401, "signature not verified"},
		{"alg none", pemURL, unsigned, 401, ""},
		{"algorithm confusion", jwksURL, confused, 401, "signature not verified"},
		{"tampered", pemURL, signJWT(t, es, k.ec, "", claims()) + "x", 401, ""},
		{"not a JWT", pemURL, "opaque-token", 401, ""},
		{"missing scope", jwksURL, signJWT(t, es, k.ec, "ec-1", claims(func(c jwt.MapClaims) { c["scope"] = "read" })), 403, ""},
		{"wrong tier", jwksURL, signJWT(t, es, k.ec, "ec-1", claims(func(c jwt.MapClaims) { c["tier"] = "bronze" })), 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.token != "" {
				header = []string{"Authorization", "Bearer " + tc.token}
			}
			resp, out := post(t, tc.url, "application/json", []byte("{}"), header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, out)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if (tc.status == 401) != strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("WWW-Authenticate = %q with status %d", challenge, tc.status)
			}
			if tc.reason != "" {
				if e := decodeError(t, out); !strings.Contains(e.Error, tc.reason) {
					t.Errorf("error = %q, want it to contain %q", e.Error, tc.reason)
				}
			}
		})
	}

	if got := logs.String(); strings.Contains(got, "eyJ") {
		t.Errorf("log contains a token: %s", got)
	}
}

func TestGuardJWTSettingsErrors(t *testing.T) {
	k := jwtTestKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  JWTSettings
		want string
	}{
		{"no keys", JWTSettings{}, "needs a key file"},
		{"missing file", JWTSettings{KeyFile: filepath.Join(t.TempDir(), "none.pem")}, "read JWT key file"},
		{"short secret", JWTSettings{SecretFile: writeFile(t, "s", "short")}, "at least 32"},
		{"small RSA", JWTSettings{KeyFile: writeFile(t, "k.pem", pemPublicKey(t, &small.PublicKey))}, "at least 2048"},
		{"P-384", JWTSettings{KeyFile: writeFile(t, "k.pem", pemPublicKey(t, &p384.PublicKey))}, "needs P-256"},
		{"private key PEM", JWTSettings{KeyFile: writeFile(t, "k.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, "not a public key"},
		{"no PEM", JWTSettings{KeyFile: writeFile(t, "k.pem", "hello")}, "no PEM block"},
		{"bad JWKS", JWTSettings{JWKSFile: writeFile(t, "j.json", `{"keys":`)}, "JWKS file"},
		{"empty JWKS", JWTSettings{JWKSFile: writeFile(t, "j.json", `{"keys":[{"kty":"OKP"}]}`)}, "has no RSA"},
		{"unknown algorithm", JWTSettings{SecretFile: writeFile(t, "s", string(k.secret)), Algorithms: []string{"HS512"}}, "not supported"},
		{"algorithm without key", JWTSettings{SecretFile: writeFile(t, "s", string(k.secret)), Algorithms: []string{"RS256"}}, "no RS256 key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewJWTVerifier(tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestGuardPrincipalStored(t *testing.T) {
	keys, err := NewAPIKeySet([]APIKey{{Name: "alice", Hash: mustHash(t, "alice-key")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewAuthGuard(AuthSettings{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	url := guardedServer(t, ServerSettings{}, g, guardFunc(func(ctx *fasthttp.RequestCtx) *Error {
		if p := PrincipalOf(ctx); p != nil {
			seen <- p.Kind + ":" + p.Name
		} else {
			seen <- "none"
		}
		return nil
	}))
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Authorization", "Bearer alice-key")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-seen; got != "api_key:alice" {
		t.Errorf("principal = %q, want api_key:alice", got)
	}
}
