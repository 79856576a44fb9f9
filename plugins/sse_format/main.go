// Command sse_format is a megaflow event plugin that converts server-sent
// events between OpenAI's chat completion chunks and OPEA's text form.
//
// OpenAI streams `data: {"choices":[{"delta":{"content":"Hi"}}],...}`;
// OPEA's megaservice streams each token as `data: b'Hi'`, the Python
// bytes literal of its UTF-8 text. Both end with `data: [DONE]`.
//
// Config:
//
//	to    = "opea"   # or "openai"
//	model = "..."    # "model" of the chunks produced with to = "openai"
//
// Towards OPEA, a chunk without content (a role or finish chunk) is
// dropped. Lines other than data lines pass through, and an event keeps
// the line endings it had.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var cfg = struct {
	To    string `json:"to"`
	Model string `json:"model"`
}{To: "opea"}

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &cfg); err != nil {
				return fmt.Errorf("sse_format: invalid config: %v", err)
			}
		}
		if cfg.To != "opea" && cfg.To != "openai" {
			return fmt.Errorf(`sse_format: to is %q; set it to "opea" or "openai"`, cfg.To)
		}
		return nil
	})
	megaflow.OnEvent(convert)
}

func convert(event []byte) megaflow.Status {
	body := bytes.TrimRight(event, "\r\n")
	ending := event[len(body):]
	out := megaflow.Output()
	changed, keep := false, false
	for i, line := range bytes.Split(body, []byte("\n")) {
		if i > 0 {
			out = append(out, '\n')
		}
		payload, ok := dataPayload(line)
		if !ok {
			out = append(out, line...)
			continue
		}
		converted, drop, err := convertPayload(payload)
		if err != nil {
			return megaflow.Failf(502, "sse_format: %v", err)
		}
		if drop {
			changed = true
			continue
		}
		if converted == nil {
			out = append(out, line...)
			keep = true
			continue
		}
		out = append(out, "data: "...)
		out = append(out, converted...)
		changed, keep = true, true
	}
	if !changed {
		megaflow.SetOutput(out[:0])
		return megaflow.Unchanged
	}
	if !keep {
		// Every data line was dropped: drop the whole event.
		megaflow.SetOutput(out[:0])
		return megaflow.OK
	}
	megaflow.SetOutput(append(out, ending...))
	return megaflow.OK
}

// dataPayload returns the value of an SSE "data:" line, without the one
// space that may follow the colon.
func dataPayload(line []byte) ([]byte, bool) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	rest, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return nil, false
	}
	return bytes.TrimPrefix(rest, []byte(" ")), true
}

// convertPayload returns the converted payload, or nil to keep it as it
// is, or drop true to leave the line out.
func convertPayload(payload []byte) (converted []byte, drop bool, err error) {
	if string(bytes.TrimSpace(payload)) == "[DONE]" {
		return nil, false, nil
	}
	if cfg.To == "opea" {
		return toOPEA(payload)
	}
	return toOpenAI(payload)
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		Text *string `json:"text"`
	} `json:"choices"`
}

func toOPEA(payload []byte) ([]byte, bool, error) {
	if bytes.HasPrefix(payload, []byte("b'")) || bytes.HasPrefix(payload, []byte(`b"`)) {
		return nil, false, nil // already in OPEA form
	}
	var c chunk
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false, fmt.Errorf("event data is not an OpenAI chunk: %v", err)
	}
	var text []byte
	found := false
	for _, choice := range c.Choices {
		switch {
		case choice.Delta.Content != nil:
			text, found = append(text, *choice.Delta.Content...), true
		case choice.Text != nil:
			text, found = append(text, *choice.Text...), true
		}
	}
	if !found || len(text) == 0 {
		return nil, true, nil
	}
	return appendPythonBytes(nil, text), false, nil
}

type openAIChunk struct {
	Object  string         `json:"object"`
	Model   string         `json:"model,omitempty"`
	Choices []openAIChoice `json:"choices"`
}

type openAIChoice struct {
	Index        int               `json:"index"`
	Delta        map[string]string `json:"delta"`
	FinishReason *string           `json:"finish_reason"`
}

func toOpenAI(payload []byte) ([]byte, bool, error) {
	text, ok := parsePythonBytes(payload)
	if !ok {
		return nil, false, nil // not an OPEA token line
	}
	out, err := json.Marshal(openAIChunk{
		Object:  "chat.completion.chunk",
		Model:   cfg.Model,
		Choices: []openAIChoice{{Delta: map[string]string{"content": string(text)}}},
	})
	return out, false, err
}

func main() {}
