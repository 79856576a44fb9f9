// Command to_tei is a megaflow plugin that turns an OpenAI chat completion
// request into the input of a Hugging Face Text Embeddings Inference (TEI)
// /embed call, {"inputs": "<question>"}: a request hook for ChatQnA's
// embedding node.
//
// Config:
//
//	field    = "messages"  # the field holding the chat messages
//	truncate = true        # ask TEI to truncate inputs longer than its limit
//
// The question is the last user message; requests with a plain "text",
// "query", "input" or "prompt" field work too. A request with no question
// fails with 400.
package main

import (
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/chat"
)

var cfg struct {
	Field    string `json:"field"`
	Truncate *bool  `json:"truncate"`
}

type teiInput struct {
	Inputs   string `json:"inputs"`
	Truncate *bool  `json:"truncate,omitempty"`
}

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if len(raw) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("to_tei: invalid config: %v", err)
		}
		return nil
	})
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status { return shape(req.Body) })
	megaflow.OnResponse(shape)
}

func shape(input []byte) megaflow.Status {
	query, err := chat.Query(input, cfg.Field)
	if err != nil {
		return megaflow.Failf(400, "to_tei: %v", err)
	}
	body, err := json.Marshal(teiInput{Inputs: query, Truncate: cfg.Truncate})
	if err != nil {
		return megaflow.Failf(500, "to_tei: encode output: %v", err)
	}
	megaflow.Write(body)
	return megaflow.OK
}

func main() {}
