package config

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mermaidChart is the structure of a flowchart read back from its text.
type mermaidChart struct {
	subgraphs []string
	// labels maps each node ID to its label.
	labels map[string]string
	// edges lists "FROM --> TO" and "FROM -.-> TO" links.
	edges []string
}

var (
	mermaidSubgraph = regexp.MustCompile(`^  subgraph (\w+)\["([^"]*)"\]$`)
	mermaidBox      = regexp.MustCompile(`^    (\w+)\["([^"]*)"\]$`)
	mermaidTerminal = regexp.MustCompile(`^    (\w+)\(\["([^"]*)"\]\)$`)
	mermaidEdge     = regexp.MustCompile(`^    (\w+) (-->|-\.->)(\|"[^"]*"\|)? (\w+)$`)
)

// parseMermaid reads the subset of Mermaid flowchart syntax WriteGraph
// uses and fails the test on any other line, an unbalanced subgraph, or
// an edge to an undeclared node.
func parseMermaid(t *testing.T, text string) mermaidChart {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != "flowchart TD" {
		t.Fatalf("first line %q, want \"flowchart TD\"", lines[0])
	}
	c := mermaidChart{labels: map[string]string{}}
	var rawEdges [][]string
	open := false
	for _, line := range lines[1:] {
		switch m := (func() []string {
			for _, re := range []*regexp.Regexp{mermaidSubgraph, mermaidBox, mermaidTerminal, mermaidEdge} {
				if m := re.FindStringSubmatch(line); m != nil {
					return m
				}
			}
			return nil
		})(); {
		case line == "  end":
			if !open {
				t.Fatalf("\"end\" outside a subgraph")
			}
			open = false
		case m == nil:
			t.Fatalf("line %q is not Mermaid flowchart syntax this test knows", line)
		case strings.HasPrefix(line, "  subgraph"):
			if open {
				t.Fatalf("nested subgraph at %q", line)
			}
			open = true
			c.subgraphs = append(c.subgraphs, m[2])
		case len(m) == 5:
			rawEdges = append(rawEdges, []string{m[1], m[2] + m[3], m[4]})
		default:
			if _, dup := c.labels[m[1]]; dup {
				t.Fatalf("node %s declared twice", m[1])
			}
			c.labels[m[1]] = m[2]
		}
	}
	if open {
		t.Fatal("subgraph without \"end\"")
	}
	for _, e := range rawEdges {
		from, to := c.labels[e[0]], c.labels[e[2]]
		if from == "" || to == "" {
			t.Fatalf("edge %v links an undeclared node", e)
		}
		c.edges = append(c.edges, firstLine(from)+" "+e[1]+" "+firstLine(to))
	}
	return c
}

func firstLine(label string) string {
	head, _, _ := strings.Cut(label, "<br/>")
	return head
}

func loadExample(t *testing.T, name string) *File {
	t.Helper()
	usePluginStubs(t)
	f, err := Load("examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func graphText(t *testing.T, f *File, flow, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteGraph(&b, f, flow, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMermaidChatQnA(t *testing.T) {
	c := parseMermaid(t, graphText(t, loadExample(t, "chatqna.toml"), "", "mermaid"))
	if !slices.Equal(c.subgraphs, []string{"flow chatqna"}) {
		t.Errorf("subgraphs %q", c.subgraphs)
	}
	wantEdges := []string{
		"request --> embedding",
		"request --> retriever",
		"embedding --> retriever",
		"retriever --> rerank",
		`request -->|"params"| llm`,
		"retriever --> llm",
		"rerank --> llm",
		"llm --> response",
	}
	if !slices.Equal(c.edges, wantEdges) {
		t.Errorf("edges:\n got %q\nwant %q", c.edges, wantEdges)
	}
	wantLabels := []string{
		"embedding<br/>type: embedding<br/>request: to_tei",
		"retriever<br/>type: retriever<br/>response: retriever_to_rerank<br/>aggregate: tei_to_retriever",
		"rerank<br/>type: rerank<br/>request: retriever_to_rerank",
		"llm<br/>type: llm<br/>aggregate: rerank_to_llm<br/>stream",
	}
	for _, want := range wantLabels {
		if !slices.ContainsFunc(mapValues(c.labels), func(l string) bool { return l == want }) {
			t.Errorf("no node labelled %q in %q", want, mapValues(c.labels))
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func TestMermaidConditionalEdgesDashed(t *testing.T) {
	c := parseMermaid(t, graphText(t, loadExample(t, "conditional.toml"), "conditional", "mermaid"))
	wantEdges := []string{
		"request --> retriever",
		"retriever -.-> rerank",
		"retriever -.-> llm",
		"rerank --> llm",
		"llm --> response",
	}
	if !slices.Equal(c.edges, wantEdges) {
		t.Errorf("edges:\n got %q\nwant %q", c.edges, wantEdges)
	}
}

func TestMermaidEveryFlow(t *testing.T) {
	f := loadFull(t)
	f.Flows["second"] = Flow{Nodes: []Node{{Service: "echo"}}}
	c := parseMermaid(t, graphText(t, f, "", "mermaid"))
	if !slices.Equal(c.subgraphs, []string{"flow full", "flow second"}) {
		t.Errorf("subgraphs %q", c.subgraphs)
	}
	if !slices.Contains(c.edges, "echo --> response") {
		t.Errorf("flow second has no output edge: %q", c.edges)
	}
	wantFirst := "first<br/>service: embedding<br/>type: embedding<br/>request: shape<br/>response: shape<br/>events: shape<br/>route: shape<br/>stream, optional"
	if !slices.Contains(mapValues(c.labels), wantFirst) {
		t.Errorf("no node labelled %q in %q", wantFirst, mapValues(c.labels))
	}
}

func TestGraphUnknownFlow(t *testing.T) {
	f := loadExample(t, "chatqna.toml")
	err := WriteGraph(&bytes.Buffer{}, f, "chatqa", "mermaid")
	if err == nil || !strings.Contains(err.Error(), `has no flow "chatqa"; did you mean "chatqna"?`) {
		t.Errorf("got %v", err)
	}
}

func TestGraphUnknownFormat(t *testing.T) {
	f := loadExample(t, "echo.toml")
	err := WriteGraph(&bytes.Buffer{}, f, "", "svg")
	if err == nil || !strings.Contains(err.Error(), `unknown graph format "svg"; use mermaid or dot`) {
		t.Errorf("got %v", err)
	}
}

func TestDOTStructure(t *testing.T) {
	text := graphText(t, loadExample(t, "conditional.toml"), "", "dot")
	for _, want := range []string{
		"digraph megaflow {\n",
		"subgraph cluster_f0 {\n    label=\"flow conditional\";\n",
		"f0n0 [label=\"retriever\\ntype: retriever\\nroute: route_docs\"];\n",
		"f0n2 [label=\"llm\\ntype: llm\\nrequest: to_chat\"];\n",
		"f0n0 -> f0n1 [style=dashed];\n",
		"f0n0 -> f0n2 [style=dashed];\n",
		"f0n1 -> f0n2;\n",
		"f0n2 -> f0out;\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("DOT output lacks %q:\n%s", want, text)
		}
	}
}

func TestDOTRendersWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("Graphviz dot is not installed")
	}
	for _, name := range []string{"chatqna.toml", "conditional.toml", "parallel.toml"} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = strings.NewReader(graphText(t, loadExample(t, name), "", "dot"))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			svg, err := cmd.Output()
			if err != nil {
				t.Fatalf("dot -Tsvg: %v\n%s", err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("dot warned: %s", stderr.String())
			}
			if !bytes.Contains(svg, []byte("<svg")) {
				t.Errorf("dot output is not SVG: %.200s", svg)
			}
		})
	}
}
