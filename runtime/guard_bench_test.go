package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// benchRequest returns a request context from 192.0.2.10 with the given
// headers (name, value pairs) and body.
func benchRequest(body string, header ...string) *fasthttp.RequestCtx {
	ctx := requestFrom("192.0.2.10")
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/guarded")
	for i := 0; i+1 < len(header); i += 2 {
		ctx.Request.Header.Set(header[i], header[i+1])
	}
	ctx.Request.SetBodyString(body)
	return ctx
}

func runGuard(b *testing.B, g Guard, ctx *fasthttp.RequestCtx) {
	b.Helper()
	if e := g.Check(ctx); e != nil {
		b.Fatalf("request rejected: %v", e)
	}
	b.ReportAllocs()
	for b.Loop() {
		if e := g.Check(ctx); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkGuardAPIKey(b *testing.B) {
	var keys []APIKey
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		keys = append(keys, APIKey{Name: name, Hash: mustHash(b, name+"-secret-key")})
	}
	set, err := NewAPIKeySet(keys, "")
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewAuthGuard(AuthSettings{Keys: set, AllowedKeys: []string{"alice", "heidi"}})
	if err != nil {
		b.Fatal(err)
	}
	runGuard(b, g, benchRequest("{}", "Authorization", "Bearer heidi-secret-key"))
}

func BenchmarkGuardJWT(b *testing.B) {
	k := jwtTestKeys()
	pemFile := writeFile(b, "keys.pem", pemPublicKey(b, &k.rsa.PublicKey)+pemPublicKey(b, &k.ec.PublicKey))
	secretFile := writeFile(b, "secret", string(k.secret))
	v, err := NewJWTVerifier(JWTSettings{KeyFile: pemFile, SecretFile: secretFile, Issuer: "https://issuer.test", Audience: []string{"megaflow"}})
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewAuthGuard(AuthSettings{JWT: v, RequiredClaims: map[string][]string{"scope": {"chat"}}})
	if err != nil {
		b.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": "https://issuer.test", "aud": "megaflow", "sub": "user-7",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": "read chat"}
	methods := []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, k.secret},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.ec},
	}
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			token := signJWT(b, m.method, m.key, "", claims)
			runGuard(b, g, benchRequest("{}", "Authorization", "Bearer "+token))
		})
	}
}

// benchJSONBody is a chat request of about 1 KiB.
var benchJSONBody = `{"model":"llama","stream":false,"messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"` + strings.Repeat("What is the capital of France? ", 30) + `"}]}`

func BenchmarkGuardContent(b *testing.B) {
	typesOnly, err := NewContentGuard(ContentSettings{ContentTypes: []string{"application/json", "text/plain"}})
	if err != nil {
		b.Fatal(err)
	}
	schema, err := NewContentGuard(ContentSettings{ContentTypes: []string{"application/json"}, SchemaFile: writeFile(b, "chat.json", chatSchema)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("type only", func(b *testing.B) {
		runGuard(b, typesOnly, benchRequest("plain text", "Content-Type", "text/plain; charset=utf-8"))
	})
	b.Run("JSON 1KiB", func(b *testing.B) {
		runGuard(b, typesOnly, benchRequest(benchJSONBody, "Content-Type", "application/json"))
	})
	b.Run("schema 1KiB", func(b *testing.B) {
		runGuard(b, schema, benchRequest(benchJSONBody, "Content-Type", "application/json"))
	})
}

func BenchmarkGuardRateLimit(b *testing.B) {
	proxies, err := ParseTrustedProxies([]string{"192.0.2.0/24"})
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewRateLimitGuard(RateLimitSettings{Rate: 1e9, Burst: 1e9, TrustedProxies: proxies})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("client IP", func(b *testing.B) {
		plain, err := NewRateLimitGuard(RateLimitSettings{Rate: 1e9, Burst: 1e9})
		if err != nil {
			b.Fatal(err)
		}
		runGuard(b, plain, benchRequest(""))
	})
	b.Run("principal", func(b *testing.B) {
		ctx := benchRequest("")
		ctx.SetUserValue(principalKey, &Principal{Kind: PrincipalAPIKey, Name: "alice"})
		runGuard(b, g, ctx)
	})
	b.Run("X-Forwarded-For", func(b *testing.B) {
		runGuard(b, g, benchRequest("", "X-Forwarded-For", "198.51.100.7, 192.0.2.99"))
	})
	b.Run("parallel clients", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := benchRequest("", "X-Forwarded-For", "198.51.100.7")
			for pb.Next() {
				if e := g.Check(ctx); e != nil {
					b.Error(e)
					return
				}
			}
		})
	})
}
