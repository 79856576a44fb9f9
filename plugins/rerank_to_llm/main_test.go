package main

import (
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

const config = `{"model":"llm-1","stream":false,"max_tokens":64,"top_n":2,"system":"Context:\n{context}"}`

func TestResponseHookBuildsPrompt(t *testing.T) {
	p := plugintest.Load(t, config)
	cases := []struct{ name, output string }{
		{"OPEA documents", `{"id":"1","query":"What is OPEA?","documents":["OPEA is a platform.","It has components."]}`},
		{"reranked objects", `{"initial_query":"What is OPEA?","reranked_docs":[{"text":"OPEA is a platform."},{"text":"It has components."}]}`},
	}
	want := `{"model":"llm-1","stream":false,"max_tokens":64,"messages":[` +
		`{"role":"system","content":"Context:\nOPEA is a platform.\n\nIt has components."},` +
		`{"role":"user","content":"What is OPEA?"}]}`
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := plugintest.Response(t, p, c.output)
			if err != nil {
				t.Fatal(err)
			}
			plugintest.EqualJSON(t, got, want)
		})
	}
}

func TestAggregateKeepsTopDocuments(t *testing.T) {
	p := plugintest.Load(t, config)
	inputs := []host.Input{
		{Name: "rerank", Data: []byte(`[{"index":2,"score":0.2},{"index":0,"score":0.9},{"index":1,"score":0.5}]`)},
		{Name: "retriever", Data: []byte(`{"initial_query":"q?","retrieved_docs":[{"text":"best"},{"text":"second"},{"text":"worst"}]}`)},
	}
	got, err := p.Aggregate(plugintest.Ctx(t), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(got), `{"model":"llm-1","stream":false,"max_tokens":64,"messages":[`+
		`{"role":"system","content":"Context:\nbest\n\nsecond"},{"role":"user","content":"q?"}]}`)
}

func TestDefaultsStreamAndSystemPrompt(t *testing.T) {
	p := plugintest.Load(t, ``)
	got, err := plugintest.Response(t, p, `{"query":"q","documents":["d"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(got, `"stream":true`) || !contains(got, `Search results:\nd`) {
		t.Errorf("output %s lacks the default stream flag or system prompt", got)
	}
}

func TestRejectsBadInputs(t *testing.T) {
	p := plugintest.Load(t, config)
	_, err := plugintest.Response(t, p, `{"documents":["d"]}`)
	if e := plugintest.HostError(t, err); e.Status != 502 {
		t.Errorf("no question: %v, want 502", err)
	}
	_, err = p.Aggregate(plugintest.Ctx(t), []host.Input{
		{Name: "rerank", Data: []byte(`[{"index":5,"score":1}]`)},
		{Name: "retriever", Data: []byte(`{"query":"q","texts":["only"]}`)},
	}, nil)
	if e := plugintest.HostError(t, err); e.Status != 502 {
		t.Errorf("index out of range: %v, want 502", err)
	}
	if err := plugintest.LoadError(t, `{"top_n":0}`); !contains(err.Error(), "top_n") {
		t.Errorf("error %q does not name top_n", err)
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
