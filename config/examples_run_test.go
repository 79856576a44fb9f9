package config

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/megaflow/megaflow/bench/mock"
	"github.com/megaflow/megaflow/runtime"
)

// mockService is one bundled mock an example calls; env names the
// variable that carries its port into the example.
type mockService struct {
	env  string
	kind string
	opts mock.Options
}

// exampleRuns lists, for each example, the mocks it needs, one request and
// a check of the response.
var exampleRuns = []struct {
	file    string
	plugins bool
	mocks   []mockService
	path    string
	body    string
	check   func(t *testing.T, resp *http.Response, body []byte)
}{
	{
		file:  "echo.toml",
		mocks: []mockService{{"ECHO_PORT", "echo", mock.Options{}}},
		path:  "/v1/echo",
		body:  `{"text":"hello"}`,
		check: expectBody(`{"text":"hello"}`),
	},
	{
		file: "sequential.toml",
		mocks: []mockService{
			{"PREPARE_PORT", "echo", mock.Options{}},
			{"WORK_PORT", "delay", mock.Options{Latency: 2 * time.Millisecond}},
			{"FINISH_PORT", "echo", mock.Options{}},
		},
		path:  "/v1/sequential",
		body:  `{"text":"hello"}`,
		check: expectBody(`{"text":"hello"}`),
	},
	{
		file: "parallel.toml",
		mocks: []mockService{
			{"FAST_PORT", "delay", mock.Options{Latency: time.Millisecond}},
			{"SLOW_PORT", "delay", mock.Options{Latency: 10 * time.Millisecond}},
			{"EXTRA_PORT", "delay", mock.Options{ErrorRate: 1}},
			{"JOIN_PORT", "echo", mock.Options{}},
		},
		path: "/v1/parallel",
		body: `{"text":"hello"}`,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			var joined map[string]json.RawMessage
			if err := json.Unmarshal(body, &joined); err != nil {
				t.Fatalf("response %q is not a JSON object: %v", body, err)
			}
			for _, branch := range []string{"fast", "slow"} {
				if string(joined[branch]) != `{"text":"hello"}` {
					t.Errorf("branch %s: %s", branch, joined[branch])
				}
			}
			if _, ok := joined["extra"]; ok {
				t.Errorf("optional branch extra failed but is in the response: %s", body)
			}
		},
	},
	{
		file:    "conditional.toml",
		plugins: true,
		mocks: []mockService{
			{"RETRIEVER_PORT", "retriever", mock.Options{Docs: -1}},
			{"RERANK_PORT", "rerank", mock.Options{}},
			{"LLM_PORT", "llm", mock.Options{Tokens: 4, TokensPerSecond: 1000}},
		},
		path:  "/v1/conditional",
		body:  `{"text":"what does megaflow do?"}`,
		check: expectContains(`"chat.completion"`),
	},
	{
		file:    "chatqna.toml",
		plugins: true,
		mocks: []mockService{
			{"EMBEDDING_SERVER_PORT", "embedding", mock.Options{Dim: 8}},
			{"RETRIEVER_SERVICE_PORT", "retriever", mock.Options{}},
			{"RERANK_SERVER_PORT", "rerank", mock.Options{}},
			{"LLM_SERVER_PORT", "llm", mock.Options{Tokens: 4, TokensPerSecond: 1000}},
		},
		path: "/v1/chatqna",
		body: `{"messages":[{"role":"user","content":"What is the revenue of Nike in 2023?"}],"stream":true}`,
		check: func(t *testing.T, resp *http.Response, body []byte) {
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type %q, want text/event-stream", ct)
			}
			expectContains("data: [DONE]")(t, resp, body)
		},
	},
}

func expectBody(want string) func(*testing.T, *http.Response, []byte) {
	return func(t *testing.T, _ *http.Response, body []byte) {
		if string(body) != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
}

func expectContains(want string) func(*testing.T, *http.Response, []byte) {
	return func(t *testing.T, _ *http.Response, body []byte) {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestExamplesRunAgainstMocks(t *testing.T) {
	built := usePluginStubs(t)
	for _, run := range exampleRuns {
		t.Run(run.file, func(t *testing.T) {
			if run.plugins && !built {
				t.Skip("the example's plugins are not built (make plugins)")
			}
			for _, m := range run.mocks {
				srv, err := mock.Start(m.kind, m.opts, "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				_, port, _ := net.SplitHostPort(srv.Addr())
				t.Setenv(m.env, port)
			}
			resp, body := serveExample(t, "examples/"+run.file, run.path, run.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			run.check(t, resp, body)
		})
	}
}

// serveExample serves the example on a free loopback port, sends one POST
// and returns the response with its whole body.
func serveExample(t *testing.T, file, path, body string) (*http.Response, []byte) {
	t.Helper()
	f, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	f.Admin.Listen = "" // off: the runtime would bind 127.0.0.1:8001
	snap, err := Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snap.Close() })
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post("http://"+ln.Addr().String()+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}
