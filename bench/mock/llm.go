package mock

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// chatRequest contains the fields of an OpenAI chat completions request
// that the mock reads.
type chatRequest struct {
	Model               string       `json:"model"`
	Messages            chatMessages `json:"messages"`
	Stream              bool         `json:"stream"`
	MaxTokens           int          `json:"max_tokens"`
	MaxCompletionTokens int          `json:"max_completion_tokens"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatMessages accepts "messages" in the forms OPEA's gateways send: a
// plain string (one user message) or a list of messages whose content is
// a string or a list of parts, of which the text parts are read.
type chatMessages []chatMessage

func (m *chatMessages) UnmarshalJSON(b []byte) error {
	var text string
	if json.Unmarshal(b, &text) == nil {
		*m = chatMessages{{Role: "user", Content: text}}
		return nil
	}
	var raw []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf(`"messages" must be a string or a list of {"role", "content"} messages`)
	}
	*m = (*m)[:0]
	for _, r := range raw {
		msg := chatMessage{Role: r.Role}
		if json.Unmarshal(r.Content, &msg.Content) != nil {
			var parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			json.Unmarshal(r.Content, &parts)
			for _, p := range parts {
				if p.Type == "text" {
					msg.Content += p.Text
				}
			}
		}
		*m = append(*m, msg)
	}
	return nil
}

// llm serves POST /v1/chat/completions in the OpenAI format, streamed as
// server-sent events when the request sets "stream": true.
type llm struct {
	opts Options
	ids  atomic.Uint64
}

// vocabulary contains the words the mock generates, one per token.
var vocabulary = strings.Fields(`the flow sends each request through a graph of services
and merges their answers before the model writes a reply with context from retrieved documents`)

func (m *llm) handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || string(ctx.Path()) != "/v1/chat/completions" {
		notFound(ctx, "POST /v1/chat/completions")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		writeJSON(ctx, fasthttp.StatusBadRequest, openAIError("invalid request body: "+err.Error()))
		return
	}
	if len(req.Messages) == 0 {
		writeJSON(ctx, fasthttp.StatusBadRequest, openAIError(`invalid request body: "messages" must contain at least one message`))
		return
	}

	tokens := m.opts.Tokens
	if limit := max(req.MaxTokens, req.MaxCompletionTokens); limit > 0 {
		tokens = min(tokens, limit)
	}
	if req.Model == "" {
		req.Model = "megaflow-mock-llm"
	}
	c := completion{
		id:      "chatcmpl-mock-" + strconv.FormatUint(m.ids.Add(1), 10),
		created: time.Now().Unix(),
		model:   req.Model,
		tokens:  tokens,
		prompt:  promptTokens(req.Messages),
	}

	if req.Stream {
		m.stream(ctx, c)
		return
	}
	// A non-streaming reply takes as long as the whole stream would.
	time.Sleep(m.tokenOffset(tokens - 1))
	writeJSON(ctx, fasthttp.StatusOK, c.message())
}

// tokenOffset returns when token i (from 0) is due after the request
// arrived: the first-token delay, then one token per 1/TokensPerSecond.
func (m *llm) tokenOffset(i int) time.Duration {
	if i < 0 {
		return 0
	}
	return m.opts.FirstTokenDelay + time.Duration(float64(i)*float64(time.Second)/m.opts.TokensPerSecond)
}

// stream sends one chunk per token on a fixed schedule measured from the
// request's arrival, so that slow writes do not accumulate drift, then
// "data: [DONE]". The last content chunk carries finish_reason, so every
// data event except [DONE] is exactly one token.
func (m *llm) stream(ctx *fasthttp.RequestCtx, c completion) {
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	start := time.Now()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		buf := make([]byte, 0, 256)
		for i := range c.tokens {
			if d := time.Until(start.Add(m.tokenOffset(i))); d > 0 {
				time.Sleep(d)
			}
			buf = c.appendChunk(buf[:0], i)
			if _, err := w.Write(buf); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return // the client went away
			}
		}
		w.WriteString("data: [DONE]\n\n")
		w.Flush()
	})
}

// completion is one reply being generated.
type completion struct {
	id      string
	created int64
	model   string
	tokens  int
	prompt  int
}

func token(i int) string { return vocabulary[i%len(vocabulary)] + " " }

// appendChunk appends the SSE event of token i, a chat.completion.chunk.
func (c *completion) appendChunk(dst []byte, i int) []byte {
	dst = append(dst, `data: {"id":"`...)
	dst = append(dst, c.id...)
	dst = append(dst, `","object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, c.created, 10)
	dst = append(dst, `,"model":`...)
	dst = strconv.AppendQuote(dst, c.model)
	dst = append(dst, `,"choices":[{"index":0,"delta":{`...)
	if i == 0 {
		dst = append(dst, `"role":"assistant",`...)
	}
	dst = append(dst, `"content":"`...)
	dst = append(dst, token(i)...)
	dst = append(dst, `"},"finish_reason":`...)
	if i == c.tokens-1 {
		dst = append(dst, `"length"`...)
	} else {
		dst = append(dst, `null`...)
	}
	return append(dst, "}]}\n\n"...)
}

// message returns the non-streaming chat.completion object.
func (c *completion) message() map[string]any {
	var text strings.Builder
	for i := range c.tokens {
		text.WriteString(token(i))
	}
	return map[string]any{
		"id":      c.id,
		"object":  "chat.completion",
		"created": c.created,
		"model":   c.model,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]string{"role": "assistant", "content": text.String()},
			"finish_reason": "length",
		}},
		"usage": map[string]int{
			"prompt_tokens":     c.prompt,
			"completion_tokens": c.tokens,
			"total_tokens":      c.prompt + c.tokens,
		},
	}
}

// promptTokens estimates the prompt's token count as its word count.
func promptTokens(messages []chatMessage) int {
	n := 0
	for _, msg := range messages {
		n += len(strings.Fields(msg.Content))
	}
	return n
}

func openAIError(msg string) map[string]any {
	return map[string]any{"error": map[string]string{"message": msg, "type": "invalid_request_error"}}
}
