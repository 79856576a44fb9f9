package main

import (
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestToTEI(t *testing.T) {
	cases := []struct {
		name, config, input, want string
	}{
		{"last user message", `{"field":"messages"}`,
			`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"first"},{"role":"assistant","content":"a"},{"role":"user","content":"What is OPEA?"}],"stream":true}`,
			`{"inputs":"What is OPEA?"}`},
		{"content parts", ``,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]}]}`,
			`{"inputs":"one\ntwo"}`},
		{"string messages", ``, `{"messages":"plain question"}`, `{"inputs":"plain question"}`},
		{"text field with truncate", `{"truncate":true}`, `{"text":"doc text"}`, `{"inputs":"doc text","truncate":true}`},
		{"other field name", `{"field":"history"}`, `{"history":[{"role":"user","content":"q"}]}`, `{"inputs":"q"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := plugintest.Load(t, c.config)
			var out host.RequestOutput
			if err := p.Request(plugintest.Ctx(t), []byte(c.input), nil, &out); err != nil {
				t.Fatal(err)
			}
			plugintest.EqualJSON(t, string(out.Body), c.want)
		})
	}
}

func TestToTEIWithoutQuestion(t *testing.T) {
	p := plugintest.Load(t, ``)
	for _, input := range []string{`{"messages":[{"role":"system","content":"s"}]}`, `{"model":"m"}`, `[1,2]`} {
		var out host.RequestOutput
		err := p.Request(plugintest.Ctx(t), []byte(input), nil, &out)
		if e := plugintest.HostError(t, err); e.Status != 400 || e.Kind != host.KindFailed {
			t.Errorf("input %s: %v, want a 400 failure", input, err)
		}
	}
}
