package main

import (
	"strings"
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestTemplate(t *testing.T) {
	p := plugintest.Load(t, `{"template":{"inputs":"{{messages.-1.content}}","params":{"k":"{{top_k}}","missing":"{{nope}}"},"note":"model {{model}}, k={{top_k}}{{nope}}","fixed":[1,"two",true]}}`)
	got, err := plugintest.Response(t, p, `{"model":"m1","messages":[{"role":"user","content":"hi"}],"top_k":3}`)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, got, `{"inputs":"hi","params":{"k":3,"missing":null},"note":"model m1, k=3","fixed":[1,"two",true]}`)
}

func TestTemplateRequestHook(t *testing.T) {
	p := plugintest.Load(t, `{"template":{"inputs":"{{text}}"}}`)
	var out host.RequestOutput
	if err := p.Request(plugintest.Ctx(t), []byte(`{"text":"hello"}`), nil, &out); err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(out.Body), `{"inputs":"hello"}`)
}

func TestTemplateRejectsInvalidInput(t *testing.T) {
	p := plugintest.Load(t, `{"template":{"a":"{{a}}"}}`)
	_, err := plugintest.Response(t, p, `{"a":`)
	if e := plugintest.HostError(t, err); e.Status != 400 {
		t.Errorf("invalid input: %v, want 400", err)
	}
}

func TestTemplateRequiresTemplate(t *testing.T) {
	if err := plugintest.LoadError(t, `{}`); !strings.Contains(err.Error(), "no template") {
		t.Errorf("error %q does not name the missing template", err)
	}
}
