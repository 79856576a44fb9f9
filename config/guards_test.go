package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/megaflow/megaflow/runtime"
)

// guardedConfig is a configuration whose route uses every guard: API keys
// inline and from a file, a per-client rate limit of one request in a
// burst, and JSON content with a schema.
const guardedConfig = `[services.echo]
builtin = "echo"

[flows.f]
  [[flows.f.nodes]]
  service = "echo"

[[routes]]
path = "/v1/echo"
flow = "f"

  [routes.auth]
  keys = ["alice", "carol"]
  key_header = "X-API-Key"

  [routes.rate_limit]
  rate = 0.001
  burst = 1

  [routes.content]
  types = ["application/json"]
  schema_file = "schema.json"

[auth]
api_key_file = "keys.txt"

  [[auth.api_keys]]
  name = "alice"
  sha256 = "ALICE_HASH"

  [[auth.api_keys]]
  name = "bob"
  sha256 = "BOB_HASH"
`

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// writeGuardedConfig writes guardedConfig with its key file and schema
// into a fresh directory and returns the configuration's path.
func writeGuardedConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"c.toml":      strings.NewReplacer("ALICE_HASH", sha256Hex("alice-key"), "BOB_HASH", sha256Hex("bob-key")).Replace(guardedConfig),
		"keys.txt":    "# name hash\ncarol " + sha256Hex("carol-key") + "\n",
		"schema.json": `{"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "c.toml")
}

func TestRouteGuardsServe(t *testing.T) {
	f, err := Load(writeGuardedConfig(t))
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	f.Admin.Listen = ""
	snap, err := Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer snap.Close()
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	url := "http://" + ln.Addr().String() + "/v1/echo"
	cases := []struct {
		name, key, contentType, body string
		want                         int
	}{
		{"no key", "", "application/json", `{"text":"a"}`, http.StatusUnauthorized},
		{"unknown key", "mallory-key", "application/json", `{"text":"a"}`, http.StatusUnauthorized},
		{"key the route does not list", "bob-key", "application/json", `{"text":"a"}`, http.StatusForbidden},
		{"inline key", "alice-key", "application/json", `{"text":"a"}`, http.StatusOK},
		{"inline key past its burst", "alice-key", "application/json", `{"text":"a"}`, http.StatusTooManyRequests},
		{"key from the file, wrong type", "carol-key", "text/plain", `{"text":"a"}`, http.StatusUnsupportedMediaType},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range cases {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tc.contentType)
		if tc.key != "" {
			req.Header.Set("X-API-Key", tc.key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d; body %s", tc.name, resp.StatusCode, tc.want, body)
		}
	}
}

func TestRouteGuardsSchema(t *testing.T) {
	path := writeGuardedConfig(t)
	src, _ := os.ReadFile(path)
	// Without the rate limit, one client can send several requests.
	src = []byte(strings.Replace(string(src), "rate = 0.001\n  burst = 1", "rate = 1000", 1))
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	f.Admin.Listen = ""
	snap, err := Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer snap.Close()
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	defer srv.Shutdown(context.Background())

	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"text":"a"}`, http.StatusOK},
		{`{"text":1}`, http.StatusBadRequest},
		{`{"text":`, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/echo", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", "alice-key")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("body %s: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
}

func TestCompileMapsTLSFiles(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir, "server")
	writeKeyPair(t, dir, "client")
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("placeholder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `[server]
tls_cert_file = "server.crt"
tls_key_file = "server.key"

[services.s]
url = "https://127.0.0.1:9443/v1"
tls_ca_file = "ca.pem"
tls_cert_file = "client.crt"
tls_key_file = "client.key"
`
	f, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	settings := serverSettings(f, "")
	if settings.TLSCertFile != filepath.Join(dir, "server.crt") || settings.TLSKeyFile != filepath.Join(dir, "server.key") {
		t.Errorf("server TLS files %q %q", settings.TLSCertFile, settings.TLSKeyFile)
	}
	if got := f.resolve(f.Services["s"].TLSCAFile); got != filepath.Join(dir, "ca.pem") {
		t.Errorf("service CA file %q", got)
	}
}

func TestRouteJWTClaims(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", 32)
	src := `[services.echo]
builtin = "echo"

[flows.f]
  [[flows.f.nodes]]
  service = "echo"

[[routes]]
path = "/v1/echo"
flow = "f"
  [routes.auth]
  claims = { scope = ["chat"] }

[auth.jwt]
algorithms = ["HS256"]
secret_file = "secret"
issuer = "https://issuer.test"
audience = ["megaflow"]
clock_skew = "5s"
`
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	f.Admin.Listen = ""
	snap, err := Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer snap.Close()
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	defer srv.Shutdown(context.Background())

	sign := func(claims jwt.MapClaims) string {
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	valid := jwt.MapClaims{"sub": "alice", "iss": "https://issuer.test", "aud": "megaflow", "exp": time.Now().Add(time.Minute).Unix(), "scope": "read chat"}
	cases := []struct {
		name  string
		token string
		want  int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"valid token with the scope", sign(valid), http.StatusOK},
		{"other issuer", sign(with(valid, "iss", "https://other.test")), http.StatusUnauthorized},
		{"other audience", sign(with(valid, "aud", "other")), http.StatusUnauthorized},
		{"expired", sign(with(valid, "exp", time.Now().Add(-time.Minute).Unix())), http.StatusUnauthorized},
		{"scope missing", sign(with(valid, "scope", "read")), http.StatusForbidden},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/echo", strings.NewReader("{}"))
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// with returns a copy of claims with key set to value.
func with(claims jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	out[key] = value
	return out
}

// writeKeyPair writes a self-signed ECDSA certificate and its key as
// DIR/NAME.crt and DIR/NAME.key.
func writeKeyPair(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func TestMismatchedKeyPairRejected(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir, "a")
	writeKeyPair(t, dir, "b")
	src := "[server]\ntls_cert_file = \"a.crt\"\ntls_key_file = \"b.key\"\n"
	_, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(src))
	if err == nil || !strings.Contains(err.Error(), "c.toml:2:1: server: tls_cert_file and tls_key_file are not a usable pair") {
		t.Errorf("mismatched pair: %v", err)
	}
}
