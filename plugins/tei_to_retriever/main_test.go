package main

import (
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestResponseHookSendsEmbedding(t *testing.T) {
	p := plugintest.Load(t, `{"params":{"k":4,"search_type":"similarity"}}`)
	for _, output := range []string{`[[0.1,-0.2,0.3]]`, `[0.1,-0.2,0.3]`} {
		got, err := plugintest.Response(t, p, output)
		if err != nil {
			t.Fatal(err)
		}
		plugintest.EqualJSON(t, got, `{"embedding":[0.1,-0.2,0.3],"k":4,"search_type":"similarity"}`)
	}
}

func TestAggregateAddsQuery(t *testing.T) {
	p := plugintest.Load(t, `{"params":{"k":2}}`)
	inputs := []host.Input{
		{Name: "request", Data: []byte(`{"messages":[{"role":"user","content":"What is OPEA?"}]}`)},
		{Name: "embedding", ContentType: []byte("application/json"), Data: []byte(`[[1.5,2.5]]`)},
	}
	got, err := p.Aggregate(plugintest.Ctx(t), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(got), `{"text":"What is OPEA?","embedding":[1.5,2.5],"k":2}`)
}

func TestRejectsBadEmbedding(t *testing.T) {
	p := plugintest.Load(t, ``)
	for _, output := range []string{`{"error":"model not loaded"}`, `[]`} {
		_, err := plugintest.Response(t, p, output)
		if e := plugintest.HostError(t, err); e.Status != 502 {
			t.Errorf("output %s: %v, want 502", output, err)
		}
	}
	_, err := p.Aggregate(plugintest.Ctx(t), []host.Input{{Name: "request", Data: []byte(`{"text":"q"}`)}}, nil)
	if e := plugintest.HostError(t, err); e.Status != 502 {
		t.Errorf("aggregate without an embedding: %v, want 502", err)
	}
}
