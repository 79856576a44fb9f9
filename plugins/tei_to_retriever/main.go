// Command tei_to_retriever is a megaflow plugin that turns the output of a
// Text Embeddings Inference (TEI) /embed call into the input of an OPEA
// retriever, {"text": ..., "embedding": [...]} plus search parameters.
//
// As a response hook on the embedding node it receives only TEI's output, so
// it sends the embedding without "text". As an aggregate hook on the
// retriever node, given TEI's output and the client's chat request as two
// inputs (told apart by shape: an array is the embedding, an object the
// request), it sends both.
//
// Config:
//
//	field  = "messages"                          # where the chat request keeps its messages
//	params = { k = 4, search_type = "similarity" }  # added to the output
package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/chat"
)

var cfg struct {
	Field  string                     `json:"field"`
	Params map[string]json.RawMessage `json:"params"`
}

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if len(raw) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("tei_to_retriever: invalid config: %v", err)
		}
		return nil
	})
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		embedding, err := firstEmbedding(output)
		if err != nil {
			return megaflow.Failf(502, "tei_to_retriever: %v", err)
		}
		return write("", false, embedding)
	})
	megaflow.OnAggregate(func(inputs []megaflow.Input) megaflow.Status {
		var embedding json.RawMessage
		var query string
		haveQuery := false
		for _, in := range inputs {
			data := bytes.TrimSpace(in.Data)
			switch {
			case len(data) > 0 && data[0] == '[':
				e, err := firstEmbedding(data)
				if err != nil {
					return megaflow.Failf(502, "tei_to_retriever: input %q: %v", in.Name, err)
				}
				embedding = e
			case len(data) > 0 && data[0] == '{':
				q, err := chat.Query(data, cfg.Field)
				if err != nil {
					return megaflow.Failf(400, "tei_to_retriever: input %q: %v", in.Name, err)
				}
				query, haveQuery = q, true
			}
		}
		if embedding == nil {
			return megaflow.Fail(502, "tei_to_retriever: no input is a TEI embedding (a JSON array)")
		}
		return write(query, haveQuery, embedding)
	})
}

// firstEmbedding returns the first vector of TEI's output, which is a list
// of vectors (one per input) or, from some servers, a single vector.
func firstEmbedding(output []byte) (json.RawMessage, error) {
	var batch []json.RawMessage
	if err := json.Unmarshal(output, &batch); err != nil {
		return nil, fmt.Errorf("embedding output is not a JSON array: %v", err)
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("embedding output is an empty array")
	}
	first := bytes.TrimSpace(batch[0])
	if len(first) > 0 && first[0] == '[' {
		return first, nil
	}
	return output, nil
}

func write(query string, haveQuery bool, embedding json.RawMessage) megaflow.Status {
	out := make(map[string]json.RawMessage, len(cfg.Params)+2)
	for k, v := range cfg.Params {
		out[k] = v
	}
	out["embedding"] = embedding
	if haveQuery {
		text, _ := json.Marshal(query)
		out["text"] = text
	}
	body, err := json.Marshal(out)
	if err != nil {
		return megaflow.Failf(500, "tei_to_retriever: encode output: %v", err)
	}
	megaflow.Write(body)
	return megaflow.OK
}

func main() {}
