package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// wordStream is a mock LLM streaming words as OpenAI chunks.
func wordStream(words []string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/event-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for _, word := range words {
				b, _ := json.Marshal(word)
				fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":%s}}]}\n\n", b)
				w.Flush()
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprint(w, "data: [DONE]\n\n")
			w.Flush()
		})
	}
}

func TestStreamSentencesThroughGuardrail(t *testing.T) {
	var mu sync.Mutex
	var sentences []string
	guard := func(ctx *fasthttp.RequestCtx) {
		var in struct{ Text string }
		json.Unmarshal(ctx.PostBody(), &in)
		mu.Lock()
		sentences = append(sentences, in.Text)
		mu.Unlock()
		out, _ := json.Marshal(map[string]string{"text": strings.ReplaceAll(in.Text, "secret", "[redacted]")})
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	}
	llmSvc, llmUp := remote(t, "llm", startServer(t, wordStream([]string{"The ", "code ", "is ", "secret. ", "Really", "? ", "Yes", "!", " Bye"})),
		func(s *MicroService) { s.Stream = true; s.Type = TypeLLM })
	guardSvc, guardUp := remote(t, "guardrail", startServer(t, guard), func(s *MicroService) { s.Type = TypeGuardrail })
	p, err := CompilePlan(FlowSpec{Name: "guarded", Nodes: []NodeSpec{
		{Service: llmSvc, Exec: llmUp},
		{Service: guardSvc, Exec: guardUp, After: []string{"llm"}, StreamSentences: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/chat", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	firstBefore := histogramCount(t, "megaservice_first_token_latency")

	resp, err := httpClient.Post(base+"/chat", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	var text strings.Builder
	events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	for _, ev := range events[:len(events)-1] {
		text.Write(decodePythonBytes([]byte(strings.TrimPrefix(ev, "data: "))))
	}
	if got, want := text.String(), "The code is [redacted]. Really? Yes! Bye"; got != want {
		t.Errorf("client text = %q, want %q", got, want)
	}
	if last := events[len(events)-1]; last != "data: [DONE]" {
		t.Errorf("last event = %q", last)
	}
	if len(sentences) != 4 || sentences[0] != "The code is secret. " || sentences[3] != " Bye" {
		t.Errorf("guardrail got sentences %q", sentences)
	}
	waitFor(t, func() bool { return histogramCount(t, "megaservice_first_token_latency") == firstBefore+1 })
}

func TestStreamSentencesPlanErrors(t *testing.T) {
	nop := ExecutorFunc(func(_ context.Context, c *Call) error { return nil })
	plain := &MicroService{Name: "plain", Handler: nop}
	streaming := &MicroService{Name: "llm", Handler: nop, Stream: true}
	_, err := CompilePlan(FlowSpec{Name: "f", Nodes: []NodeSpec{
		{Service: plain},
		{Service: &MicroService{Name: "guard", Handler: nop}, After: []string{"plain"}, StreamSentences: true},
	}})
	if err == nil || !strings.Contains(err.Error(), "whose service has stream = true") {
		t.Errorf("non-streaming predecessor: %v", err)
	}
	_, err = CompilePlan(FlowSpec{Name: "f", Nodes: []NodeSpec{
		{Service: streaming},
		{Service: &MicroService{Name: "guard", Handler: nop}, After: []string{"llm"}, StreamSentences: true},
		{Service: &MicroService{Name: "after", Handler: nop}, After: []string{"guard"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "not the output node") {
		t.Errorf("non-output node: %v", err)
	}
}
