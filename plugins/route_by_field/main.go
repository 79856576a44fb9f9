// Command route_by_field is a megaflow route plugin that chooses a node's
// successors from one field of its JSON output.
//
// Config:
//
//	field    = "retrieved_docs"           # path, as in json_pick
//	if_empty = ["llm"]                    # run these when the field is missing, null, false, 0, "", [] or {}
//	cases    = { chitchat = ["llm"] }     # run these when the field is the string (or JSON text) given
//	default  = ["rerank"]                 # run these otherwise
//
// A rule that is not configured runs every successor. Output that is not
// JSON counts as a missing field.
package main

import (
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/jsonpath"
)

var cfg struct {
	Field   string              `json:"field"`
	IfEmpty []string            `json:"if_empty"`
	Cases   map[string][]string `json:"cases"`
	Default []string            `json:"default"`
}

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("route_by_field: invalid config: %v", err)
		}
		if cfg.Field == "" {
			return fmt.Errorf(`route_by_field: config has no field; set field = "path"`)
		}
		return nil
	})
	megaflow.OnRoute(route)
}

func route(output []byte, successors [][]byte) megaflow.Status {
	value, found := jsonpath.Get(output, cfg.Field)
	if !found || !json.Valid(output) || jsonpath.IsEmpty(value) {
		return choose(cfg.IfEmpty)
	}
	if names, ok := cfg.Cases[jsonpath.String(value)]; ok {
		return choose(names)
	}
	return choose(cfg.Default)
}

// choose selects names, or every successor when names is nil (the rule is
// not configured). An empty list selects none.
func choose(names []string) megaflow.Status {
	if names == nil {
		return megaflow.Unchanged
	}
	for _, name := range names {
		megaflow.SelectString(name)
	}
	return megaflow.OK
}

func main() {}
