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
	"strings"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/jsonpath"
)

type config struct {
	Fields   map[string]string          `json:"fields"`
	Defaults map[string]json.RawMessage `json:"defaults"`
	Required []string                   `json:"required"`
}

var cfg config

// field is one output field, in output order, with its key already
// encoded as JSON.
type field struct {
	name, path string
	key        []byte
	def        json.RawMessage
	required   bool
}

var fields []field

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("json_pick: invalid config: %v", err)
		}
		if len(cfg.Fields) == 0 {
			return fmt.Errorf(`json_pick: config has no fields; set fields = { name = "path" }`)
		}
		for name, path := range cfg.Fields {
			key, _ := json.Marshal(name)
			def := cfg.Defaults[name]
			if def != nil && !json.Valid(def) {
				return fmt.Errorf("json_pick: default of %q is not valid JSON", name)
			}
			fields = append(fields, field{name: name, path: path, key: key, def: def, required: slices.Contains(cfg.Required, name)})
		}
		slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
		return nil
	})
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status { return pick(req.Body) })
	megaflow.OnResponse(pick)
}

func pick(input []byte) megaflow.Status {
	if !json.Valid(input) {
		return megaflow.Fail(400, "json_pick: input is not valid JSON")
	}
	out := append(megaflow.Output(), '{')
	for _, f := range fields {
		value, ok := jsonpath.Get(input, f.path)
		switch {
		case ok:
		case f.def != nil:
			value = f.def
		case f.required:
			return megaflow.Failf(400, "json_pick: input has no %q, which field %q requires", f.path, f.name)
		default:
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, f.key...)
		out = append(out, ':')
		out = append(out, value...)
	}
	megaflow.SetOutput(append(out, '}'))
	return megaflow.OK
}

func main() {}
