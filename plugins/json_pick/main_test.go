package main

import (
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const chat = `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is OPEA?"}],"top_k":3}`

func TestJSONPick(t *testing.T) {
	p := plugintest.Load(t, `{"fields":{"query":"messages.-1.content","k":"top_k","temp":"temperature","model":"model"},"defaults":{"temp":0.5},"required":["query"]}`)
	got, err := plugintest.Response(t, p, chat)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, got, `{"query":"What is OPEA?","k":3,"temp":0.5,"model":"m"}`)
}

func TestJSONPickRequestHook(t *testing.T) {
	p := plugintest.Load(t, `{"fields":{"q":"messages.1.content"}}`)
	var out host.RequestOutput
	if err := p.Request(plugintest.Ctx(t), []byte(chat), nil, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Changed {
		t.Fatal("request hook left the input unchanged")
	}
	plugintest.EqualJSON(t, string(out.Body), `{"q":"What is OPEA?"}`)
}

func TestJSONPickMissingFields(t *testing.T) {
	p := plugintest.Load(t, `{"fields":{"query":"question","k":"top_k"},"required":["query"]}`)
	_, err := plugintest.Response(t, p, `{"top_k":2}`)
	if e := plugintest.HostError(t, err); e.Status != 400 || e.Kind != host.KindFailed {
		t.Errorf("missing required field: %v, want a 400 failure", err)
	}

	optional := plugintest.Load(t, `{"fields":{"query":"question","k":"top_k"}}`)
	got, err := plugintest.Response(t, optional, `{"top_k":2}`)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, got, `{"k":2}`)
}

func TestJSONPickInvalidInput(t *testing.T) {
	p := plugintest.Load(t, `{"fields":{"a":"a"}}`)
	_, err := plugintest.Response(t, p, `not json`)
	if e := plugintest.HostError(t, err); e.Status != 400 {
		t.Errorf("invalid JSON input: %v, want 400", err)
	}
}

func TestJSONPickRejectsEmptyConfig(t *testing.T) {
	err := plugintest.LoadError(t, `{}`)
	if got := err.Error(); !contains(got, "no fields") {
		t.Errorf("error %q does not explain the missing fields", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
