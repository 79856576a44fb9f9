package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/megaflow/megaflow/config"
	"github.com/megaflow/megaflow/runtime"
)

func init() {
	register("serve", "serve the megaservice (the default command)", runServe)
}

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "TOML configuration `file`; empty serves the embedded echo megaservice")
	listen := fs.String("listen", "", "listen `address` host:port, overriding server.listen")
	adminListen := fs.String("admin-listen", "", "admin listener `address` host:port, or \"off\", overriding admin.listen")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: megaflow serve [--config FILE] [--listen ADDR]\n\nServe the megaservice: each route runs its flow of microservice calls.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	var (
		file *config.File
		err  error
	)
	if *configPath == "" {
		file, err = config.Default()
	} else {
		file, err = config.Load(*configPath)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logger, err := newLogger(file.Log.Level, file.Log.Format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file.Name(), err)
		return 1
	}
	snap, err := config.Compile(file, *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer snap.Close()

	settings := snap.Settings()
	ln, err := net.Listen("tcp", settings.Listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow: cannot listen on %s: %v; pick another address with --listen\n", settings.Listen, err)
		return 1
	}
	srv := runtime.NewServer(snap, logger)
	srv.Version = version
	adminAddr := cmpOrDefault(*adminListen, settings.AdminListen)
	var admin *runtime.Admin
	if adminAddr != "off" {
		aln, err := net.Listen("tcp", adminAddr)
		if err != nil {
			ln.Close()
			fmt.Fprintf(os.Stderr, "megaflow: cannot listen on admin address %s: %v; set [admin] listen or --admin-listen to another address or \"off\"\n", adminAddr, err)
			return 1
		}
		adminAddr = aln.Addr().String()
		admin = runtime.NewAdmin(srv)
		go func() {
			if err := admin.Serve(aln); err != nil {
				logger.Error("admin listener stopped", "error", err)
			}
		}()
	}
	logger.Info("megaflow serving",
		"version", version,
		"listen", ln.Addr().String(),
		"admin", adminAddr,
		"config", file.Name(),
		"routes", strings.Join(snap.Routes(), "; "),
		"services", describeServices(snap.Services()))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			logger.Error("server stopped", "error", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", settings.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), settings.ShutdownGrace)
	defer cancel()
	if admin != nil {
		admin.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown incomplete", "error", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// newLogger returns the slog logger [log] asks for: level debug, info, warn
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
