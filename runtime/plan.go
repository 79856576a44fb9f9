package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/megaflow/megaflow/internal/dag"
	"github.com/megaflow/megaflow/internal/suggest"
)

// RequestInput is the name a node lists in After to receive the client's
// request beside its predecessors' outputs, as a named input of its fan-in
// (OPEA's align_inputs receives the initial inputs the same way). A node whose
// After names only RequestInput is a start node.
const RequestInput = "request"

// ParamsInput is the name a node lists in After to receive the request's
// parameters (see RouteAPI) as a named input of its fan-in: a JSON object
// such as {"llm": {...}, "retriever": {...}, "rerank": {...}}, or {} when
// the route has no API. Like RequestInput, it adds no edge.
const ParamsInput = "params"

// FlowSpec describes a flow (a DAG of nodes) before compilation.
type FlowSpec struct {
	// Name is the flow's name, used in errors and metrics.
	Name string
	// Nodes lists the nodes; order matters only as a tie-breaker.
	Nodes []NodeSpec
	// Output names the node whose result is the flow's response. Empty
	// means the only leaf; a flow with several leaves must set it.
	Output string
}

// NodeSpec is one node of a FlowSpec.
type NodeSpec struct {
	// Name identifies the node within the flow. Empty means the service's
	// name, so a service used twice needs a name on at least one node.
	Name string
	// Service is the service the node calls. It needs a Handler, or an
	// Executor in Exec when it is remote.
	Service *MicroService
	// Exec runs the node. Nil means Service.Handler for a local service;
	// remote services get their upstream client from the caller that
	// compiles the plan.
	Exec Executor
	// After names the node's predecessors. Empty makes it a start node that
	// receives the client's request. RequestInput and ParamsInput among
	// them add the client's request and its parameters to the node's fan-in.
	After []string
	// Optional lets the flow go on when the node fails. When unset, the
	// service's Optional applies.
	Optional bool

	// Hooks; nil means none. Aggregate is used only when two or more
	// predecessors ran; without it the input is a JSON object keyed by
	// predecessor name.
	Request   RequestShaper
	Response  ResponseShaper
	Events    EventShaper
	Aggregate Aggregator
	Route     Router
	// StreamSentences makes the node post-process its streaming
	// predecessor's output as it arrives: each sentence is sent to the
	// node's service as {"text": SENTENCE} and the replies are streamed to
	// the client. Only the output node may set it, with exactly one
	// predecessor, whose service streams.
	StreamSentences bool
	// Params adds the request's parameters to the node's input, such as
	// max_tokens for an LLM or k for a retriever. Nil means none.
	Params ParamInjector
	// Hook names, for graphs and error messages.
	RequestName, ResponseName, EventsName, AggregateName, RouteName string
}

// Plan is a compiled, immutable flow. It is safe for concurrent use by any
// number of requests.
type Plan struct {
	name   string
	nodes  []planNode
	starts []int32
	output int32
	// sequential is true when the plan has one start node and no node has
	// several successors, so no two nodes ever run at the same time.
	sequential bool
	// topo lists node indexes in a topological order.
	topo []int32
	// ancestorsOfOutput[i] is true when node i is the output node or one of
	// its ancestors.
	ancestorsOfOutput []bool
	// pool holds reusable run states for this plan.
	pool runStatePool
}

type planNode struct {
	NodeSpec
	index    int32
	optional bool
	// takesRequest is true when After lists RequestInput, and takesParams
	// when it lists ParamsInput.
	takesRequest bool
	takesParams  bool
	// inline is true when the executor declares itself short and
	// non-blocking (InlineExecutor); the declaration is trusted.
	inline bool
	// metrics counts the node's service calls; nil for a node without a
	// service.
	metrics *serviceMetrics
	// streamable is true for the output node of a streaming service, or
	// the predecessor of a StreamSentences output node: its
	// text/event-stream response is passed on as it arrives.
	streamable bool
	// sentenceStream is true for a StreamSentences output node.
	sentenceStream bool
	preds          []int32
	succs          []int32
	// succNames lists successor names in succs order, for routers.
	succNames []string
	// predPos maps a predecessor index to its position in preds.
	predPos map[int32]int
}

// ReservedInput describes name when After uses it for something other
// than a node (RequestInput and ParamsInput), and returns "" otherwise.
func ReservedInput(name string) string {
	switch name {
	case RequestInput:
		return "request"
	case ParamsInput:
		return "request parameters"
	}
	return ""
}

// pseudoInput returns the flag that records name in n's After when name is
// RequestInput or ParamsInput, and nil for a node's name.
func (n *planNode) pseudoInput(name string) *bool {
	switch name {
	case RequestInput:
		return &n.takesRequest
	case ParamsInput:
		return &n.takesParams
	}
	return nil
}

// Name returns the flow's name.
func (p *Plan) Name() string { return p.name }

// NodeNames returns the node names in definition order.
func (p *Plan) NodeNames() []string {
	names := make([]string, len(p.nodes))
	for i := range p.nodes {
		names[i] = p.nodes[i].Name
	}
	return names
}

// Output returns the name of the output node.
func (p *Plan) Output() string { return p.nodes[p.output].Name }

// PlanError is a flow that cannot be compiled. Problems lists every problem
// found, each a complete sentence.
type PlanError struct {
	Flow     string
	Problems []string
}

func (e *PlanError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("flow %q: %s", e.Flow, e.Problems[0])
	}
	return fmt.Sprintf("flow %q: %d problems: %s", e.Flow, len(e.Problems), strings.Join(e.Problems, "; "))
}

// CompilePlan validates spec and compiles it into a Plan. All problems are
// reported at once in a *PlanError: a node without a service, duplicate
// node names, an unknown predecessor, a cycle (printed as a path such as
// a → b → c → a), nodes unreachable from any start node, an unknown output
// node, and several leaves with no output chosen.
func CompilePlan(spec FlowSpec) (*Plan, error) {
	perr := &PlanError{Flow: spec.Name}
	if len(spec.Nodes) == 0 {
		perr.Problems = append(perr.Problems, "has no nodes; add at least one node")
		return nil, perr
	}

	p := &Plan{name: spec.Name, nodes: make([]planNode, len(spec.Nodes)), output: -1}
	byName := make(map[string]int32, len(spec.Nodes))
	for i, ns := range spec.Nodes {
		n := &p.nodes[i]
		n.NodeSpec = ns
		n.index = int32(i)
		if n.Name == "" && ns.Service != nil {
			n.Name = ns.Service.Name
		}
		n.optional = ns.Optional || (ns.Service != nil && ns.Service.Optional)
		if n.Exec == nil && ns.Service != nil && ns.Service.Handler != nil && !ns.Service.Remote {
			n.Exec = ns.Service.Handler
		}
		if _, remote := n.Exec.(*Upstream); remote {
			n.metrics = newServiceMetrics(ns.Service.Name)
		}
		if ie, ok := n.Exec.(InlineExecutor); ok && ie.RunsInline() {
			n.inline = true
		}
		switch {
		case n.Name == "":
			perr.add("node %d has neither a name nor a service", i+1)
			continue
		case ns.Service == nil:
			perr.add("node %q has no service", n.Name)
		case n.Exec == nil:
			perr.add("node %q: service %q has no executor; set a Handler for a local service or compile the plan with an upstream client", n.Name, ns.Service.Name)
		}
		if desc := ReservedInput(n.Name); desc != "" {
			perr.add("node name %q is reserved for the client's %s; give the node another name", n.Name, desc)
			continue
		}
		if _, dup := byName[n.Name]; dup {
			perr.add("node %q is defined twice; give one of them a distinct name", n.Name)
			continue
		}
		byName[n.Name] = int32(i)
	}

	for i := range p.nodes {
		n := &p.nodes[i]
		n.predPos = make(map[int32]int, len(n.After))
		for _, pred := range n.After {
			if flag := n.pseudoInput(pred); flag != nil {
				if *flag {
					perr.add("node %q lists predecessor %q twice", n.Name, pred)
				}
				*flag = true
				continue
			}
			j, ok := byName[pred]
			switch {
			case !ok:
				perr.add("node %q comes after unknown node %q%s", n.Name, pred, suggest.Hint(pred, keys(byName)))
				continue
			case j == int32(i):
				perr.add("node %q comes after itself; a cycle: %s → %s", n.Name, n.Name, n.Name)
				continue
			}
			if _, dup := n.predPos[j]; dup {
				perr.add("node %q lists predecessor %q twice", n.Name, pred)
				continue
			}
			n.predPos[j] = len(n.preds)
			n.preds = append(n.preds, j)
			p.nodes[j].succs = append(p.nodes[j].succs, int32(i))
			p.nodes[j].succNames = append(p.nodes[j].succNames, n.Name)
		}
		if len(n.preds) == 0 && n.Name != "" {
			p.starts = append(p.starts, int32(i))
		}
	}

	p.sequential = len(p.starts) == 1
	for i := range p.nodes {
		if len(p.nodes[i].succs) > 1 {
			p.sequential = false
		}
	}

	if cycle := findCycle(p.nodes); cycle != nil {
		perr.add("has a cycle: %s", strings.Join(cycle, " → "))
	} else {
		p.topo = topoOrder(p.nodes)
	}
	if len(p.starts) == 0 && len(p.nodes) > 0 {
		perr.add("has no start node; at least one node must have no \"after\"")
	}
	reach := reachable(p.nodes, p.starts)
	for i := range p.nodes {
		if !reach[i] && p.nodes[i].Name != "" {
			perr.add("node %q is unreachable from any start node", p.nodes[i].Name)
		}
	}

	var leaves []string
	for i := range p.nodes {
		if len(p.nodes[i].succs) == 0 {
			leaves = append(leaves, p.nodes[i].Name)
		}
	}
	switch {
	case spec.Output != "":
		j, ok := byName[spec.Output]
		if !ok {
			perr.add("output names unknown node %q%s", spec.Output, suggest.Hint(spec.Output, keys(byName)))
		}
		p.output = j
	case len(leaves) == 1:
		p.output = byName[leaves[0]]
	case len(leaves) > 1:
		perr.add("has %d leaves (%s) and no output; set output to the node whose result is the response", len(leaves), strings.Join(leaves, ", "))
	}

	if len(perr.Problems) > 0 {
		return nil, perr
	}
	out := &p.nodes[p.output]
	out.streamable = out.Service != nil && out.Service.Stream
	for i := range p.nodes {
		n := &p.nodes[i]
		if !n.StreamSentences {
			continue
		}
		switch {
		case n != out:
			perr.add("node %q sets stream_sentences but is not the output node; only the flow's answer can be streamed", n.Name)
		case len(n.preds) != 1 || p.nodes[n.preds[0]].Service == nil || !p.nodes[n.preds[0]].Service.Stream:
			perr.add("node %q sets stream_sentences; it needs exactly one predecessor, whose service has stream = true", n.Name)
		default:
			n.sentenceStream, n.streamable = true, false
			p.nodes[n.preds[0]].streamable = true
		}
	}
	if len(perr.Problems) > 0 {
		return nil, perr
	}
	p.ancestorsOfOutput = make([]bool, len(p.nodes))
	markAncestors(p.nodes, p.output, p.ancestorsOfOutput)
	p.pool.plan = p
	return p, nil
}

func (e *PlanError) add(format string, args ...any) {
	e.Problems = append(e.Problems, fmt.Sprintf(format, args...))
}

// findCycle returns the node names of one cycle, first name repeated at the
// end, or nil when the graph is acyclic. Self-loops are reported elsewhere.
func findCycle(nodes []planNode) []string {
	cycle := dag.FindCycle(len(nodes), func(i int) []int32 { return nodes[i].succs })
	if cycle == nil {
		return nil
	}
	names := make([]string, len(cycle))
	for k, i := range cycle {
		names[k] = nodes[i].Name
	}
	return names
}

// topoOrder returns node indexes so that every node comes after its
// predecessors, ties kept in definition order (Kahn's algorithm).
func topoOrder(nodes []planNode) []int32 {
	indeg := make([]int, len(nodes))
	for i := range nodes {
		indeg[i] = len(nodes[i].preds)
	}
	order := make([]int32, 0, len(nodes))
	for i := range nodes {
		if indeg[i] == 0 {
			order = append(order, int32(i))
		}
	}
	for k := 0; k < len(order); k++ {
		for _, s := range nodes[order[k]].succs {
			indeg[s]--
			if indeg[s] == 0 {
				order = append(order, s)
			}
		}
	}
	return order
}

func reachable(nodes []planNode, starts []int32) []bool {
	seen := make([]bool, len(nodes))
	queue := append([]int32(nil), starts...)
	for _, s := range starts {
		seen[s] = true
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, s := range nodes[i].succs {
			if !seen[s] {
				seen[s] = true
				queue = append(queue, s)
			}
		}
	}
	return seen
}

func markAncestors(nodes []planNode, i int32, mark []bool) {
	if mark[i] {
		return
	}
	mark[i] = true
	for _, p := range nodes[i].preds {
		markAncestors(nodes, p, mark)
	}
}

func keys(m map[string]int32) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
