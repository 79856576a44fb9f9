package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/megaflow/megaflow/internal/dag"
	"github.com/megaflow/megaflow/runtime"
)

// hookKeys lists a node's plugin keys and what each plugin does there.
var hookKeys = []string{"request", "response", "events", "aggregate", "route"}

func (n *Node) hook(key string) string {
	switch key {
	case "request":
		return n.Request
	case "response":
		return n.Response
	case "events":
		return n.Events
	case "aggregate":
		return n.Aggregate
	case "route":
		return n.Route
	}
	return ""
}

// flow checks one flow's nodes and edges. Each problem is placed on the
// key that causes it: a node's service or after entry, or the flow's
// output.
func (v *validator) flow(name string) {
	fl := v.f.Flows[name]
	base := []string{"flows", name}
	v.validName("flow", name, base)
	if len(fl.Nodes) == 0 {
		v.add(base, "flow %q has no nodes; add a [[flows.%s.nodes]] table with a service", name, name)
		return
	}
	index := v.flowNodes(name, fl)
	succs, edgesOK := v.flowEdges(name, fl, index)
	cycle := findCycle(fl.Nodes, succs)
	if cycle != nil {
		first := index[cycle[0]]
		v.add(nodePath(name, first, "after"), "flow %q has a cycle: %s; remove one of these \"after\" entries", name, strings.Join(cycle, " → "))
	}
	v.flowHooks(name, fl, succs)
	unique := len(index) == len(fl.Nodes)
	v.flowOutput(name, fl, index, succs, unique && edgesOK && cycle == nil)
}

func nodePath(flow string, i int, keys ...string) []string {
	return appendPath([]string{"flows", flow, "nodes", strconv.Itoa(i)}, keys...)
}

// flowNodes checks each node's names and returns the index of every
// uniquely named node.
func (v *validator) flowNodes(flow string, fl Flow) map[string]int {
	index := map[string]int{}
	for i, n := range fl.Nodes {
		owner := nodeLabel(flow, i, n)
		switch _, ok := v.f.Services[n.Service]; {
		case n.Service == "":
			v.add(nodePath(flow, i), "%s has no service; set service to one of the [services.NAME] tables", owner)
		case !ok:
			v.add(nodePath(flow, i, "service"), "%s: service %q is not defined%s", owner, n.Service, choices(n.Service, sortedKeys(v.f.Services), "services"))
		}
		if n.Name != "" {
			v.validName("node", n.Name, nodePath(flow, i, "name"))
		}
		name := n.NodeName()
		if name == "" {
			continue
		}
		if desc := runtime.ReservedInput(name); desc != "" {
			key := "service"
			if n.Name != "" {
				key = "name"
			}
			fix := `set name = "..." to another name`
			if fl.Chain != "" {
				// A chain names each node after its service.
				fix = fmt.Sprintf("rename [services.%s]", name)
			}
			v.add(nodePath(flow, i, key), "%s: the node name %q is reserved for the client's %s in after; %s", owner, name, desc, fix)
			continue
		}
		if first, dup := index[name]; dup {
			key := "service"
			if n.Name != "" {
				key = "name"
			}
			v.add(nodePath(flow, i, key), "flow %q: node name %q is used twice, first at line %d; give one of them a distinct name = \"...\"", flow, name, v.at(nodePath(flow, first)...).Line)
			continue
		}
		index[name] = i
		for _, key := range hookKeys {
			if p := n.hook(key); p != "" {
				if _, ok := v.f.Plugins[p]; !ok {
					v.add(nodePath(flow, i, key), "%s: %s plugin %q is not defined%s", owner, key, p, choices(p, sortedKeys(v.f.Plugins), "plugins"))
				}
			}
		}
	}
	return index
}

// flowEdges checks every after entry and returns each node's successors.
// ok is false when an entry was rejected, so leaves are not trustworthy.
func (v *validator) flowEdges(flow string, fl Flow, index map[string]int) (succs [][]int, ok bool) {
	succs = make([][]int, len(fl.Nodes))
	ok = true
	for i, n := range fl.Nodes {
		if index[n.NodeName()] != i {
			continue // a duplicate name, already reported
		}
		owner := nodeLabel(flow, i, n)
		var seen []string
		for k, pred := range n.After {
			path := nodePath(flow, i, "after", strconv.Itoa(k))
			j, known := index[pred]
			switch {
			case runtime.ReservedInput(pred) != "" && !slices.Contains(seen, pred):
				// The client's request or its parameters, not a node: no edge.
				seen = append(seen, pred)
				continue
			case pred == n.NodeName():
				v.add(path, "%s comes after itself, a cycle: %s → %s; remove %q from after", owner, pred, pred, pred)
			case !known:
				v.add(path, "%s: after names unknown node %q%s", owner, pred, choices(pred, sortedKeys(index), "nodes of this flow"))
			case slices.Contains(seen, pred):
				v.add(path, "%s: after lists %q twice; remove the copy", owner, pred)
			default:
				seen = append(seen, pred)
				succs[j] = append(succs[j], i)
				continue
			}
			ok = false
		}
	}
	return succs, ok
}

// flowHooks rejects plugins that could never run where they are placed.
func (v *validator) flowHooks(flow string, fl Flow, succs [][]int) {
	for i, n := range fl.Nodes {
		owner := nodeLabel(flow, i, n)
		// NOTE: an aggregate plugin on a node with one predecessor is
		// accepted, as users write it for ChatQnA's llm node, although the
		// scheduler calls aggregate only when two or more predecessors ran.
		if n.Route != "" && len(succs[i]) == 0 {
			v.add(nodePath(flow, i, "route"), "%s: route %q would never run, because it picks which successors run and no node comes after this one; remove route or add successors", owner, n.Route)
		}
		if svc, ok := v.f.Services[n.Service]; ok && n.Events != "" && !svc.Stream {
			v.add(nodePath(flow, i, "events"), "%s: events %q would never run, because it rewrites streamed events and service %q has stream = false; set stream = true on the service or remove events", owner, n.Events, n.Service)
		}
	}
}

func (v *validator) flowOutput(flow string, fl Flow, index map[string]int, succs [][]int, edgesOK bool) {
	if fl.Output != "" {
		if _, ok := index[fl.Output]; !ok {
			v.add([]string{"flows", flow, "output"}, "flow %q: output names unknown node %q%s", flow, fl.Output, choices(fl.Output, sortedKeys(index), "nodes of this flow"))
		}
		return
	}
	if !edgesOK {
		return
	}
	var leaves []string
	for i, n := range fl.Nodes {
		if len(succs[i]) == 0 {
			leaves = append(leaves, n.NodeName())
		}
	}
	if len(leaves) > 1 {
		v.add([]string{"flows", flow}, "flow %q has %d leaves (%s) and no output; set output to the node whose result is the response", flow, len(leaves), strings.Join(leaves, ", "))
	}
}

// choices returns a "did you mean" for a near miss, else the list of the
// known names, which the message calls kind ("services").
func choices(name string, known []string, kind string) string {
	if s := suggestion(name, known); s != "" {
		return s
	}
	if len(known) == 0 {
		return fmt.Sprintf("; the file defines no %s", kind)
	}
	return fmt.Sprintf("; the %s are %s", kind, strings.Join(known, ", "))
}

// findCycle returns the node names along one cycle, the first repeated at
// the end (a → b → a), or nil when the flow is acyclic. Self-loops are
// reported by flowEdges and never enter succs.
func findCycle(nodes []Node, succs [][]int) []string {
	cycle := dag.FindCycle(len(nodes), func(i int) []int { return succs[i] })
	if cycle == nil {
		return nil
	}
	names := make([]string, len(cycle))
	for k, i := range cycle {
		names[k] = nodes[i].NodeName()
	}
	return names
}
