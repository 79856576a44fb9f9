package runtime

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startServer serves h on a fresh 127.0.0.1 port until the test ends and
// returns its base URL.
func startServer(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, NoDefaultServerHeader: true, MaxRequestBodySize: 64 << 20}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// startMegaflow serves snap on a fresh 127.0.0.1 port and returns its base
// URL.
func startMegaflow(t testing.TB, snap *Snapshot) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(snap, nil)
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(t.Context())
		snap.Close()
	})
	return "http://" + ln.Addr().String()
}

// remote returns a remote service named name at url with its upstream.
func remote(t testing.TB, name, url string, mod ...func(*MicroService)) (*MicroService, *Upstream) {
	t.Helper()
	svc := &MicroService{Name: name, URL: url, Remote: true, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(svc)
	}
	up, err := NewUpstream(svc, UpstreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	return svc, up
}

// httpClient is the test's client: net/http, so that megaflow is checked
// by a client other than its own.
var httpClient = &http.Client{Timeout: 30 * time.Second}
