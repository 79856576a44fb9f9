package main

import (
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestRequestHookBuildsTEIBody(t *testing.T) {
	p := plugintest.Load(t, ``)
	cases := []struct{ name, input, want string }{
		{"OPEA SearchedDoc",
			`{"id":"1","retrieved_docs":[{"id":"doc-0","text":"OPEA is a platform."},{"id":"doc-1","text":"It has components."}],"initial_query":"What is OPEA?","top_n":1}`,
			`{"query":"What is OPEA?","texts":["OPEA is a platform.","It has components."]}`},
		{"string documents", `{"retrieved_docs":["a","b"],"query":"q"}`, `{"query":"q","texts":["a","b"]}`},
		{"TEI body with top_n", `{"query":"q","texts":["a"],"top_n":3}`, `{"query":"q","texts":["a"]}`},
		{"question in text", `{"text":"q","retrieved_docs":[{"text":"a"}],"k":4}`, `{"query":"q","texts":["a"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out host.RequestOutput
			if err := p.Request(plugintest.Ctx(t), []byte(c.input), nil, &out); err != nil {
				t.Fatal(err)
			}
			if out.Status != 0 {
				t.Errorf("status %d, want 0: the reranker must be called", out.Status)
			}
			plugintest.EqualJSON(t, string(out.Body), c.want)
		})
	}
}

func TestRequestHookSkipsRerankWithoutDocuments(t *testing.T) {
	p := plugintest.Load(t, ``)
	for _, input := range []string{
		`{"id":"1","retrieved_docs":[],"initial_query":"What is OPEA?","top_n":1}`,
		`{"query":"q","texts":[],"top_n":2}`,
		`{"initial_query":"q"}`,
	} {
		var out host.RequestOutput
		if err := p.Request(plugintest.Ctx(t), []byte(input), nil, &out); err != nil {
			t.Fatalf("input %s: %v", input, err)
		}
		if out.Status != 200 {
			t.Errorf("input %s: status %d, want a 200 response in place of the reranker", input, out.Status)
		}
		if string(out.Body) != "[]" {
			t.Errorf("input %s: body %q, want []", input, out.Body)
		}
	}
}

func TestResponseHookDropsRetrieverTopN(t *testing.T) {
	p := plugintest.Load(t, ``)
	got, err := plugintest.Response(t, p, `{"retrieved_docs":[{"text":"a"},{"text":"b"}],"initial_query":"q","top_n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, got, `{"query":"q","texts":["a","b"]}`)

	got, err = plugintest.Response(t, p, `{"retrieved_docs":[],"initial_query":"q","top_n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, got, `{"query":"q","texts":[]}`)
}

func TestRejectsInvalidRetrieverOutput(t *testing.T) {
	p := plugintest.Load(t, ``)
	cases := []struct{ name, input string }{
		{"not an object", `[[0.1,0.2]]`},
		{"not JSON", `retrieved`},
		{"documents without question", `{"retrieved_docs":[{"text":"a"}]}`},
		{"document without text", `{"initial_query":"q","retrieved_docs":[{"id":"doc-0"}]}`},
		{"document text not a string", `{"initial_query":"q","retrieved_docs":[{"text":7}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out host.RequestOutput
			err := p.Request(plugintest.Ctx(t), []byte(c.input), nil, &out)
			if e := plugintest.HostError(t, err); e.Status != 502 || e.Kind != host.KindFailed {
				t.Errorf("request hook: %v, want a 502 failure", err)
			}
			_, err = plugintest.Response(t, p, c.input)
			if e := plugintest.HostError(t, err); e.Status != 502 || e.Kind != host.KindFailed {
				t.Errorf("response hook: %v, want a 502 failure", err)
			}
		})
	}
}
