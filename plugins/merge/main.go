// Command merge is a megaflow aggregate plugin that combines the outputs
// of several predecessors into one JSON value.
//
// Config:
//
//	mode = "object"   # {"<name>": <output>, ...}; or "list": [<output>, ...] in input order
//
// An output that is valid JSON is embedded as is; any other output is
// embedded as a JSON string.
package main

import (
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var mode = "object"

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if len(raw) == 0 {
			return nil
		}
		var cfg struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("merge: invalid config: %v", err)
		}
		switch cfg.Mode {
		case "":
		case "object", "list":
			mode = cfg.Mode
		default:
			return fmt.Errorf(`merge: mode %q is not "object" or "list"`, cfg.Mode)
		}
		return nil
	})
	megaflow.OnAggregate(merge)
}

func merge(inputs []megaflow.Input) megaflow.Status {
	out := megaflow.Output()
	if mode == "list" {
		out = append(out, '[')
	} else {
		out = append(out, '{')
	}
	for i, in := range inputs {
		if i > 0 {
			out = append(out, ',')
		}
		if mode == "object" {
			name, _ := json.Marshal(string(in.Name))
			out = append(out, name...)
			out = append(out, ':')
		}
		out = appendValue(out, in.Data)
	}
	if mode == "list" {
		out = append(out, ']')
	} else {
		out = append(out, '}')
	}
	megaflow.SetOutput(out)
	return megaflow.OK
}

func appendValue(out, data []byte) []byte {
	if len(data) > 0 && json.Valid(data) {
		return append(out, data...)
	}
	s, _ := json.Marshal(string(data))
	return append(out, s...)
}

func main() {}
