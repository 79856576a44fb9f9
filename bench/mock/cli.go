package mock

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/megaflow/megaflow/bench/flagutil"
)

// Main runs "megaflow mock" with the arguments after "mock" and returns the
// process exit code. It serves until SIGINT or SIGTERM.
func Main(args []string) int {
	fs := flag.NewFlagSet("megaflow mock", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port, printed at start")
	var opts Options
	fs.DurationVar(&opts.Latency, "latency", 0, "latency added to every response, such as 5ms")
	fs.DurationVar(&opts.LatencyMax, "latency-max", 0, "with --latency, draw each latency uniformly from [latency, latency-max]")
	fs.Float64Var(&opts.ErrorRate, "error-rate", 0, "fraction of requests, from 0 to 1, that get a 500 response")
	fs.DurationVar(&opts.Stall, "stall", 0, "freeze once for this long: requests arriving during the stall wait until it ends")
	fs.DurationVar(&opts.StallAfter, "stall-after", 0, "time from the first request until the stall starts")
	fs.IntVar(&opts.Dim, "dim", 0, "embedding: vector length (default 768)")
	fs.IntVar(&opts.Docs, "docs", 0, "retriever: documents per response; -1 returns none (default 3)")
	fs.DurationVar(&opts.FirstTokenDelay, "first-token-delay", 0, "llm: time to first token")
	fs.Float64Var(&opts.TokensPerSecond, "tokens-per-second", 0, "llm: generation rate after the first token (default 50)")
	fs.IntVar(&opts.Tokens, "tokens", 0, "llm: tokens per reply; a request's max_tokens can lower it (default 32)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: megaflow mock KIND [flags]\n\nKIND is one of %s.\n"+
			"  echo       POST any path: returns the request body\n"+
			"  delay      echo, meant to be used with --latency, --error-rate and --stall\n"+
			"  embedding  POST /embed (TEI): {\"inputs\": ...} to vectors\n"+
			"  retriever  POST /v1/retrieval (OPEA): query to retrieved_docs\n"+
			"  rerank     POST /rerank (TEI): query and texts to scores\n"+
			"  llm        POST /v1/chat/completions (OpenAI), streamed when \"stream\": true\n"+
			"Every kind answers GET /health.\n\nFlags:\n", strings.Join(Kinds(), ", "))
		fs.PrintDefaults()
	}
	positional, err := flagutil.ParseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "megaflow mock: give exactly one KIND, such as \"megaflow mock echo --listen 127.0.0.1:9000\"")
		return 2
	}
	kind := positional[0]

	handler, err := Handler(kind, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow mock: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "megaflow mock: listen on %s failed: %v\n", *listen, err)
		return 1
	}
	server := Serve(kind, handler, ln)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	log.Info("mock listening", "kind", kind, "addr", server.Addr())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	select {
	case sig := <-signals:
		log.Info("mock stopping", "kind", kind, "signal", sig.String())
		if err := server.Close(); err != nil {
			log.Error("mock shutdown failed", "kind", kind, "err", err)
			return 1
		}
		return 0
	case err := <-waitChan(server):
		log.Error("mock stopped", "kind", kind, "err", err)
		return 1
	}
}

func waitChan(s *Server) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Wait() }()
	return ch
}
