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
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: megaflow serve [--config FILE] [--listen ADDR]\n\nServe the megaservice: each route runs its flow of microservice calls.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

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
	logger.Info("megaflow serving",
		"listen", ln.Addr().String(),
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
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown incomplete", "error", err)
		return 1
	}
	return 0
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
