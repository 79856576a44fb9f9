package config

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const requestInputFlow = `
[services.retriever]
url = "http://127.0.0.1:7000/v1/retrieval"

[services.llm]
url = "http://127.0.0.1:9009/v1/chat/completions"

[flows.chat]
  [[flows.chat.nodes]]
  service = "retriever"

  [[flows.chat.nodes]]
  service = "llm"
  after = ["request", "retriever", "params"]

[[routes]]
path = "/chat"
flow = "chat"
`

func TestAfterRequestIsAccepted(t *testing.T) {
	dir := t.TempDir()
	f, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(requestInputFlow))
	if err != nil {
		t.Fatalf("after = [\"request\", ...] rejected:\n%v", err)
	}
	var out bytes.Buffer
	if err := WriteGraph(&out, f, "", "mermaid"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `f0in -->|"request, params"| f0n1`) {
		t.Errorf("graph has no edge from the request to llm:\n%s", out.String())
	}
}

func TestReservedNodeNamesAreRejected(t *testing.T) {
	for _, c := range []struct{ name, what string }{
		{"request", "request"},
		{"params", "request parameters"},
	} {
		dir := t.TempDir()
		src := strings.Replace(requestInputFlow, `  service = "retriever"
`, `  service = "retriever"
  name = "`+c.name+`"
`, 1)
		_, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(src))
		want := `c.toml:11:3: flow "chat" node "` + c.name + `": the node name "` + c.name + `" is reserved for the client's ` + c.what + ` in after`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("node named %s: %v", c.name, err)
		}
	}
}

func TestChainNodeNamedParamsAsksForRename(t *testing.T) {
	dir := t.TempDir()
	src := `
[services.params]
url = "http://127.0.0.1:7000/x"

[services.b]
url = "http://127.0.0.1:7001/x"

[flows.pf]
chain = "params >> b"

[[routes]]
path = "/x"
flow = "pf"
`
	_, err := Parse(filepath.Join(dir, "c.toml"), dir, []byte(src))
	want := `c.toml:9:1: flow "pf" node "params": the node name "params" is reserved for the client's request parameters in after; rename [services.params]`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("chain node named params: %v", err)
	}
}
