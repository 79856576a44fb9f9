package runtime

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func decodeObject(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %q is not a JSON object: %v", what, b, err)
	}
	return m
}

func TestOpenAIChatRequestShapes(t *testing.T) {
	cases := []struct {
		name, body, prompt string
		images             int
	}{
		{"string messages", `{"messages":"What is OPEA?"}`, "What is OPEA?", 0},
		{"one user message", `{"messages":[{"role":"user","content":"What is OPEA?"}]}`, "What is OPEA?", 0},
		{"text and image parts", `{"messages":[{"role":"user","content":[{"type":"text","text":"What is"},{"type":"image_url","image_url":{"url":"http://127.0.0.1/cat.png"}},{"type":"text","text":"this?"}]}]}`, "What is\nthis?", 1},
		{"conversation", `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"Why?"}]}`, "SYSTEM: Be brief.\nUSER: Hi\nASSISTANT: Hello\nUSER: Why?", 0},
	}
	api := &OpenAIChat{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			input, _, err := api.Request(&APIState{}, []byte(c.body), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := decodeObject(t, "flow input", input)
			if in["text"] != c.prompt {
				t.Errorf("text = %q, want %q", in["text"], c.prompt)
			}
			images, _ := in["images"].([]any)
			if len(images) != c.images {
				t.Errorf("images = %v, want %d", in["images"], c.images)
			}
		})
	}
}

func TestOpenAIChatParamDefaults(t *testing.T) {
	body := `{"messages":"q","model":"m1","temperature":0.5,"k":8,"top_n":3,"top_p":null,"chat_template":"{question}"}`
	for _, format := range []StreamFormat{StreamOpenAI, StreamOPEA} {
		t.Run(format.String(), func(t *testing.T) {
			_, params, err := (&OpenAIChat{Stream: format}).Request(&APIState{}, []byte(body), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := decodeObject(t, "params", params)
			llm, _ := p["llm"].(map[string]any)
			want := map[string]any{
				"stream": format == StreamOPEA, "model": "m1", "temperature": 0.5, "max_tokens": 1024.0,
				"top_k": 10.0, "top_p": 0.95, "frequency_penalty": 0.0, "presence_penalty": 0.0,
				"repetition_penalty": 1.03, "chat_template": "{question}",
			}
			for k, v := range want {
				if llm[k] != v {
					t.Errorf("llm %s = %v, want %v", k, llm[k], v)
				}
			}
			retriever, _ := p["retriever"].(map[string]any)
			for k, v := range map[string]any{"k": 8.0, "search_type": "similarity", "fetch_k": 20.0, "lambda_mult": 0.5, "score_threshold": 0.2} {
				if retriever[k] != v {
					t.Errorf("retriever %s = %v, want %v", k, retriever[k], v)
				}
			}
			if _, ok := retriever["distance_threshold"]; ok {
				t.Errorf("distance_threshold is set although the request has none: %v", retriever)
			}
			rerank, _ := p["rerank"].(map[string]any)
			if rerank["top_n"] != 3.0 {
				t.Errorf("rerank top_n = %v, want 3", rerank["top_n"])
			}
		})
	}
}

func TestOpenAIChatRejectsInvalidRequests(t *testing.T) {
	cases := map[string]string{
		"not json":            `messages`,
		"no messages":         `{"model":"m"}`,
		"empty list":          `{"messages":[]}`,
		"messages a number":   `{"messages":3}`,
		"no user message":     `{"messages":[{"role":"system","content":"x"}]}`,
		"unknown role":        `{"messages":[{"role":"robot","content":"x"}]}`,
		"max_tokens negative": `{"messages":"q","max_tokens":-1}`,
		"temperature above 2": `{"messages":"q","temperature":2.5}`,
		"top_p above 1":       `{"messages":"q","top_p":1.5}`,
		"top_k zero point 5":  `{"messages":"q","top_k":0.5}`,
		"n zero":              `{"messages":"q","n":0}`,
		"stop a number":       `{"messages":"q","stop":7}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := (&OpenAIChat{}).Request(&APIState{}, []byte(body), nil, nil)
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error = %v, want a 400 *Error", err)
			}
		})
	}
}

func TestPythonBytesRoundTrip(t *testing.T) {
	cases := map[string]string{
		"plain":          "hello ",
		"single quote":   "it's",
		"both quotes":    `it's "so"`,
		"newline tab":    "a\nb\tc\r",
		"backslash":      `a\b`,
		"non-ASCII UTF8": "héllo 世界",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			lit := appendPythonBytes(nil, []byte(text))
			if !isPythonBytes(lit) {
				t.Fatalf("%s is not a bytes literal", lit)
			}
			if got := string(decodePythonBytes(lit)); got != text {
				t.Errorf("decode(%s) = %q, want %q", lit, got, text)
			}
		})
	}
	// repr(b"it's") in Python is b"it's", and repr("é".encode()) is b'\xc3\xa9'.
	if got := string(appendPythonBytes(nil, []byte("it's"))); got != `b"it's"` {
		t.Errorf("repr = %s", got)
	}
	if got := string(appendPythonBytes(nil, []byte("é"))); got != `b'\xc3\xa9'` {
		t.Errorf("repr = %s", got)
	}
}

// openAISnapshot serves one streaming llm node at url behind an OpenAIChat
// route at /v1/chat/completions.
func openAISnapshot(t *testing.T, url string, api *OpenAIChat) *Snapshot {
	t.Helper()
	svc, up := remote(t, "llm", url, func(s *MicroService) { s.Stream = true; s.Type = TypeLLM })
	p, err := CompilePlan(FlowSpec{Name: "chat", Nodes: []NodeSpec{{Service: svc, Exec: up, Params: ParamsFor(TypeLLM)}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/v1/chat/completions", Plan: p, API: api}}, []*MicroService{svc})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// collectEvents posts body and returns the events of the streamed response.
func collectEvents(t *testing.T, url, body string) []string {
	t.Helper()
	resp, err := httpClient.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Content-Type = %q, body %s", ct, b)
	}
	events := make(chan [2]any, 64)
	go readEvents(resp.Body, events)
	var out []string
	for ev := range events {
		out = append(out, ev[0].(string))
	}
	return out
}

func TestOpenAIChatStreamsChunks(t *testing.T) {
	llm := &llmStream{count: 5, gap: time.Millisecond, firstSent: make(chan time.Time, 1), gone: make(chan time.Time, 1)}
	base := startMegaflow(t, openAISnapshot(t, startServer(t, llm.handle), &OpenAIChat{Stream: StreamOpenAI, Model: "chatqna"}))
	firstBefore := histogramCount(t, "megaservice_first_token_latency")

	events := collectEvents(t, base+"/v1/chat/completions", `{"messages":"hi","stream":true}`)
	var text strings.Builder
	done := 0
	for _, ev := range events {
		data := strings.TrimSpace(strings.TrimPrefix(ev, "data:"))
		if data == "[DONE]" {
			done++
			continue
		}
		var chunk struct {
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("event %q is not JSON: %v", ev, err)
		}
		if chunk.Choices[0].Delta.Content == "" {
			continue // the role-only first delta
		}
		if chunk.Object != "chat.completion.chunk" || chunk.Model != "chatqna" {
			t.Errorf("chunk object %q model %q, want chat.completion.chunk and chatqna", chunk.Object, chunk.Model)
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
	}
	if got := text.String(); got != "tok0 tok1 tok2 tok3 tok4 " {
		t.Errorf("streamed text = %q", got)
	}
	if done != 1 {
		t.Errorf("[DONE] sent %d times, want once", done)
	}
	waitFor(t, func() bool { return histogramCount(t, "megaservice_first_token_latency") == firstBefore+1 })
}

func TestOpenAIChatStreamsOPEAEvents(t *testing.T) {
	llm := &llmStream{count: 3, gap: time.Millisecond, firstSent: make(chan time.Time, 1), gone: make(chan time.Time, 1)}
	base := startMegaflow(t, openAISnapshot(t, startServer(t, llm.handle), &OpenAIChat{Stream: StreamOPEA}))

	// No "stream" key: OPEA's gateway streams by default.
	events := collectEvents(t, base+"/v1/chat/completions", `{"messages":"hi"}`)
	want := []string{"data: b'tok0 '\n\n", "data: b'tok1 '\n\n", "data: b'tok2 '\n\n", "data: [DONE]\n\n"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("events:\n got %q\nwant %q", events, want)
	}
}

// recordingEcho responds with the request body and sends each body it got
// to seen.
func recordingEcho(seen chan<- string, contentType string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		seen <- string(ctx.PostBody())
		ctx.SetContentType(contentType)
		ctx.SetBody(ctx.PostBody())
	}
}

func TestOpenAIChatAnswersCompletion(t *testing.T) {
	cases := []struct {
		name, reply, wantContent, wantModel string
	}{
		{"OPEA text output", `{"text":"an answer"}`, "an answer", "chatqna"},
		{"chat.completion passes", `{"id":"x","object":"chat.completion","model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"from upstream"},"finish_reason":"stop"}]}`, "from upstream", "up"},
		{"plain text", `just text`, "just text", "chatqna"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := startServer(t, func(ctx *fasthttp.RequestCtx) {
				ctx.SetContentType("application/json")
				ctx.SetBodyString(c.reply)
			})
			base := startMegaflow(t, openAISnapshot(t, url, &OpenAIChat{Model: "chatqna"}))
			resp, err := httpClient.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":"q"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				Object  string `json:"object"`
				Model   string `json:"model"`
				Choices []struct {
					Message struct {
						Content string `json:"content"`
					} `json:"message"`
				} `json:"choices"`
			}
			if err := json.Unmarshal(body, &got); err != nil || len(got.Choices) != 1 {
				t.Fatalf("body %s: %v", body, err)
			}
			if got.Object != "chat.completion" {
				t.Errorf("object = %q", got.Object)
			}
			if got.Model != c.wantModel {
				t.Errorf("model = %q, want %q", got.Model, c.wantModel)
			}
			if got.Choices[0].Message.Content != c.wantContent {
				t.Errorf("content = %q, want %q", got.Choices[0].Message.Content, c.wantContent)
			}
		})
	}
}

func TestOpenAIChatRejectsWith400(t *testing.T) {
	base := startMegaflow(t, openAISnapshot(t, startServer(t, func(ctx *fasthttp.RequestCtx) {}), &OpenAIChat{}))
	resp, err := httpClient.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":"q","temperature":9}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if e := decodeObject(t, "error body", body); !strings.Contains(e["error"].(string), "temperature") {
		t.Errorf("error %q does not name temperature", e["error"])
	}
}

func TestEventTextShapes(t *testing.T) {
	cases := []struct {
		name, data, text string
		ok               bool
	}{
		{"openai chunk", `{"choices":[{"index":0,"delta":{"content":"tok "}}]}`, "tok ", true},
		{"escaped content", `{"choices":[{"delta":{"content":"say \"hi\"\n\u00e9"}}]}`, "say \"hi\"\né", true},
		{"null content", `{"choices":[{"delta":{"content":null}}]}`, "", false},
		{"role only", `{"choices":[{"delta":{"role":"assistant"}}]}`, "", false},
		{"completions text", `{"choices":[{"text":"tok"}]}`, "tok", true},
		{"tgi token", `{"token":{"text":"tok","special":false}}`, "tok", true},
		{"tgi special token", `{"token":{"text":"</s>","special":true}}`, "", false},
		{"opea bytes", `b'it\'s \xc3\xa9'`, "it's é", true},
		{"plain text", `hello`, "hello", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, ok := eventText([]byte(c.data))
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if string(text) != c.text {
				t.Errorf("text = %q, want %q", text, c.text)
			}
		})
	}
}

func TestStreamRequestedFlowNotStreaming(t *testing.T) {
	cases := []struct {
		format   StreamFormat
		contains []string
	}{
		{StreamOpenAI, []string{`"object":"chat.completion.chunk"`, `"content":"I cannot answer that."`, "data: [DONE]\n\n"}},
		{StreamOPEA, []string{"data: b'I cannot answer that.'\n\n", "data: [DONE]\n\n"}},
	}
	for _, tc := range cases {
		api := &OpenAIChat{Stream: tc.format}
		var state APIState
		if _, _, err := api.Request(&state, []byte(`{"messages":"hi","stream":true}`), nil, nil); err != nil {
			t.Fatal(err)
		}
		body, typ, err := api.Response(&state, []byte(`{"text":"I cannot answer that."}`), []byte("application/json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if typ != "text/event-stream" {
			t.Errorf("format %v: content type %q, want text/event-stream", tc.format, typ)
		}
		for _, want := range tc.contains {
			if !strings.Contains(string(body), want) {
				t.Errorf("format %v: body %q lacks %q", tc.format, body, want)
			}
		}
	}
}

func TestChunksOfOneResponseShareAnID(t *testing.T) {
	api := &OpenAIChat{Stream: StreamOpenAI}
	var state APIState
	api.Request(&state, []byte(`{"messages":"hi","stream":true}`), nil, nil)
	first, _ := api.StreamEvent(&state, []byte("data: b'one'\n\n"), nil)
	second, _ := api.StreamEvent(&state, []byte("data: b'two'\n\n"), nil)
	id := func(ev []byte) string {
		s := string(ev)
		i := strings.Index(s, `"id":"`)
		return s[i+6 : i+6+strings.Index(s[i+6:], `"`)]
	}
	if id(first) == "" || id(first) != id(second) {
		t.Errorf("chunk ids differ: %q and %q", id(first), id(second))
	}
}
