// Command template is a megaflow plugin that builds a JSON body from fields
// of its JSON input: a request or response hook.
//
// Config:
//
//	template = { inputs = "{{messages.-1.content}}", truncate = true, note = "asked: {{model}}" }
//
// The template is any JSON value. A string that is exactly "{{path}}" is
// replaced by the input's value at path, of whatever type, or by null when
// the path is missing. A "{{path}}" inside a longer string is replaced by
// that value as text, or by nothing when missing. Paths are as in
// json_pick.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
	"github.com/megaflow/megaflow/plugins/internal/jsonpath"
)

var template any

func init() {
	megaflow.OnInit(func(raw []byte) error {
		var cfg struct {
			Template json.RawMessage `json:"template"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("template: invalid config: %v", err)
		}
		if len(cfg.Template) == 0 {
			return fmt.Errorf("template: config has no template; set template = { ... }")
		}
		return json.Unmarshal(cfg.Template, &template)
	})
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status { return render(req.Body) })
	megaflow.OnResponse(render)
}

func render(input []byte) megaflow.Status {
	if !json.Valid(input) {
		return megaflow.Fail(400, "template: input is not valid JSON")
	}
	body, err := json.Marshal(fill(template, input))
	if err != nil {
		return megaflow.Failf(500, "template: encode output: %v", err)
	}
	megaflow.Write(body)
	return megaflow.OK
}

// fill returns a copy of t with its placeholders replaced from input.
func fill(t any, input []byte) any {
	switch v := t.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, value := range v {
			out[key] = fill(value, input)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, value := range v {
			out[i] = fill(value, input)
		}
		return out
	case string:
		return fillString(v, input)
	}
	return t
}

func fillString(s string, input []byte) any {
	if path, ok := wholePlaceholder(s); ok {
		value, found := jsonpath.Get(input, path)
		if !found {
			return nil
		}
		return json.RawMessage(value)
	}
	var b strings.Builder
	for {
		start := strings.Index(s, "{{")
		if start < 0 {
			break
		}
		end := strings.Index(s[start:], "}}")
		if end < 0 {
			break
		}
		b.WriteString(s[:start])
		path := strings.TrimSpace(s[start+2 : start+end])
		if value, found := jsonpath.Get(input, path); found {
			b.WriteString(jsonpath.String(value))
		}
		s = s[start+end+2:]
	}
	b.WriteString(s)
	return b.String()
}

func wholePlaceholder(s string) (string, bool) {
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") {
		return "", false
	}
	inner := s[2 : len(s)-2]
	if strings.Contains(inner, "{{") || strings.Contains(inner, "}}") {
		return "", false
	}
	return strings.TrimSpace(inner), true
}

func main() {}
