package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestToOPEA(t *testing.T) {
	p := plugintest.Load(t, `{"to":"opea"}`)
	cases := []struct{ name, event, want string }{
		{"token", `data: {"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\n\n", "data: b'Hi'\n\n"},
		{"quotes and newline", `data: {"choices":[{"delta":{"content":"it's\n"}}]}` + "\n\n", "data: b\"it's\\n\"\n\n"},
		{"non-ASCII", `data: {"choices":[{"delta":{"content":"é"}}]}` + "\n\n", "data: b'\\xc3\\xa9'\n\n"},
		{"completions text", `data: {"choices":[{"text":"ok"}]}` + "\n", "data: b'ok'\n"},
		{"role chunk dropped", `data: {"choices":[{"delta":{"role":"assistant"}}]}` + "\n\n", ""},
		{"done kept", "data: [DONE]\n\n", "data: [DONE]\n\n"},
		{"comment kept", ": keep-alive\n\n", ": keep-alive\n\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Event(plugintest.Ctx(t), []byte(c.event), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("event %q became %q, want %q", c.event, got, c.want)
			}
		})
	}
}

func TestToOpenAI(t *testing.T) {
	p := plugintest.Load(t, `{"to":"openai","model":"m"}`)
	got, err := p.Event(plugintest.Ctx(t), []byte("data: b'caf\\xc3\\xa9 \\'x\\'\\n'\n\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, ok := bytes.CutPrefix(bytes.TrimSuffix(got, []byte("\n\n")), []byte("data: "))
	if !ok || !bytes.HasSuffix(got, []byte("\n\n")) {
		t.Fatalf("event %q is not one data line ending with a blank line", got)
	}
	plugintest.EqualJSON(t, string(payload), `{"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"café 'x'\n"},"finish_reason":null}]}`)

	done, err := p.Event(plugintest.Ctx(t), []byte("data: [DONE]\n\n"), nil)
	if err != nil || string(done) != "data: [DONE]\n\n" {
		t.Errorf("[DONE] became %q, %v", done, err)
	}
}

func TestRoundTrip(t *testing.T) {
	toOPEA := plugintest.Load(t, `{"to":"opea"}`)
	toOpenAI := plugintest.Load(t, `{"to":"openai"}`)
	for _, text := range []string{"plain", `both ' and "`, "tab\tback\\slash", "日本語", "\x01\x7f"} {
		chunk := `data: {"choices":[{"delta":{"content":` + quoteJSON(text) + `}}]}` + "\n\n"
		opea, err := toOPEA.Event(plugintest.Ctx(t), []byte(chunk), nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := toOpenAI.Event(plugintest.Ctx(t), opea, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(back), `"content":`+quoteJSON(text)) {
			t.Errorf("%q went through %q and came back as %q", text, opea, back)
		}
	}
}

func TestRejectsUnknownTarget(t *testing.T) {
	if err := plugintest.LoadError(t, `{"to":"xml"}`); !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("error %q does not name the target", err)
	}
}

func TestRejectsMalformedChunk(t *testing.T) {
	p := plugintest.Load(t, ``)
	_, err := p.Event(plugintest.Ctx(t), []byte("data: {broken\n\n"), nil)
	if e := plugintest.HostError(t, err); e.Status != 502 {
		t.Errorf("malformed chunk: %v, want 502", err)
	}
}

// quoteJSON returns s as a JSON string, escaping as encoding/json does.
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
