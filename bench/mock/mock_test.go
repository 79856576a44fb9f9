package mock_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/megaflow/megaflow/bench/mock"
)

func start(t *testing.T, kind string, opts mock.Options) string {
	t.Helper()
	s, err := mock.Start(kind, opts, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start mock %s: %v", kind, err)
	}
	t.Cleanup(func() { s.Close() })
	return "http://" + s.Addr()
}

// post sends body to url and returns the status code and response body.
func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...)
}

func TestEmbeddingReturnsUnitVectors(t *testing.T) {
	base := start(t, "embedding", mock.Options{Dim: 16})
	status, body := post(t, base+"/embed", `{"inputs":["a","b","a"]}`)
	if status != 200 {
		t.Fatalf("status = %d, body %s", status, body)
	}
	var vectors [][]float64
	if err := json.Unmarshal(body, &vectors); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(vectors) != 3 {
		t.Fatalf("got %d vectors, want 3", len(vectors))
	}
	for i, v := range vectors {
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		if len(v) != 16 || math.Abs(math.Sqrt(norm)-1) > 1e-3 {
			t.Errorf("vector %d: length %d, norm %g; want 16 and 1", i, len(v), math.Sqrt(norm))
		}
	}
	if vectors[0][0] != vectors[2][0] || vectors[0][0] == vectors[1][0] {
		t.Error("equal inputs must give equal vectors and different inputs different ones")
	}
}

func TestEmbeddingRejectsMissingInputs(t *testing.T) {
	base := start(t, "embedding", mock.Options{})
	if status, body := post(t, base+"/embed", `{"text":"a"}`); status != 422 {
		t.Errorf("status = %d, want 422 (body %s)", status, body)
	}
}

func TestRetrieverDocs(t *testing.T) {
	tests := []struct {
		docs, want int
	}{{0, 3}, {5, 5}, {-1, 0}}
	for _, tt := range tests {
		base := start(t, "retriever", mock.Options{Docs: tt.docs})
		status, body := post(t, base+"/v1/retrieval", `{"text":"what is megaflow","embedding":[0.1,0.2]}`)
		var got struct {
			RetrievedDocs []struct{ Text string } `json:"retrieved_docs"`
			InitialQuery  string                  `json:"initial_query"`
		}
		if err := json.Unmarshal(body, &got); err != nil || status != 200 {
			t.Fatalf("docs %d: status %d, body %s, err %v", tt.docs, status, body, err)
		}
		if len(got.RetrievedDocs) != tt.want {
			t.Errorf("docs option %d: got %d documents, want %d", tt.docs, len(got.RetrievedDocs), tt.want)
		}
		if got.InitialQuery != "what is megaflow" {
			t.Errorf("initial_query = %q, want the request's text", got.InitialQuery)
		}
	}
}

func TestRerankSortsByScore(t *testing.T) {
	base := start(t, "rerank", mock.Options{})
	status, body := post(t, base+"/rerank", `{"query":"q","texts":["a","b","c","d"],"return_text":true}`)
	var ranks []struct {
		Index int     `json:"index"`
		Score float64 `json:"score"`
		Text  string  `json:"text"`
	}
	if err := json.Unmarshal(body, &ranks); err != nil || status != 200 {
		t.Fatalf("status %d, body %s, err %v", status, body, err)
	}
	if len(ranks) != 4 {
		t.Fatalf("got %d ranks, want 4", len(ranks))
	}
	for i := 1; i < len(ranks); i++ {
		if ranks[i].Score > ranks[i-1].Score {
			t.Errorf("ranks not sorted by descending score: %+v", ranks)
		}
	}
	if ranks[0].Text == "" {
		t.Error("return_text is set but the text is missing")
	}
}

func TestLLMStreamsTokens(t *testing.T) {
	base := start(t, "llm", mock.Options{Tokens: 6, TokensPerSecond: 1000})
	status, body := post(t, base+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":4}`)
	if status != 200 {
		t.Fatalf("status = %d, body %s", status, body)
	}
	events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	if len(events) != 5 {
		t.Fatalf("got %d events, want 4 tokens (max_tokens) and [DONE]:\n%s", len(events), body)
	}
	if events[4] != "data: [DONE]" {
		t.Errorf("last event = %q, want data: [DONE]", events[4])
	}
	var chunk struct {
		Object  string `json:"object"`
		Choices []struct {
			Delta        struct{ Content string } `json:"delta"`
			FinishReason *string                  `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(events[3], "data: ")), &chunk); err != nil {
		t.Fatalf("decode chunk %q: %v", events[3], err)
	}
	if chunk.Object != "chat.completion.chunk" || chunk.Choices[0].Delta.Content == "" {
		t.Errorf("chunk = %+v, want a chat.completion.chunk with content", chunk)
	}
	if chunk.Choices[0].FinishReason == nil {
		t.Error("the last content chunk has no finish_reason")
	}
}

func TestLLMNonStreaming(t *testing.T) {
	base := start(t, "llm", mock.Options{Tokens: 3, TokensPerSecond: 1000})
	status, body := post(t, base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi there"}]}`)
	var got struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &got); err != nil || status != 200 {
		t.Fatalf("status %d, body %s, err %v", status, body, err)
	}
	if got.Usage.CompletionTokens != 3 || got.Usage.PromptTokens != 2 {
		t.Errorf("usage = %+v, want 3 completion and 2 prompt tokens", got.Usage)
	}
	if len(strings.Fields(got.Choices[0].Message.Content)) != 3 {
		t.Errorf("content %q, want 3 words", got.Choices[0].Message.Content)
	}
}

func TestDelayLatencyAndErrors(t *testing.T) {
	base := start(t, "delay", mock.Options{Latency: 50 * time.Millisecond})
	began := time.Now()
	status, body := post(t, base+"/any/path", `{"a":1}`)
	if elapsed := time.Since(began); elapsed < 50*time.Millisecond {
		t.Errorf("response after %s, want >= 50ms", elapsed)
	}
	if status != 200 || string(body) != `{"a":1}` {
		t.Errorf("status %d, body %s; want 200 and the request body", status, body)
	}

	failing := start(t, "delay", mock.Options{ErrorRate: 1})
	if status, _ := post(t, failing+"/", `{}`); status != 500 {
		t.Errorf("status with error rate 1 = %d, want 500", status)
	}
}

func TestStallHappensOnce(t *testing.T) {
	base := start(t, "delay", mock.Options{Stall: 300 * time.Millisecond, StallAfter: 50 * time.Millisecond})
	timed := func() time.Duration {
		began := time.Now()
		post(t, base+"/", `{}`)
		return time.Since(began)
	}
	if d := timed(); d > 200*time.Millisecond {
		t.Errorf("first request took %s, want no stall before stall-after", d)
	}
	time.Sleep(60 * time.Millisecond)
	if d := timed(); d < 250*time.Millisecond {
		t.Errorf("request after stall-after took %s, want about 300ms", d)
	}
	if d := timed(); d > 200*time.Millisecond {
		t.Errorf("request after the stall took %s, want no second stall", d)
	}
}

func TestHealthAndUnknownKind(t *testing.T) {
	for _, kind := range mock.Kinds() {
		base := start(t, kind, mock.Options{})
		status, body, err := fasthttp.Get(nil, base+"/health")
		if err != nil || status != 200 {
			t.Errorf("%s: GET /health = %d %s, %v; want 200", kind, status, body, err)
		}
	}
	if _, err := mock.Handler("tts", mock.Options{}); err == nil || !strings.Contains(err.Error(), "echo") {
		t.Errorf("Handler(tts) error = %v, want one listing the kinds", err)
	}
}
