package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/megaflow/megaflow/runtime"
	"github.com/valyala/fasthttp"
)

// Build the echo megaservice in code: one remote echo microservice, run
// once with Schedule and then served behind POST /process.
func Example() {
	// The remote echo microservice, as `megaflow echo` runs it.
	echoLn, _ := net.Listen("tcp", "127.0.0.1:0")
	echoSrv := &fasthttp.Server{Handler: runtime.EchoHandler}
	go echoSrv.Serve(echoLn)
	defer echoSrv.Shutdown()

	echo := &runtime.MicroService{
		Name:     "echo_service",
		Host:     "127.0.0.1",
		Port:     echoLn.Addr().(*net.TCPAddr).Port,
		Endpoint: "/v1/echo",
		Type:     runtime.TypeUndefined,
		Remote:   true,
	}
	mega := runtime.NewOrchestrator()
	defer mega.Close()
	if err := mega.Add(echo); err != nil {
		panic(err)
	}

	results, graph, err := mega.Schedule(context.Background(), []byte(`{"text":"hello"}`))
	if err != nil {
		panic(err)
	}
	out, ok := results.Get("echo_service")
	fmt.Println(string(out), ok, graph.Ran())

	// Serve the same flow behind POST /process.
	plan, _ := mega.Plan()
	snap, _ := runtime.NewSnapshot(runtime.ServerSettings{}, []runtime.Route{{Path: "/process", Methods: []string{"POST"}, Plan: plan}}, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := runtime.NewServer(snap, nil)
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	resp, err := http.Post("http://"+ln.Addr().String()+"/process", "text/plain", strings.NewReader("ping"))
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// {"text":"hello"} true [echo_service]
	// 200 ping
}
