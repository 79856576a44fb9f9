package runtime

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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

	"github.com/valyala/fasthttp"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	dir  string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "megaflow test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), dir: t.TempDir()}
	return ca
}

// pool returns a certificate pool that trusts only the CA.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// caFile writes the CA certificate and returns its path.
func (ca *testCA) caFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(ca.dir, "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate named cn for 127.0.0.1, usable by servers and
// clients, and writes it and its key as name.pem and name-key.pem. It
// returns the two paths.
func (ca *testCA) issue(t testing.TB, name, cn string, serial int64) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(ca.dir, name+".pem")
	keyFile = filepath.Join(ca.dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// serveTLS serves srv on ln until the test ends and returns the base URL.
func serveTLS(t testing.TB, srv *Server, ln net.Listener) string {
	t.Helper()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	return "https://" + ln.Addr().String()
}

// httpsClient returns a client that trusts only ca.
func httpsClient(ca *testCA) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.pool()},
		DisableKeepAlives: true,
	}}
}

// servedCommonName returns the common name of the certificate the server
// at base presents.
func servedCommonName(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "/v1/health_check")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("health check status = %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func TestTLSListenerServesHTTPS(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "server", "server-1", 2)
	set := ServerSettings{TLSCertFile: certFile, TLSKeyFile: keyFile}
	ln, err := ListenTLS("tcp", "127.0.0.1:0", set)
	if err != nil {
		t.Fatal(err)
	}
	snap := echoSnapshot(t, startServer(t, EchoHandler), set)
	base := serveTLS(t, NewServer(snap, nil), ln)
	client := httpsClient(ca)

	req, _ := http.NewRequest(http.MethodPost, base+"/process", strings.NewReader("over TLS"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "over TLS" {
		t.Errorf("echo over TLS: %d %q", resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("connection state = %+v, want TLS 1.2 or later", resp.TLS)
	}

	t.Run("TLS 1.1 rejected", func(t *testing.T) {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.pool(), MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("untrusted client fails", func(t *testing.T) {
		other := newTestCA(t)
		if _, err := httpsClient(other).Get(base + "/v1/health_check"); err == nil {
			t.Error("a client trusting another CA connected")
		}
	})
	t.Run("plain HTTP gets no answer", func(t *testing.T) {
		resp, err := httpClient.Get("http://" + ln.Addr().String() + "/v1/health_check")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Error("plain HTTP request was served")
			}
		}
	})
}

func TestTLSListenerErrors(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "server", "server-1", 2)
	_, otherKey := ca.issue(t, "other", "other", 3)
	cases := []struct {
		name string
		set  ServerSettings
		want string
	}{
		{"no key", ServerSettings{TLSCertFile: certFile}, "needs both"},
		{"missing file", ServerSettings{TLSCertFile: certFile, TLSKeyFile: filepath.Join(ca.dir, "none.pem")}, "none.pem"},
		{"mismatched key", ServerSettings{TLSCertFile: certFile, TLSKeyFile: otherKey}, "load TLS key pair"},
		{"key as certificate", ServerSettings{TLSCertFile: keyFile, TLSKeyFile: keyFile}, "load TLS key pair"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := ListenTLS("tcp", "127.0.0.1:0", tc.set)
			if err == nil {
				ln.Close()
				t.Fatal("listener started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
			if err := CheckTLSKeyPair(tc.set.TLSCertFile, tc.set.TLSKeyFile); err == nil {
				t.Error("CheckTLSKeyPair accepted the pair")
			}
		})
	}
}

func TestTLSCertificateRenewedInPlace(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "server", "before-renewal", 2)
	set := ServerSettings{TLSCertFile: certFile, TLSKeyFile: keyFile}
	ln, err := ListenTLS("tcp", "127.0.0.1:0", set)
	if err != nil {
		t.Fatal(err)
	}
	base := serveTLS(t, NewServer(echoSnapshot(t, startServer(t, EchoHandler), set), nil), ln)
	client := httpsClient(ca)
	if cn := servedCommonName(t, client, base); cn != "before-renewal" {
		t.Fatalf("served %q, want before-renewal", cn)
	}

	// A broken write of the files keeps the old certificate in service.
	time.Sleep(certCheckInterval + 100*time.Millisecond)
	if err := os.WriteFile(certFile, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cn := servedCommonName(t, client, base); cn != "before-renewal" {
		t.Errorf("after a broken write: served %q, want before-renewal", cn)
	}

	time.Sleep(certCheckInterval + 100*time.Millisecond)
	ca.issue(t, "server", "after-renewal", 3)
	if cn := servedCommonName(t, client, base); cn != "after-renewal" {
		t.Errorf("after renewal: served %q, want after-renewal", cn)
	}
}

func TestTLSServerFollowsReloadedSnapshot(t *testing.T) {
	ca := newTestCA(t)
	firstCert, firstKey := ca.issue(t, "first", "first", 2)
	secondCert, secondKey := ca.issue(t, "second", "second", 3)
	echo := startServer(t, EchoHandler)
	srv := NewServer(echoSnapshot(t, echo, ServerSettings{TLSCertFile: firstCert, TLSKeyFile: firstKey}), nil)
	ln, err := srv.ListenTLS("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := serveTLS(t, srv, ln)
	client := httpsClient(ca)
	if cn := servedCommonName(t, client, base); cn != "first" {
		t.Fatalf("served %q, want first", cn)
	}

	srv.snap.Store(echoSnapshot(t, echo, ServerSettings{TLSCertFile: secondCert, TLSKeyFile: secondKey}))
	if cn := servedCommonName(t, client, base); cn != "second" {
		t.Errorf("after reload: served %q, want second", cn)
	}
}

func TestTLSUpstreamConfig(t *testing.T) {
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "upstream", "upstream", 2)
	clientCert, clientKey := ca.issue(t, "client", "megaflow-client", 3)

	// An upstream that requires a client certificate signed by the CA.
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(tcpLn, &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
		MinVersion:   tls.VersionTLS12,
	})
	upstream := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("hello " + ctx.TLSConnectionState().PeerCertificates[0].Subject.CommonName)
	}}
	go upstream.Serve(ln)
	t.Cleanup(func() { upstream.Shutdown() })

	get := func(cfg *tls.Config) (string, error) {
		c := &fasthttp.HostClient{Addr: tcpLn.Addr().String(), IsTLS: true, TLSConfig: cfg}
		status, body, err := c.Get(nil, "https://"+tcpLn.Addr().String()+"/")
		if err == nil && status != 200 {
			t.Errorf("status = %d", status)
		}
		return string(body), err
	}

	mtls, err := upstreamTLSConfig(ca.caFile(t), clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(mtls); err != nil || body != "hello megaflow-client" {
		t.Errorf("mTLS call: body %q, error %v", body, err)
	}

	caOnly, err := upstreamTLSConfig(ca.caFile(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(caOnly); err == nil {
		t.Error("call without a client certificate succeeded")
	}
	if _, err := get(&tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		t.Error("call trusting only the system roots succeeded")
	}

	if cfg, err := upstreamTLSConfig("", "", ""); cfg != nil || err != nil {
		t.Errorf("no files: config %v, error %v; want nil, nil", cfg, err)
	}
	if _, err := upstreamTLSConfig(writeFile(t, "ca.pem", "not PEM"), "", ""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file without certificates: error = %v", err)
	}
	if _, err := upstreamTLSConfig("", clientCert, ""); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("certificate without key: error = %v", err)
	}
}

func TestTLSUpstreamMutualEndToEnd(t *testing.T) {
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "upstream", "upstream", 2)
	clientCert, clientKey := ca.issue(t, "client", "megaflow-client", 3)
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(tcpLn, &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
		MinVersion:   tls.VersionTLS12,
	})
	upstream := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("hello " + ctx.TLSConnectionState().PeerCertificates[0].Subject.CommonName + ": " + string(ctx.PostBody()))
	}}
	go upstream.Serve(ln)
	t.Cleanup(func() { upstream.Shutdown() })
	url := "https://" + tcpLn.Addr().String() + "/v1/echo"

	// serveThrough serves POST /process, calling the upstream with opts.
	serveThrough := func(t *testing.T, opts UpstreamOptions) string {
		svc := &MicroService{Name: "secure", URL: url, Remote: true, Timeout: 5 * time.Second}
		up, err := NewUpstream(svc, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { up.Close() })
		plan, err := CompilePlan(FlowSpec{Name: "secure", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/process", Plan: plan}}, []*MicroService{svc})
		if err != nil {
			t.Fatal(err)
		}
		return startMegaflow(t, snap)
	}

	t.Run("client certificate", func(t *testing.T) {
		base := serveThrough(t, UpstreamOptions{TLSCAFile: ca.caFile(t), TLSCertFile: clientCert, TLSKeyFile: clientKey})
		resp, out := post(t, base+"/process", "text/plain", []byte("ping"))
		if resp.StatusCode != 200 || string(out) != "hello megaflow-client: ping" {
			t.Errorf("mTLS flow: %d %q", resp.StatusCode, out)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		base := serveThrough(t, UpstreamOptions{TLSCAFile: ca.caFile(t), Breaker: BreakerSettings{Disabled: true}})
		resp, out := post(t, base+"/process", "text/plain", []byte("ping"))
		if resp.StatusCode != 502 || decodeError(t, out).Service != "secure" {
			t.Errorf("flow without a client certificate: %d %s, want 502 naming the service", resp.StatusCode, out)
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		base := serveThrough(t, UpstreamOptions{TLSCertFile: clientCert, TLSKeyFile: clientKey, Breaker: BreakerSettings{Disabled: true}})
		resp, out := post(t, base+"/process", "text/plain", []byte("ping"))
		if resp.StatusCode != 502 {
			t.Errorf("flow to a server outside the system roots: %d %s, want 502", resp.StatusCode, out)
		}
	})
}

func TestTLSHandshakeFailuresQuiet(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "server", "server-1", 2)
	set := ServerSettings{TLSCertFile: certFile, TLSKeyFile: keyFile, ReadTimeout: 300 * time.Millisecond}
	var logs syncBuffer
	srv := NewServer(localSnapshot(t, set, []byte("ok")), slog.New(slog.NewTextHandler(&logs, nil)))
	ln, err := srv.ListenTLS("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := serveTLS(t, srv, ln)

	for range 5 {
		conn := dialRaw(t, "http://"+ln.Addr().String())
		io.WriteString(conn, "GET /local HTTP/1.1\r\nHost: test\r\n\r\n")
		waitClosed(t, conn, 5*time.Second)
	}
	// A client that never starts the handshake is cut at the read timeout.
	silent := dialRaw(t, "http://"+ln.Addr().String())
	if took := waitClosed(t, silent, 5*time.Second); took < 250*time.Millisecond {
		t.Errorf("silent connection closed after %v, before the read timeout", took)
	}
	if got := servedCommonName(t, httpsClient(ca), base); got != "server-1" {
		t.Errorf("served %q after failed handshakes", got)
	}

	got := logs.String()
	if n := strings.Count(got, "TLS handshake failed"); n != 1 {
		t.Errorf("logged %d handshake failures, want 1 for 5 within a second:\n%s", n, got)
	}
	if strings.Contains(got, "error when serving connection") {
		t.Errorf("fasthttp logged the failed handshakes itself:\n%s", got)
	}
}
