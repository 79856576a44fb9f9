package runtime

import (
	"strings"
	"testing"
)

const chatSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["messages"],
  "properties": {
    "messages": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
          "role": {"enum": ["system", "user", "assistant"]},
          "content": {"type": "string"}
        }
      }
    },
    "a/b": {"type": "integer"}
  }
}`

func TestGuardContent(t *testing.T) {
	jsonOnly, err := NewContentGuard(ContentSettings{ContentTypes: []string{"application/json", "Application/Problem+JSON"}})
	if err != nil {
		t.Fatal(err)
	}
	textAny, err := NewContentGuard(ContentSettings{ContentTypes: []string{"text/*"}})
	if err != nil {
		t.Fatal(err)
	}
	schema, err := NewContentGuard(ContentSettings{SchemaFile: writeFile(t, "chat.schema.json", chatSchema)})
	if err != nil {
		t.Fatal(err)
	}
	anyType, err := NewContentGuard(ContentSettings{})
	if err != nil {
		t.Fatal(err)
	}
	jsonURL := guardedServer(t, ServerSettings{}, jsonOnly)
	textURL := guardedServer(t, ServerSettings{}, textAny)
	schemaURL := guardedServer(t, ServerSettings{}, schema)
	anyURL := guardedServer(t, ServerSettings{}, anyType)

	valid := `{"messages":[{"role":"user","content":"hi"}]}`
	cases := []struct {
		name        string
		url         string
		contentType string
		body        string
		status      int
		message     string
	}{
		{"json accepted", jsonURL, "application/json", `{"a":1}`, 200, ""},
		{"json with charset", jsonURL, "Application/JSON; charset=utf-8", `[1]`, 200, ""},
		{"suffix type listed", jsonURL, "application/problem+json", `{}`, 200, ""},
		{"other type", jsonURL, "text/plain", `hi`, 415, `content type "text/plain" is not accepted; this route accepts application/json`},
		{"missing type", jsonURL, "", `{}`, 415, "missing Content-Type"},
		{"malformed json", jsonURL, "application/json", `{"a":}`, 400, "at byte offset 5:"},
		{"truncated json", jsonURL, "application/json", `{"a":1`, 400, "at byte offset 6:"},
		{"trailing garbage", jsonURL, "application/json", `{"a":1} x`, 400, "at byte offset 8:"},
		{"empty json body", jsonURL, "application/json", ``, 400, "at byte offset 0:"},
		{"wildcard subtype", textURL, "text/markdown", `# hi`, 200, ""},
		{"wildcard other type", textURL, "application/json", `{}`, 415, "this route accepts text/*"},
		{"schema valid", schemaURL, "application/json", valid, 200, ""},
		{"schema bad enum", schemaURL, "application/json", `{"messages":[{"role":"user","content":"hi"},{"role":"bot","content":"x"}]}`, 400, "at /messages/1/role:"},
		{"schema missing property", schemaURL, "application/json", `{"model":"x"}`, 400, "the whole body"},
		{"schema escaped path", schemaURL, "application/json", `{"messages":[{"role":"user","content":"hi"}],"a/b":"x"}`, 400, "at /a~1b:"},
		{"schema wrong type", schemaURL, "application/vnd.chat+json", `{"messages":"hi"}`, 400, "at /messages:"},
		{"schema malformed", schemaURL, "application/json", `{"messages":[}`, 400, "at byte offset 13:"},
		{"schema non-json", schemaURL, "text/plain", valid, 415, "takes a JSON body"},
		{"any type json checked", anyURL, "application/json", `nope`, 400, "at byte offset 1:"},
		{"any type text unchecked", anyURL, "text/plain", `nope`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := post(t, tc.url, tc.contentType, []byte(tc.body))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tc.status, out)
			}
			if tc.status == 200 {
				return
			}
			e := decodeError(t, out)
			if !strings.Contains(e.Error, tc.message) {
				t.Errorf("error = %q, want it to contain %q", e.Error, tc.message)
			}
			if e.RequestID == "" {
				t.Error("error body has no request_id")
			}
		})
	}
}

func TestGuardContentBodilessMethods(t *testing.T) {
	g, err := NewContentGuard(ContentSettings{ContentTypes: []string{"application/json"}, SchemaFile: writeFile(t, "chat.schema.json", chatSchema)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, contentType, body string
		status                    int
	}{
		{"GET", "", "", 200},
		{"DELETE", "", "", 200},
		{"GET", "text/plain", "", 415},
		{"DELETE", "", "{}", 415},
		{"POST", "", "", 415},
		{"PUT", "application/json", "", 400},
	}
	for _, tc := range cases {
		ctx := requestFrom("192.0.2.10")
		ctx.Request.Header.SetMethod(tc.method)
		if tc.contentType != "" {
			ctx.Request.Header.SetContentType(tc.contentType)
		}
		ctx.Request.SetBodyString(tc.body)
		status := 200
		if e := g.Check(ctx); e != nil {
			status = e.Status
		}
		if status != tc.status {
			t.Errorf("%s with Content-Type %q and body %q: status %d, want %d", tc.method, tc.contentType, tc.body, status, tc.status)
		}
	}
}

func TestGuardContentSettingsErrors(t *testing.T) {
	cases := []struct {
		name string
		set  ContentSettings
		want string
	}{
		{"no subtype", ContentSettings{ContentTypes: []string{"application"}}, "not a media type"},
		{"parameters", ContentSettings{ContentTypes: []string{"text/plain; charset=utf-8"}}, "not a media type"},
		{"missing schema", ContentSettings{SchemaFile: "/nonexistent/schema.json"}, "schema.json"},
		{"schema not JSON", ContentSettings{SchemaFile: writeFile(t, "s.json", "{")}, "compile JSON schema file"},
		{"schema invalid", ContentSettings{SchemaFile: writeFile(t, "s.json", `{"type":"banana"}`)}, "compile JSON schema file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewContentGuard(tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
