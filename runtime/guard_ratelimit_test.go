package runtime

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// clientFrom returns an HTTP client whose connections leave from the
// loopback address local, so the server sees another client IP.
func clientFrom(local string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
	}}
}

func postWith(t *testing.T, c *http.Client, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// statuses sends n requests and returns their statuses.
func statuses(t *testing.T, c *http.Client, url string, n int, header ...string) []int {
	t.Helper()
	var out []int
	for range n {
		out = append(out, postWith(t, c, url, header...).StatusCode)
	}
	return out
}

func TestGuardRateLimitBurst(t *testing.T) {
	g, err := NewRateLimitGuard(RateLimitSettings{Rate: 0.5, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	url := guardedServer(t, ServerSettings{}, g)

	got := statuses(t, httpClient, url, 3)
	if !slices.Equal(got, []int{200, 200, 200}) {
		t.Errorf("burst statuses = %v, want three 200s", got)
	}
	resp, out := post(t, url, "text/plain", nil)
	if resp.StatusCode != 429 {
		t.Fatalf("past the burst: status = %d, want 429; body %s", resp.StatusCode, out)
	}
	// One token takes 2 s to refill at 0.5 per second.
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	if e := decodeError(t, out); e.Error == "" || e.RequestID == "" {
		t.Errorf("429 body = %s", out)
	}
	if got := postWith(t, clientFrom("127.0.0.2"), url).StatusCode; got != 200 {
		t.Errorf("other client IP: status = %d, want 200", got)
	}
}

func TestGuardRateLimitRefills(t *testing.T) {
	// At 2 tokens per second the two requests after the first get 429 if
	// they come within 500 ms of it, which a loaded machine still does.
	g, err := NewRateLimitGuard(RateLimitSettings{Rate: 2, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	url := guardedServer(t, ServerSettings{}, g)
	if got := statuses(t, httpClient, url, 2); !slices.Equal(got, []int{200, 429}) {
		t.Fatalf("statuses = %v, want 200 then 429", got)
	}
	resp := postWith(t, httpClient, url)
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1, the smallest whole second", ra)
	}
	time.Sleep(time.Second) // 2 tokens' worth at 2 per second
	if got := postWith(t, httpClient, url).StatusCode; got != 200 {
		t.Errorf("after refill: status = %d, want 200", got)
	}
}

func TestGuardRateLimitPerPrincipal(t *testing.T) {
	keys, err := NewAPIKeySet([]APIKey{{Name: "alice", Hash: mustHash(t, "alice-key")}, {Name: "bob", Hash: mustHash(t, "bob-key")}}, "")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuthGuard(AuthSettings{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	limit, err := NewRateLimitGuard(RateLimitSettings{Rate: 0.1, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	url := guardedServer(t, ServerSettings{}, auth, limit)

	if got := statuses(t, httpClient, url, 3, "Authorization", "Bearer alice-key"); !slices.Equal(got, []int{200, 200, 429}) {
		t.Errorf("alice: statuses = %v, want 200 200 429", got)
	}
	// Same IP, other key: its own bucket.
	if got := statuses(t, httpClient, url, 2, "Authorization", "Bearer bob-key"); !slices.Equal(got, []int{200, 200}) {
		t.Errorf("bob: statuses = %v, want 200 200", got)
	}
	// Other IP, same key: the key's bucket, already empty.
	if got := postWith(t, clientFrom("127.0.0.3"), url, "Authorization", "Bearer alice-key").StatusCode; got != 429 {
		t.Errorf("alice from another IP: status = %d, want 429", got)
	}
}

func TestGuardRateLimitForwardedFor(t *testing.T) {
	untrusting, err := NewRateLimitGuard(RateLimitSettings{Rate: 0.1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := ParseTrustedProxies([]string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	trusting, err := NewRateLimitGuard(RateLimitSettings{Rate: 0.1, Burst: 1, TrustedProxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	untrustingURL := guardedServer(t, ServerSettings{}, untrusting)
	trustingURL := guardedServer(t, ServerSettings{}, trusting)

	t.Run("ignored without trusted proxies", func(t *testing.T) {
		got := []int{
			postWith(t, httpClient, untrustingURL, "X-Forwarded-For", "192.0.2.1").StatusCode,
			postWith(t, httpClient, untrustingURL, "X-Forwarded-For", "192.0.2.2").StatusCode,
		}
		if !slices.Equal(got, []int{200, 429}) {
			t.Errorf("statuses = %v, want 200 429: spoofed addresses must not give new buckets", got)
		}
	})
	t.Run("used behind a trusted proxy", func(t *testing.T) {
		cases := []struct {
			name, forwarded string
			status          int
		}{
			{"first client", "192.0.2.1", 200},
			{"second client", "192.0.2.2", 200},
			{"first client again", "192.0.2.1", 429},
			{"spoofed left hop", "198.51.100.9, 192.0.2.1", 429},
			{"trusted hops skipped", "192.0.2.3, 10.1.2.3", 200},
			{"trusted hops skipped again", "192.0.2.3", 429},
			{"ipv6 client", "2001:db8::1", 200},
		}
		for _, tc := range cases {
			if got := postWith(t, httpClient, trustingURL, "X-Forwarded-For", tc.forwarded).StatusCode; got != tc.status {
				t.Errorf("%s (%q): status = %d, want %d", tc.name, tc.forwarded, got, tc.status)
			}
		}
	})
	t.Run("peer not trusted", func(t *testing.T) {
		c := clientFrom("127.0.0.4")
		got := []int{
			postWith(t, c, trustingURL, "X-Forwarded-For", "192.0.2.50").StatusCode,
			postWith(t, c, trustingURL, "X-Forwarded-For", "192.0.2.51").StatusCode,
		}
		if !slices.Equal(got, []int{200, 429}) {
			t.Errorf("statuses = %v, want 200 429", got)
		}
	})
}

// requestFrom returns a request context whose peer is addr.
func requestFrom(addr string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}, nil)
	return ctx
}

func TestGuardRateLimitMemoryBounded(t *testing.T) {
	g, err := NewRateLimitGuard(RateLimitSettings{Rate: 1, Burst: 5, MaxClients: 64})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if e := g.Check(requestFrom(a.String())); e != nil {
			t.Fatalf("new client %s rejected: %v", a, e)
		}
	}
	if n := g.Clients(); n > 64 {
		t.Errorf("tracked clients = %d, want at most 64", n)
	}

	// Buckets idle long enough to refill are dropped before active ones.
	fast, err := NewRateLimitGuard(RateLimitSettings{Rate: 1000, Burst: 1, MaxClients: 32})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 {
		fast.Check(requestFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String()))
	}
	time.Sleep(20 * time.Millisecond)
	for i := range 32 {
		fast.Check(requestFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}).String()))
	}
	if n := fast.Clients(); n > 32 {
		t.Errorf("tracked clients after idle eviction = %d, want at most 32", n)
	}
}

func TestGuardRateLimitParseAddr(t *testing.T) {
	cases := []string{
		"192.0.2.1", "0.0.0.0", "255.255.255.255", "10.0.0.255",
		"256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4x", "",
		"2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "1234",
	}
	for _, in := range cases {
		got, gotErr := parseAddr([]byte(in))
		want, wantErr := netip.ParseAddr(in)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseAddr(%q) = %v, %v; netip.ParseAddr gives %v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

func TestGuardRateLimitSettingsErrors(t *testing.T) {
	cases := []RateLimitSettings{{}, {Rate: -1}, {Rate: 1, Burst: -1}, {Rate: 1, MaxClients: -5}}
	for _, set := range cases {
		if _, err := NewRateLimitGuard(set); err == nil {
			t.Errorf("settings %+v accepted", set)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/8", "proxy.local"}); err == nil || !strings.Contains(err.Error(), `"proxy.local"`) {
		t.Errorf("error = %v, want it to name proxy.local", err)
	}
}
