// Command json_pick is a megaflow plugin that selects fields of a JSON
// object and renames them: a request or response hook.
//
// Config:
//
//	fields   = { query = "messages.-1.content", k = "top_k" }  # output name = input path
//	defaults = { k = 4 }         # values for fields missing from the input
//	required = ["query"]         # a missing required field fails with 400
//
// Paths are dotted object keys and array indexes (negative ones count from
// the end). The output is a JSON object with keys in sorted order; fields
// missing from the input, without a default and not required, are left
// out.
package main

import (
	"encoding/json"
	"fmt"
	"slices"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/jsonpath"
)

type config struct {
	Fields   map[string]string          `json:"fields"`
	Defaults map[string]json.RawMessage `json:"defaults"`
	Required []string                   `json:"required"`
}

var cfg config

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("json_pick: invalid config: %v", err)
		}
		if len(cfg.Fields) == 0 {
			return fmt.Errorf(`json_pick: config has no fields; set fields = { name = "path" }`)
		}
		return nil
	})
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status { return pick(req.Body) })
	megaflow.OnResponse(pick)
}

func pick(input []byte) megaflow.Status {
	if !json.Valid(input) {
		return megaflow.Fail(400, "json_pick: input is not valid JSON")
	}
	out := make(map[string]json.RawMessage, len(cfg.Fields))
	for name, path := range cfg.Fields {
		if value, ok := jsonpath.Get(input, path); ok {
			out[name] = value
		} else if def, ok := cfg.Defaults[name]; ok {
			out[name] = def
		} else if slices.Contains(cfg.Required, name) {
			return megaflow.Failf(400, "json_pick: input has no %q, which field %q requires", path, name)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return megaflow.Failf(500, "json_pick: encode output: %v", err)
	}
	megaflow.Write(body)
	return megaflow.OK
}

func main() {}
