package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/megaflow/megaflow/runtime"
)

func init() {
	register("echo", "run the echo microservice alone, as a remote service", runEcho)
}

func runEcho(args []string) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7070", "listen `address` host:port")
	maxBody := fs.Int("max-body-bytes", runtime.EchoMaxBodyBytes, "largest request body accepted, in `bytes`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: megaflow echo [--listen ADDR]\n\nAnswer POST on any path with the request body and its Content-Type, and GET /health with 200.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow echo: cannot listen on %s: %v\n", *listen, err)
		return 1
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log.Info("echo microservice serving", "listen", ln.Addr().String())
	srv := runtime.NewEchoServer(*maxBody)
	// On SIGTERM or SIGINT the requests in flight finish and the process
	// exits with status 0, as serve does, which a supervisor reports as a
	// clean stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "megaflow echo: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("echo microservice stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "megaflow echo: shutdown incomplete: %v\n", err)
		return 1
	}
	return 0
}
