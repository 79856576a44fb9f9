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

func TestAggregateTopNFromInput(t *testing.T) {
	p := plugintest.Load(t, config) // top_n = 2
	scores := `[{"index":2,"score":0.2},{"index":0,"score":0.9},{"index":1,"score":0.5}]`
	cases := []struct{ name, doc, context string }{
		{"reranker request top_n", `{"query":"q?","texts":["best","second","worst"],"top_n":3}`, `best\n\nsecond\n\nworst`},
		{"reranker request top_n 1", `{"query":"q?","texts":["best","second","worst"],"top_n":1}`, `best`},
		{"no top_n uses config", `{"query":"q?","texts":["best","second","worst"]}`, `best\n\nsecond`},
		{"retriever top_n ignored", `{"initial_query":"q?","retrieved_docs":[{"text":"best"},{"text":"second"},{"text":"worst"}],"top_n":1}`, `best\n\nsecond`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Aggregate(plugintest.Ctx(t), []host.Input{
				{Name: "rerank", Data: []byte(scores)},
				{Name: "rerank_input", Data: []byte(c.doc)},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			plugintest.EqualJSON(t, string(got), `{"model":"llm-1","stream":false,"max_tokens":64,"messages":[`+
				`{"role":"system","content":"Context:\n`+c.context+`"},{"role":"user","content":"q?"}]}`)
		})
	}
}

func TestAggregateTopNFromParams(t *testing.T) {
	p := plugintest.Load(t, config) // top_n = 2
	scores := `[{"index":2,"score":0.2},{"index":0,"score":0.9},{"index":1,"score":0.5}]`
	cases := []struct{ name, params, doc, context string }{
		{"params top_n", `{"rerank":{"top_n":1}}`, `{"query":"q?","texts":["best","second","worst"]}`, `best`},
		{"params win over the input", `{"rerank":{"top_n":3}}`, `{"query":"q?","texts":["best","second","worst"],"top_n":1}`, `best\n\nsecond\n\nworst`},
		{"empty params use config", `{}`, `{"query":"q?","texts":["best","second","worst"]}`, `best\n\nsecond`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Aggregate(plugintest.Ctx(t), []host.Input{
				{Name: "params", Data: []byte(c.params)},
				{Name: "rerank", Data: []byte(scores)},
				{Name: "retriever", Data: []byte(c.doc)},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			plugintest.EqualJSON(t, string(got), `{"model":"llm-1","stream":false,"max_tokens":64,"messages":[`+
				`{"role":"system","content":"Context:\n`+c.context+`"},{"role":"user","content":"q?"}]}`)
		})
	}

	_, err := p.Aggregate(plugintest.Ctx(t), []host.Input{
		{Name: "params", Data: []byte(`{"rerank":{"top_n":0}}`)},
		{Name: "rerank", Data: []byte(scores)},
		{Name: "retriever", Data: []byte(`{"query":"q?","texts":["best","second","worst"]}`)},
	}, nil)
	if e := plugintest.HostError(t, err); e.Status != 400 {
		t.Errorf("params top_n 0: %v, want 400", err)
	}
}

func TestAggregateEmptyRanking(t *testing.T) {
	p := plugintest.Load(t, config)
	for _, doc := range []string{
		`{"query":"q?","texts":[],"top_n":1}`,
		`{"initial_query":"q?","retrieved_docs":[],"top_n":1}`,
	} {
		got, err := p.Aggregate(plugintest.Ctx(t), []host.Input{
			{Name: "rerank", Data: []byte(`[]`)},
			{Name: "rerank_input", Data: []byte(doc)},
		}, nil)
		if err != nil {
			t.Fatalf("input %s: %v", doc, err)
		}
		plugintest.EqualJSON(t, string(got), `{"model":"llm-1","stream":false,"max_tokens":64,"messages":[`+
			`{"role":"system","content":"Context:\n"},{"role":"user","content":"q?"}]}`)
	}
}

func TestAggregateRejectsInvalidTopN(t *testing.T) {
	p := plugintest.Load(t, config)
	for _, topN := range []string{"-1", "1.5"} {
		_, err := p.Aggregate(plugintest.Ctx(t), []host.Input{
			{Name: "rerank", Data: []byte(`[{"index":0,"score":1}]`)},
			{Name: "rerank_input", Data: []byte(`{"query":"q","texts":["a"],"top_n":` + topN + `}`)},
		}, nil)
		e := plugintest.HostError(t, err)
		if e.Status != 400 {
			t.Errorf("top_n %s: %v, want 400", topN, err)
		}
		if !contains(e.Error(), "top_n") {
			t.Errorf("top_n %s: error %q does not name top_n", topN, e.Error())
		}
	}
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
