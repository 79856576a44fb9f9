package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseChainStages(t *testing.T) {
	cases := []struct {
		chain string
		want  [][]string
	}{
		{"a", [][]string{{"a"}}},
		{"embedding >> retriever >> (rerank, web) >> llm", [][]string{{"embedding"}, {"retriever"}, {"rerank", "web"}, {"llm"}}},
		{"a>>b", [][]string{{"a"}, {"b"}}},
		{"(a,b)>>c", [][]string{{"a", "b"}, {"c"}}},
		{"  a  >>  ( b ,c )  ", [][]string{{"a"}, {"b", "c"}}},
	}
	for _, c := range cases {
		t.Run(c.chain, func(t *testing.T) {
			got, err := parseChain(c.chain)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseChainErrors(t *testing.T) {
	cases := map[string]string{
		"a >>":         "missing at the end",
		">> a":         "missing at character 1",
		"a >> (b, c":   "no closing",
		"a >> (b, ,c)": "empty name",
		"a b":          `expected ">>" at character 3`,
		"a > b":        `expected ">>" at character 3`,
	}
	for chain, want := range cases {
		t.Run(chain, func(t *testing.T) {
			_, err := parseChain(chain)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %v, want one containing %q", err, want)
			}
		})
	}
}

const chainServices = `
[services.embedding]
type = "embedding"
url = "http://127.0.0.1:1/embed"
[services.retriever]
type = "retriever"
url = "http://127.0.0.1:1/v1/retrieval"
[services.rerank]
type = "rerank"
url = "http://127.0.0.1:1/rerank"
[services.web]
type = "web_retriever"
url = "http://127.0.0.1:1/v1/web"
[services.llm]
type = "llm"
url = "http://127.0.0.1:1/v1/chat/completions"
[[routes]]
path = "/v1/chatqna"
flow = "rag"
`

func TestChainBecomesNodes(t *testing.T) {
	src := chainServices + `
[flows.rag]
chain = "embedding >> retriever >> (rerank, web) >> llm"
aggregate_mode = "merge"

  [[flows.rag.nodes]]
  service = "llm"
  optional = true
`
	f, err := Parse("chain.toml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	after := map[string][]string{}
	for _, n := range f.Flows["rag"].Nodes {
		after[n.NodeName()] = n.After
	}
	want := map[string][]string{
		"embedding": nil,
		"retriever": {"embedding"},
		"rerank":    {"retriever"},
		"web":       {"retriever"},
		"llm":       {"rerank", "web"},
	}
	for name, preds := range want {
		got, ok := after[name]
		if !ok {
			t.Errorf("node %s is missing", name)
			continue
		}
		if !slices.Equal(got, preds) {
			t.Errorf("node %s after %q, want %q", name, got, preds)
		}
	}
	if len(f.Flows["rag"].Nodes) != len(want) {
		t.Errorf("%d nodes, want %d", len(f.Flows["rag"].Nodes), len(want))
	}
	if n := f.Flows["rag"].Nodes[0]; n.Service != "llm" || !n.Optional {
		t.Errorf("the explicit llm entry lost its settings: %+v", n)
	}
	if err := Check(f); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// parseProblems parses src and returns its problems, one per line.
func parseProblems(t *testing.T, src string) string {
	t.Helper()
	_, err := Parse("bad.toml", t.TempDir(), []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error = %v, want an ErrorList", err)
	}
	return list.Error()
}

func TestChainErrorsHavePositions(t *testing.T) {
	cases := []struct {
		name, flow, want string
	}{
		{"syntax", "[flows.rag]\nchain = \"embedding >> >> llm\"\n", `bad.toml:21:1: flow "rag": chain "embedding >> >> llm" is invalid: a service name is missing at character 14`},
		{"unknown service", "[flows.rag]\nchain = \"embedding >> lm\"\n", `bad.toml:21:1: flow "rag" node "lm": service "lm" is not defined; did you mean "llm"?`},
		{"name twice", "[flows.rag]\nchain = \"embedding >> (llm, llm)\"\n", `bad.toml:21:1: flow "rag": chain names "llm" twice`},
		{"after set twice", "[flows.rag]\nchain = \"embedding >> llm\"\n[[flows.rag.nodes]]\nservice = \"llm\"\nafter = [\"embedding\"]\n", `bad.toml:24:1: flow "rag" node "llm": after is set both here and by the chain`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseProblems(t, chainServices+c.flow)
			if !strings.Contains(got, c.want) {
				t.Errorf("errors:\n%s\nwant one containing\n%s", got, c.want)
			}
		})
	}
}

func TestOPEAKeysRejectUnknownValues(t *testing.T) {
	src := chainServices + `
[flows.rag]
chain = "embedding >> llm"
aggregate_mode = "merged"

  [[flows.rag.nodes]]
  service = "llm"
  aggregate_mode = "merge"
  aggregate = "join"

[plugins.join]
path = "join.wasm"

[[routes]]
path = "/v1/chat/completions"
flow = "rag"
api = "openapi"

[[routes]]
path = "/v1/raw"
flow = "rag"
stream_format = "opea"
`
	got := parseProblems(t, src)
	for _, want := range []string{
		`flow "rag": aggregate_mode "merged" is unknown; did you mean "merge"?`,
		`flow "rag" node "llm": aggregate_mode = "merge" and aggregate plugin "join" both combine`,
		`route "/v1/chat/completions": api "openapi" is unknown; did you mean "openai"?`,
		`route "/v1/raw": stream_format applies only to a route with an api`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors:\n%s\nlack %q", got, want)
		}
	}
}
