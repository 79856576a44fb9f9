package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/megaflow/megaflow/config"
	"github.com/megaflow/megaflow/runtime"
)

func init() {
	register("serve", "serve the megaservice (the default command)", runServe)
}

// serveOptions are the command-line settings of serve.
type serveOptions struct {
	configPath  string
	listen      string
	adminListen string
	tokenFile   string
	watch       time.Duration
}

func runServe(args []string) int {
	var opt serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&opt.configPath, "config", "", "TOML configuration `file`; empty serves the embedded echo megaservice")
	fs.StringVar(&opt.listen, "listen", "", "listen `address` host:port, overriding server.listen")
	fs.StringVar(&opt.adminListen, "admin-listen", "", "admin listener `address` host:port, or \"off\", overriding admin.listen")
	fs.StringVar(&opt.tokenFile, "admin-token-file", "", "`file` holding the token that guards admin calls such as POST /admin/reload;\nthe MEGAFLOW_ADMIN_TOKEN environment variable is used when this is empty")
	fs.DurationVar(&opt.watch, "watch", 0, "check the configuration file for changes this often (a `duration` such as 2s)\nand reload it when it changed; 0 disables watching")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: megaflow serve [--config FILE] [--listen ADDR] [flags]\n\n"+
			"Serve the megaservice: each route runs its flow of microservice calls.\n"+
			"SIGHUP, POST /admin/reload and --watch reload the configuration file;\n"+
			"SIGTERM and SIGINT drain in-flight requests within server.shutdown_grace and exit.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	// Signals are caught from here on, so a SIGHUP sent while the server
	// starts waits for the loop below instead of ending the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The watcher's first fingerprint is taken before the first load, so a
	// change written between the two is reloaded rather than lost.
	seen := fingerprint(opt.configPath)
	file, err := loadConfig(opt.configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger, err := newLogger(file.Log.Level, file.Log.Format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file.Name(), err)
		return 1
	}
	// Upstreams and the plugin host log through the default logger, so
	// [log] applies to them too.
	slog.SetDefault(logger)
	token, err := adminToken(opt.tokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	snap, err := config.Compile(file, opt.listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	settings := snap.Settings()
	srv := runtime.NewServer(snap, logger)
	srv.Version = version
	var ln net.Listener
	if settings.TLSCertFile != "" {
		// HTTPS; the certificate files are re-read when they change.
		ln, err = srv.ListenTLS("tcp", settings.Listen)
	} else {
		ln, err = net.Listen("tcp", settings.Listen)
	}
	if err != nil {
		snap.Close()
		fmt.Fprintf(os.Stderr, "megaflow: cannot listen on %s: %v; pick another address with --listen\n", settings.Listen, err)
		return 1
	}
	reloader := &reloader{opt: opt, srv: srv, log: logger, seen: seen}

	adminAddr := cmpOrDefault(opt.adminListen, settings.AdminListen)
	var admin *runtime.Admin
	if adminAddr != "off" {
		aln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			ln.Close()
			snap.Close()
			fmt.Fprintf(os.Stderr, "megaflow: cannot listen on admin address %s: %v; set [admin] listen or --admin-listen to another address or \"off\"\n", adminAddr, err)
			return 1
		}
		adminAddr = aln.Addr().String()
		admin = runtime.NewAdmin(srv)
		admin.Token = token
		if opt.configPath != "" {
			admin.Reload = reloader.reload
		}
		go func() {
			if err := admin.Serve(aln); err != nil {
				logger.Error("admin listener stopped", "error", err)
			}
		}()
	}
	logger.Info("megaflow serving",
		"version", version,
		"listen", ln.Addr().String(),
		"tls", settings.TLSCertFile != "",
		"admin", adminAddr,
		"config", file.Name(),
		"routes", strings.Join(snap.Routes(), "; "),
		"services", describeServices(snap.Services()))

	if opt.watch > 0 && opt.configPath != "" {
		go reloader.watch(ctx)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	for {
		select {
		case err := <-serveErr:
			srv.Snapshot().Close()
			if err != nil && !errors.Is(err, net.ErrClosed) {
				logger.Error("server stopped", "error", err)
				return 1
			}
			return 0
		case <-hup:
			if opt.configPath == "" {
				logger.Warn("SIGHUP ignored: the embedded configuration has no file to reload")
				continue
			}
			reloader.reload() //nolint:errcheck // logged by reload
			continue
		case <-ctx.Done():
		}
		break
	}

	grace := srv.Snapshot().Settings().ShutdownGrace
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if admin != nil {
		admin.Shutdown(sctx)
	}
	err = srv.Shutdown(sctx)
	srv.Snapshot().Close()
	if err != nil {
		logger.Error("shutdown incomplete: requests were still running when server.shutdown_grace ended", "error", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func loadConfig(path string) (*config.File, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// adminToken reads the admin token from file, or from MEGAFLOW_ADMIN_TOKEN
// when file is empty. An empty token disables admin calls.
func adminToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("MEGAFLOW_ADMIN_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("megaflow: cannot read --admin-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("megaflow: --admin-token-file %s is empty; write the token in it", file)
	}
	return token, nil
}

// reloader loads, compiles and swaps in the configuration file, one
// reload at a time.
type reloader struct {
	opt serveOptions
	srv *runtime.Server
	log *slog.Logger
	mu  sync.Mutex
	// seen is the fingerprint of the file as the last load read it.
	seen [sha256.Size]byte
}

// reload swaps in the configuration file when it is valid. When it is not,
// it logs and returns the errors, and the running configuration keeps
// serving.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	// Taken before the load, like the first one, so that a write during
	// the load is seen as a change by the watcher.
	r.seen = fingerprint(r.opt.configPath)
	file, err := config.Load(r.opt.configPath)
	if err == nil {
		var snap *runtime.Snapshot
		snap, err = config.Compile(file, r.opt.listen)
		if err == nil {
			r.srv.Swap(snap)
			r.log.Info("configuration reloaded", "config", r.opt.configPath,
				"routes", strings.Join(snap.Routes(), "; "), "took_ms", time.Since(start).Milliseconds())
			return nil
		}
	}
	r.log.Error("configuration reload failed; the running configuration keeps serving",
		"config", r.opt.configPath, "error", err.Error())
	return err
}

// watch reloads the configuration file when its content differs from what
// the last load read, until ctx is done. It compares content because two
// writes within one timestamp tick of the file system can leave the same
// time and size. A reload by SIGHUP or the admin call counts as a load, so
// the watcher does not repeat it.
func (r *reloader) watch(ctx context.Context) {
	tick := time.NewTicker(r.opt.watch)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := fingerprint(r.opt.configPath)
		r.mu.Lock()
		changed := now != r.seen && now != ([sha256.Size]byte{})
		r.mu.Unlock()
		if changed {
			r.reload() //nolint:errcheck // logged by reload
		}
	}
}

// fingerprint returns the SHA-256 of the file at path, or zero when path
// is empty or cannot be read (a file being replaced is read on the next
// tick).
func fingerprint(path string) [sha256.Size]byte {
	if path == "" {
		return [sha256.Size]byte{}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}

func describeServices(svcs []*runtime.MicroService) string {
	parts := make([]string, 0, len(svcs))
	for _, s := range svcs {
		parts = append(parts, fmt.Sprintf("%s (%s) %s", s.Name, s.Type, s.URL))
	}
	return strings.Join(parts, "; ")
}

// exitUsage returns 0 for --help and 2 for a flag error, which the flag
// package has already printed.
func exitUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// newLogger returns the slog logger that [log] configures: level debug, info, warn
// or error, format json or text, written to standard error.
func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(cmpOrDefault(level, "info"))); err != nil {
		return nil, fmt.Errorf("log.level %q is invalid; use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch cmpOrDefault(format, "json") {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log.format %q is invalid; use json or text", format)
}

func cmpOrDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
