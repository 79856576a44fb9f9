package runtime

import (
	"strconv"
	"time"
)

// NodeRun is the outcome of one node in one run.
type NodeRun struct {
	// Name is the node's name; Service the name of the service it calls.
	Name    string
	Service string
	// Type is the service's OPEA type.
	Type ServiceType
	// After lists the node's predecessors, as planned.
	After []string
	// State is whether the node ran, was skipped or failed.
	State NodeState
	// Err is the cause of the node's failure or cancellation, nil when it ran.
	Err error
	// Attempts is the number of calls made to the node's remote service,
	// retries included, and Replica the address of the last one. Both are
	// zero for a node without a remote service or that did not call it.
	Attempts int
	Replica  string
	// Start is the offset from the request's arrival to the node's start;
	// Duration how long it ran. Both are zero for a node that did not run.
	Start    time.Duration
	Duration time.Duration
}

// Graph is the runtime graph of one request: the planned DAG with what
// happened to each node, as OPEA's runtime_graph records which nodes ran.
type Graph struct {
	// Flow is the flow's name.
	Flow string
	// Nodes has one entry per node, in definition order.
	Nodes []NodeRun
	// Output names the node whose result is the response, empty when the
	// flow failed or no node produced one.
	Output string
}

// Node returns the run of the named node.
func (g *Graph) Node(name string) (NodeRun, bool) {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return NodeRun{}, false
}

// Ran returns the names of the nodes that ran, in definition order.
func (g *Graph) Ran() []string {
	var names []string
	for _, n := range g.Nodes {
		if n.State == NodeRan {
			names = append(names, n.Name)
		}
	}
	return names
}

// graph copies the run's outcome into a Graph. Call it only once the run is
// complete, since nodes still running write the fields it reads.
func (rs *runState) graph() *Graph {
	p := rs.plan
	g := &Graph{Flow: p.name, Nodes: make([]NodeRun, len(p.nodes))}
	for i := range p.nodes {
		n := &p.nodes[i]
		g.Nodes[i] = NodeRun{
			Name:     n.Name,
			After:    n.After,
			State:    rs.state[i],
			Err:      rs.errs[i],
			Start:    rs.startAt[i],
			Duration: rs.dur[i],
			Attempts: rs.calls[i].upstreamAttempts,
			Replica:  rs.calls[i].upstreamReplica,
		}
		if n.Service != nil {
			g.Nodes[i].Service = n.Service.Name
			g.Nodes[i].Type = n.Service.Type
		}
	}
	if r := rs.resultNode(); r >= 0 && rs.failure() < 0 {
		g.Output = p.nodes[r].Name
	}
	return g
}

// appendGraphJSON appends the run's graph as compact JSON:
// {"flow":F,"output":N,"nodes":[{"name":N,"state":S,"start_us":T,"duration_us":D,"error":E},...]}.
// Nodes still running when the request ended are reported as "pending"
// without timings, because their fields are not safe to read yet. The
// node whose failure ended the run early is the exception.
func (rs *runState) appendGraphJSON(dst []byte, complete bool) []byte {
	p := rs.plan
	dst = append(dst, `{"flow":`...)
	dst = appendJSONStringS(dst, p.name)
	if complete && rs.failure() < 0 {
		if r := rs.resultNode(); r >= 0 {
			dst = append(dst, `,"output":`...)
			dst = appendJSONStringS(dst, p.nodes[r].Name)
		}
	}
	dst = append(dst, `,"nodes":[`...)
	// The node whose failure ended the run wrote its outcome before it
	// recorded itself in failedNode, so its fields are safe to read even
	// while siblings still run.
	failed := rs.failure()
	for i := range p.nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONStringS(dst, p.nodes[i].Name)
		known := complete || int32(i) == failed
		state := NodePending
		if known {
			state = rs.state[i]
		}
		dst = append(dst, `,"state":"`...)
		dst = append(dst, state.String()...)
		dst = append(dst, '"')
		if state == NodeRan || state == NodeFailed {
			dst = append(dst, `,"start_us":`...)
			dst = strconv.AppendInt(dst, rs.startAt[i].Microseconds(), 10)
			dst = append(dst, `,"duration_us":`...)
			dst = strconv.AppendInt(dst, rs.dur[i].Microseconds(), 10)
		}
		if known && rs.calls[i].upstreamAttempts > 1 {
			// Retries, without the replica's address, which stays in the logs.
			dst = append(dst, `,"attempts":`...)
			dst = strconv.AppendInt(dst, int64(rs.calls[i].upstreamAttempts), 10)
		}
		if known && rs.errs[i] != nil {
			// Only the client-safe message: the cause may name upstream
			// addresses, and this header reaches any client.
			dst = append(dst, `,"error":`...)
			if state == NodeSkipped {
				dst = append(dst, `"not run: the request failed or ended before this node could start"`...)
			} else {
				dst = appendJSONStringS(dst, AsError(rs.errs[i]).Message)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
