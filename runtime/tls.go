package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certCheckInterval bounds how often the certificate files are checked
// for changes: at most once per interval, on a TLS handshake.
const certCheckInterval = time.Second

// ListenTLS listens on addr and serves TLS (1.2 minimum) with the key pair
// in set.TLSCertFile and set.TLSKeyFile. The files are read now, so a
// missing or broken pair fails here. Afterwards a handshake reads them
// again when their size or modification time changed, at most once per
// second, so a renewed certificate is served without a restart.
//
// Use Server.ListenTLS instead when a config reload may name other files.
func ListenTLS(network, addr string, set ServerSettings) (net.Listener, error) {
	files := func() (string, string) { return set.TLSCertFile, set.TLSKeyFile }
	return listenTLS(network, addr, files, nil)
}

// ListenTLS is like the function ListenTLS, with the certificate files of
// the snapshot the server serves at the time of each handshake, so a hot
// reload that names other files swaps the certificate for new
// connections. Established connections keep theirs.
//
// NOTE: the listener stays a TLS listener: a reload that empties the file
// settings keeps the last certificate in service (and logs an error), so
// switching between HTTP and HTTPS needs a restart.
func (s *Server) ListenTLS(network, addr string) (net.Listener, error) {
	files := func() (string, string) {
		set := s.snap.Load().settings
		return set.TLSCertFile, set.TLSKeyFile
	}
	return listenTLS(network, addr, files, s.log)
}

func listenTLS(network, addr string, files func() (certFile, keyFile string), log *slog.Logger) (net.Listener, error) {
	certs := &certificateSource{files: files, log: log}
	if certs.log == nil {
		certs.log = slog.Default()
	}
	if _, err := certs.load(); err != nil {
		return nil, err
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return &tlsListener{Listener: ln, config: serverTLSConfig(certs), log: certs.log}, nil
}

// tlsListener accepts TLS connections whose failed handshakes end quietly:
// the connection reads as closed, so fasthttp neither answers nor logs
// it, and the listener logs the failure itself, at most once per second.
// Port scanners and plain HTTP clients would otherwise log a warning per
// connection.
type tlsListener struct {
	net.Listener
	config   *tls.Config
	log      *slog.Logger
	logLimit logLimiter
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &serverTLSConn{Conn: tls.Server(c, l.config), ln: l}, nil
}

// serverTLSConn runs the handshake on the first Read, under the read
// deadline fasthttp sets for the request.
type serverTLSConn struct {
	*tls.Conn
	ln        *tlsListener
	handshook bool // only the connection's serving goroutine reads
}

func (c *serverTLSConn) Read(b []byte) (int, error) {
	if !c.handshook {
		if err := c.Conn.Handshake(); err != nil {
			c.ln.logHandshakeError(c.RemoteAddr(), err)
			return 0, io.EOF
		}
		c.handshook = true
	}
	return c.Conn.Read(b)
}

func (l *tlsListener) logHandshakeError(remote net.Addr, err error) {
	if errors.Is(err, io.EOF) || isTimeout(err) {
		return // the client left or stalled; the read timeout covers it
	}
	if n, ok := l.logLimit.allow(); ok {
		l.log.Warn("TLS handshake failed", "remote_addr", remote.String(), "error", err, "failures", n)
	}
}

// serverTLSConfig returns the main listener's TLS configuration. The
// HTTP/1.1 ALPN protocol is the only one offered, since fasthttp serves
// neither HTTP/2 nor HTTP/3.
func serverTLSConfig(certs *certificateSource) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return certs.get()
		},
	}
}

// CheckTLSKeyPair reports whether certFile and keyFile hold a matching
// PEM certificate chain and private key, for validating a configuration
// before it is served.
func CheckTLSKeyPair(certFile, keyFile string) error {
	_, err := loadKeyPair(certFile, keyFile)
	return err
}

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate file and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair %s, %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// certificateSource returns the current certificate to TLS handshakes.
// The fast path is one atomic load and one clock read; a file check takes
// the mutex, so concurrent handshakes do not read the files twice.
type certificateSource struct {
	files func() (certFile, keyFile string)
	log   *slog.Logger

	current atomic.Pointer[loadedCert]
	mu      sync.Mutex
}

// loadedCert is a certificate with the identity of the files it came from.
type loadedCert struct {
	cert              *tls.Certificate
	certFile, keyFile string
	certStat, keyStat fileStamp
	checked           atomic.Int64 // Unix nanoseconds of the last file check
}

// fileStamp identifies a version of a file well enough to notice a
// replaced certificate: renewals rewrite or rename the file.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: info.Size(), modTime: info.ModTime()}, nil
}

// get returns the certificate to serve. When the files changed but cannot
// be loaded, it logs the error and keeps serving the last good
// certificate, so a half-written renewal does not break handshakes.
func (c *certificateSource) get() (*tls.Certificate, error) {
	certFile, keyFile := c.files()
	cur := c.current.Load()
	now := time.Now().UnixNano()
	if cur != nil && cur.certFile == certFile && cur.keyFile == keyFile && now-cur.checked.Load() < int64(certCheckInterval) {
		return cur.cert, nil
	}
	cert, err := c.load()
	if err != nil {
		if cur == nil {
			return nil, err
		}
		c.log.Error("TLS certificate reload failed; serving the previous certificate", "error", err)
		cur.checked.Store(now)
		return cur.cert, nil
	}
	return cert, nil
}

// load reads the files named by c.files when they differ from the loaded
// ones and returns the current certificate.
func (c *certificateSource) load() (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	certFile, keyFile := c.files()
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate file and a key file")
	}
	certStat, err1 := stampOf(certFile)
	keyStat, err2 := stampOf(keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	cur := c.current.Load()
	if cur != nil && cur.certFile == certFile && cur.keyFile == keyFile && cur.certStat == certStat && cur.keyStat == keyStat {
		cur.checked.Store(time.Now().UnixNano())
		return cur.cert, nil
	}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	next := &loadedCert{cert: cert, certFile: certFile, keyFile: keyFile, certStat: certStat, keyStat: keyStat}
	next.checked.Store(time.Now().UnixNano())
	c.current.Store(next)
	if cur != nil {
		c.log.Info("TLS certificate loaded", "cert_file", certFile, "not_after", cert.Leaf.NotAfter)
	}
	return cert, nil
}

// upstreamTLSConfig returns the TLS configuration of calls to an https
// service: TLS 1.2 minimum, server certificates verified against the
// certificates of caFile (the system roots when caFile is empty), and,
// when certFile and keyFile are set, a client certificate for mutual TLS.
// It returns nil, meaning fasthttp's defaults, when all three are empty.
func upstreamTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("TLS CA file %s contains no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := loadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg, nil
}
