package config

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/megaflow/megaflow/runtime"
)

// GraphFormats lists the formats WriteGraph accepts.
var GraphFormats = []string{"mermaid", "dot"}

// WriteGraph draws the flows of f, or only the flow named flow when it is
// not empty, in format "mermaid" (a flowchart that GitHub renders) or
// "dot" (Graphviz). Each flow is one subgraph, and a node's box shows its
// name, its service's type and its plugins. Edges from a node with a
// route plugin are dashed, because that plugin decides at run time
// whether they are taken. A "request" box feeds the start nodes and the
// output node feeds a "response" box.
func WriteGraph(w io.Writer, f *File, flow, format string) error {
	flows, err := graphFlows(f, flow)
	if err != nil {
		return err
	}
	var g graphWriter
	switch format {
	case "mermaid":
		g = &mermaidWriter{}
	case "dot":
		g = &dotWriter{}
	default:
		return fmt.Errorf("unknown graph format %q; use %s", format, strings.Join(GraphFormats, " or "))
	}
	g.begin()
	for i, name := range flows {
		drawFlow(g, f, i, name)
	}
	g.end()
	_, err = io.WriteString(w, g.String())
	return err
}

func graphFlows(f *File, flow string) ([]string, error) {
	names := sortedKeys(f.Flows)
	if flow == "" {
		if len(names) == 0 {
			return nil, fmt.Errorf("%s defines no flows", f.name)
		}
		return names, nil
	}
	if _, ok := f.Flows[flow]; !ok {
		return nil, fmt.Errorf("%s has no flow %q%s", f.name, flow, choices(flow, names, "flows"))
	}
	return []string{flow}, nil
}

// graphWriter is one output syntax. IDs are made only of letters and
// digits, so neither syntax needs them quoted or escaped.
type graphWriter interface {
	begin()
	beginFlow(id, label string)
	box(id string, lines []string)
	terminal(id, label string)
	// edge draws an arrow; label, when not empty, is written on it.
	edge(from, to string, dashed bool, label string)
	endFlow()
	end()
	String() string
}

func drawFlow(g graphWriter, f *File, flowIndex int, name string) {
	fl := f.Flows[name]
	prefix := fmt.Sprintf("f%d", flowIndex)
	nodeID := map[string]string{}
	for i, n := range fl.Nodes {
		nodeID[n.NodeName()] = fmt.Sprintf("%sn%d", prefix, i)
	}
	g.beginFlow(prefix, "flow "+name)
	in, out := prefix+"in", prefix+"out"
	g.terminal(in, "request")
	for i, n := range fl.Nodes {
		g.box(nodeID[n.NodeName()], nodeLines(f, &fl.Nodes[i]))
	}
	g.terminal(out, "response")

	hasSuccessor := map[string]bool{}
	for _, n := range fl.Nodes {
		if len(n.After) == 0 {
			g.edge(in, nodeID[n.NodeName()], false, "")
		}
		for _, pred := range n.After {
			hasSuccessor[pred] = true
		}
	}
	routes := map[string]bool{}
	for _, n := range fl.Nodes {
		routes[n.NodeName()] = n.Route != ""
	}
	for _, n := range fl.Nodes {
		// One edge from the request stands for the request and its
		// parameters; a label names the parameters.
		takesRequest := slices.Contains(n.After, runtime.RequestInput)
		switch takesParams := slices.Contains(n.After, runtime.ParamsInput); {
		case takesRequest && takesParams:
			g.edge(in, nodeID[n.NodeName()], false, "request, params")
		case takesParams:
			g.edge(in, nodeID[n.NodeName()], false, "params")
		case takesRequest:
			g.edge(in, nodeID[n.NodeName()], false, "")
		}
		for _, pred := range n.After {
			if runtime.ReservedInput(pred) == "" {
				g.edge(nodeID[pred], nodeID[n.NodeName()], routes[pred], "")
			}
		}
	}
	output := fl.Output
	if output == "" {
		for _, n := range fl.Nodes {
			if !hasSuccessor[n.NodeName()] {
				output = n.NodeName()
			}
		}
	}
	g.edge(nodeID[output], out, false, "")
	g.endFlow()
}

// nodeLines is the text of a node's box, one entry per line.
func nodeLines(f *File, n *Node) []string {
	lines := []string{n.NodeName()}
	svc := f.Services[n.Service]
	if n.Name != "" && n.Name != n.Service {
		lines = append(lines, "service: "+n.Service)
	}
	lines = append(lines, "type: "+svc.Type)
	for _, key := range hookKeys {
		if p := n.hook(key); p != "" {
			lines = append(lines, key+": "+p)
		}
	}
	var flags []string
	if svc.Stream {
		flags = append(flags, "stream")
	}
	if n.Optional || svc.Optional {
		flags = append(flags, "optional")
	}
	if len(flags) > 0 {
		lines = append(lines, strings.Join(flags, ", "))
	}
	return lines
}

// mermaidWriter writes a Mermaid flowchart (mermaid.js.org, flowchart
// syntax): `id["text"]` boxes, `id(["text"])` stadium-shaped terminals,
// `-->` solid and `-.->` dotted links.
type mermaidWriter struct{ strings.Builder }

func (m *mermaidWriter) begin() { m.WriteString("flowchart TD\n") }

func (m *mermaidWriter) beginFlow(id, label string) {
	fmt.Fprintf(m, "  subgraph %s[\"%s\"]\n", id, mermaidText(label))
}

func (m *mermaidWriter) box(id string, lines []string) {
	for i := range lines {
		lines[i] = mermaidText(lines[i])
	}
	fmt.Fprintf(m, "    %s[\"%s\"]\n", id, strings.Join(lines, "<br/>"))
}

func (m *mermaidWriter) terminal(id, label string) {
	fmt.Fprintf(m, "    %s([\"%s\"])\n", id, mermaidText(label))
}

func (m *mermaidWriter) edge(from, to string, dashed bool, label string) {
	arrow := "-->"
	if dashed {
		arrow = "-.->"
	}
	if label != "" {
		arrow += `|"` + mermaidText(label) + `"|`
	}
	fmt.Fprintf(m, "    %s %s %s\n", from, arrow, to)
}

func (m *mermaidWriter) endFlow() { m.WriteString("  end\n") }
func (m *mermaidWriter) end()     {}

// mermaidText escapes text for a quoted Mermaid label, which takes HTML
// entity codes written as #name;.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}

// dotWriter writes a Graphviz DOT digraph (graphviz.org/doc/info/lang.html)
// with one cluster subgraph per flow.
type dotWriter struct{ strings.Builder }

func (d *dotWriter) begin() {
	d.WriteString("digraph megaflow {\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n")
}

func (d *dotWriter) beginFlow(id, label string) {
	fmt.Fprintf(d, "  subgraph cluster_%s {\n    label=%s;\n", id, dotString(label))
}

func (d *dotWriter) box(id string, lines []string) {
	fmt.Fprintf(d, "    %s [label=%s];\n", id, dotString(strings.Join(lines, "\n")))
}

func (d *dotWriter) terminal(id, label string) {
	fmt.Fprintf(d, "    %s [label=%s, shape=oval];\n", id, dotString(label))
}

func (d *dotWriter) edge(from, to string, dashed bool, label string) {
	var attrs []string
	if dashed {
		attrs = append(attrs, "style=dashed")
	}
	if label != "" {
		attrs = append(attrs, "label="+dotString(label))
	}
	if len(attrs) == 0 {
		fmt.Fprintf(d, "    %s -> %s;\n", from, to)
		return
	}
	fmt.Fprintf(d, "    %s -> %s [%s];\n", from, to, strings.Join(attrs, ", "))
}

func (d *dotWriter) endFlow() { d.WriteString("  }\n") }
func (d *dotWriter) end()     { d.WriteString("}\n") }

// dotString quotes s as a DOT string; "\n" becomes DOT's centered line
// break.
func dotString(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}
