// Package chatqna runs config/examples/chatqna.toml end to end: the real
// megaflow runtime serves the example against the bundled mock services,
// and clients send it requests as OpenAI and OPEA clients do.
package chatqna

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/megaflow/megaflow/bench/mock"
	"github.com/megaflow/megaflow/config"
	"github.com/megaflow/megaflow/runtime"
	"github.com/valyala/fasthttp"
)

const question = "What is the revenue of Nike in 2023?"

// examplePlugins are the plugins chatqna.toml loads.
var examplePlugins = []string{"to_tei", "tei_to_retriever", "retriever_to_rerank", "rerank_to_llm"}

// pluginDir returns a directory holding the example's plugins: the
// repository's plugins/build when "make plugins" has run, or else a
// temporary one they are built into with the Go toolchain.
func pluginDir(t *testing.T) string {
	t.Helper()
	built := "../../plugins/build"
	missing := false
	for _, name := range examplePlugins {
		if _, err := os.Stat(filepath.Join(built, name+".wasm")); err != nil {
			missing = true
		}
	}
	if !missing {
		abs, err := filepath.Abs(built)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}

	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, len(examplePlugins))
	outputs := make([][]byte, len(examplePlugins))
	for i, name := range examplePlugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", filepath.Join(dir, name+".wasm"), "./plugins/"+name)
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
			outputs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("building plugin %s failed: %v\n%s", examplePlugins[i], err, outputs[i])
		}
	}
	return dir
}

// recorder keeps the bodies one mock received, in order.
type recorder struct {
	mu     sync.Mutex
	bodies []string
}

// wrap returns next with each request body recorded first.
func (r *recorder) wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			r.mu.Lock()
			r.bodies = append(r.bodies, string(ctx.PostBody()))
			r.mu.Unlock()
		}
		next(ctx)
	}
}

// take returns the bodies recorded so far and clears the record.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies := r.bodies
	r.bodies = nil
	return bodies
}

// chatQnA is the example served against mocks, with the bodies the rerank
// and llm mocks received.
type chatQnA struct {
	base   string
	rerank recorder
	llm    recorder
}

// startChatQnA starts the mocks, with the retriever returning docs
// documents (none when negative, 3 when zero), serves the example on a
// free loopback port and returns it.
func startChatQnA(t *testing.T, docs int) *chatQnA {
	t.Helper()
	t.Setenv("MEGAFLOW_PLUGIN_DIR", pluginDir(t))
	t.Setenv("OPENAI_API_KEY", "")
	c := &chatQnA{}
	mocks := []struct {
		env, kind string
		opts      mock.Options
		record    *recorder
	}{
		{"EMBEDDING_SERVER_PORT", "embedding", mock.Options{Dim: 16}, nil},
		{"RETRIEVER_SERVICE_PORT", "retriever", mock.Options{Docs: docs}, nil},
		{"RERANK_SERVER_PORT", "rerank", mock.Options{}, &c.rerank},
		{"LLM_SERVER_PORT", "llm", mock.Options{TokensPerSecond: 500}, &c.llm},
	}
	for _, m := range mocks {
		h, err := mock.Handler(m.kind, m.opts)
		if err != nil {
			t.Fatal(err)
		}
		if m.record != nil {
			h = m.record.wrap(h)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := mock.Serve(m.kind, h, ln)
		t.Cleanup(func() { srv.Close() })
		_, port, _ := net.SplitHostPort(srv.Addr())
		t.Setenv(m.env, port)
	}

	f, err := config.Load("../../config/examples/chatqna.toml")
	if err != nil {
		t.Fatal(err)
	}
	f.Admin.Listen = "" // off: the default admin address may be taken
	snap, err := config.Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		snap.Close()
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		snap.Close()
	})
	c.base = "http://" + ln.Addr().String()
	return c
}

var client = &http.Client{Timeout: 20 * time.Second}

// post sends body as JSON and returns the response with its whole body.
func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
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

// dataLines returns the data of each server-sent event in body.
func dataLines(body []byte) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, data)
		}
	}
	return out
}

// mockWords returns the first n words the mock llm generates, each
// followed by a space, as bench/mock's vocabulary starts.
func mockWords(n int) string {
	words := strings.Fields("the flow sends each request through a graph")
	return strings.Join(words[:n], " ") + " "
}

func TestChatQnA(t *testing.T) {
	qna := startChatQnA(t, 0)
	base := qna.base
	messages := `[{"role":"user","content":"` + question + `"}]`

	t.Run("openai stream", func(t *testing.T) {
		resp, body := post(t, base+"/v1/chat/completions", `{"messages":`+messages+`,"stream":true,"max_tokens":5}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("Content-Type %q, want text/event-stream", ct)
		}
		lines := dataLines(body)
		if len(lines) == 0 || lines[len(lines)-1] != "[DONE]" {
			t.Fatalf("the stream does not end with [DONE]:\n%s", body)
		}
		var text strings.Builder
		for _, data := range lines[:len(lines)-1] {
			var chunk struct {
				Object  string `json:"object"`
				Choices []struct {
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(data), &chunk); err != nil {
				t.Fatalf("event %q is not a chunk: %v", data, err)
			}
			if chunk.Object != "chat.completion.chunk" {
				t.Errorf("object %q, want chat.completion.chunk", chunk.Object)
			}
			text.WriteString(chunk.Choices[0].Delta.Content)
		}
		// The mock llm writes max_tokens words, so the client's max_tokens
		// reached the llm node.
		if got, want := text.String(), mockWords(5); got != want {
			t.Errorf("streamed text %q, want %q", got, want)
		}
	})

	t.Run("opea stream by default", func(t *testing.T) {
		resp, body := post(t, base+"/v1/chatqna", `{"messages":"`+question+`","max_tokens":3}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		want := []string{"b'the '", "b'flow '", "b'sends '", "[DONE]"}
		if got := dataLines(body); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("events %q, want %q", got, want)
		}
	})

	t.Run("openai completion", func(t *testing.T) {
		resp, body := post(t, base+"/v1/chat/completions", `{"messages":`+messages+`,"max_tokens":4}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Message struct {
					Role, Content string
				} `json:"message"`
			} `json:"choices"`
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) != 1 {
			t.Fatalf("body %s: %v", body, err)
		}
		if c.Object != "chat.completion" {
			t.Errorf("object %q", c.Object)
		}
		if c.Choices[0].Message.Content != mockWords(4) {
			t.Errorf("content %q, want %q", c.Choices[0].Message.Content, mockWords(4))
		}
		if c.Usage.CompletionTokens != 4 {
			t.Errorf("completion_tokens %d, want 4", c.Usage.CompletionTokens)
		}
	})

	t.Run("invalid request", func(t *testing.T) {
		resp, body := post(t, base+"/v1/chat/completions", `{"messages":`+messages+`,"top_p":3}`)
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400: %s", resp.StatusCode, body)
		}
	})

	t.Run("openai npm client", func(t *testing.T) {
		runOpenAIClient(t, base+"/v1")
	})
}

// llmRequest is the part of the llm mock's request these tests check.
type llmRequest struct {
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// promptDocuments returns how many of the mock retriever's documents the
// system message of the one recorded llm request carries.
func promptDocuments(t *testing.T, bodies []string) int {
	t.Helper()
	if len(bodies) != 1 {
		t.Fatalf("the llm received %d requests, want 1: %q", len(bodies), bodies)
	}
	var req llmRequest
	if err := json.Unmarshal([]byte(bodies[0]), &req); err != nil {
		t.Fatalf("llm request %s: %v", bodies[0], err)
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Content != question {
		t.Fatalf("llm messages %+v, want the system prompt and the question", req.Messages)
	}
	return strings.Count(req.Messages[0].Content, "Document ")
}

func TestChatQnARerank(t *testing.T) {
	qna := startChatQnA(t, 3)

	t.Run("TEI body", func(t *testing.T) {
		resp, body := post(t, qna.base+"/v1/chat/completions", `{"messages":"`+question+`","max_tokens":2}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		qna.llm.take()
		bodies := qna.rerank.take()
		if len(bodies) != 1 {
			t.Fatalf("the reranker received %d requests, want 1: %q", len(bodies), bodies)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
			t.Fatalf("rerank body %s: %v", bodies[0], err)
		}
		if len(got) != 2 || got["query"] == nil || got["texts"] == nil {
			t.Errorf("rerank body %s, want only TEI's query and texts", bodies[0])
		}
		var texts []string
		if err := json.Unmarshal(got["texts"], &texts); err != nil || len(texts) != 3 {
			t.Errorf("rerank texts %s, want the 3 retrieved documents: %v", got["texts"], err)
		}
		if string(got["query"]) != `"`+question+`"` {
			t.Errorf("rerank query %s, want %q", got["query"], question)
		}
	})

	cases := []struct {
		name    string
		topN    string
		wantDoc int
	}{
		{"top_n default", ``, 1},
		{"top_n 2", `,"top_n":2`, 2},
		{"top_n above documents", `,"top_n":5`, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, qna.base+"/v1/chat/completions", `{"messages":"`+question+`","max_tokens":2`+c.topN+`}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			qna.rerank.take()
			if got := promptDocuments(t, qna.llm.take()); got != c.wantDoc {
				t.Errorf("the prompt has %d documents, want %d", got, c.wantDoc)
			}
		})
	}
}

func TestChatQnANoDocuments(t *testing.T) {
	qna := startChatQnA(t, -1)
	for _, path := range []string{"/v1/chat/completions", "/v1/chatqna"} {
		t.Run(path, func(t *testing.T) {
			resp, body := post(t, qna.base+path, `{"messages":"`+question+`","max_tokens":3,"top_n":2,"stream":false}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if !strings.Contains(string(body), mockWords(3)) {
				t.Errorf("body %s lacks the llm's answer %q", body, mockWords(3))
			}
			if bodies := qna.rerank.take(); len(bodies) != 0 {
				t.Errorf("the reranker was called without documents: %q", bodies)
			}
			if got := promptDocuments(t, qna.llm.take()); got != 0 {
				t.Errorf("the prompt has %d documents, want none", got)
			}
		})
	}
}
