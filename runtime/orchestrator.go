package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Orchestrator builds and runs one megaservice in Go code, with the shape
// of OPEA's ServiceOrchestrator: Add services, connect them with FlowTo,
// then Schedule requests through the DAG.
//
// Add and FlowTo may be called at any time; the flow is compiled into a
// Plan on the next Schedule. All methods are safe for concurrent use.
type Orchestrator struct {
	// Name names the flow in errors and graphs. Empty means "megaservice".
	Name string
	// RequestTimeout bounds a whole Schedule call. Zero means no deadline
	// beyond the context's and each service's own timeout.
	RequestTimeout time.Duration
	// Output names the service whose result is the flow's response. Empty
	// means the only leaf; a flow with several leaves must set it. Set it
	// before the first Schedule.
	Output string

	mu        sync.Mutex
	services  map[string]*MicroService
	order     []string
	after     map[string][]string
	upstreams map[string]*Upstream
	plan      *Plan
}

// NewOrchestrator returns an empty orchestrator.
func NewOrchestrator() *Orchestrator {
	return &Orchestrator{
		services:  map[string]*MicroService{},
		after:     map[string][]string{},
		upstreams: map[string]*Upstream{},
	}
}

// Add registers a service as a node of the flow. A remote service gets a
// pooled HTTP client here. It fails on a duplicate name, an invalid URL or
// a local service without a Handler.
func (o *Orchestrator) Add(svc *MicroService) error {
	if svc == nil || svc.Name == "" {
		return errors.New("add: the service needs a name")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.services[svc.Name]; dup {
		return fmt.Errorf("add: a service named %q was already added", svc.Name)
	}
	if svc.Remote || svc.Handler == nil {
		up, err := NewUpstream(svc, UpstreamOptions{})
		if err != nil {
			return fmt.Errorf("add: %w", err)
		}
		o.upstreams[svc.Name] = up
	}
	o.services[svc.Name] = svc
	o.order = append(o.order, svc.Name)
	o.plan = nil
	return nil
}

// FlowTo makes to run after from, so that from's output feeds to. Both
// must have been added. An edge that would close a cycle is rejected with
// the cycle's path, and the flow is left unchanged.
func (o *Orchestrator) FlowTo(from, to *MicroService) error {
	if from == nil || to == nil {
		return errors.New("flow_to: both services are required")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range []*MicroService{from, to} {
		if _, ok := o.services[s.Name]; !ok {
			return fmt.Errorf("flow_to: service %q was not added; call Add first", s.Name)
		}
	}
	if slices.Contains(o.after[to.Name], from.Name) {
		return nil
	}
	if path := o.pathLocked(to.Name, from.Name); path != nil {
		cycle := append([]string{from.Name}, path...)
		return fmt.Errorf("flow_to: %s → %s would close a cycle: %s", from.Name, to.Name, strings.Join(cycle, " → "))
	}
	o.after[to.Name] = append(o.after[to.Name], from.Name)
	o.plan = nil
	return nil
}

// pathLocked returns the nodes on a path src → … → dst following existing
// edges, or nil when there is none.
func (o *Orchestrator) pathLocked(src, dst string) []string {
	succs := map[string][]string{}
	for to, froms := range o.after {
		for _, f := range froms {
			succs[f] = append(succs[f], to)
		}
	}
	var walk func(n string, seen map[string]bool) []string
	walk = func(n string, seen map[string]bool) []string {
		if n == dst {
			return []string{n}
		}
		seen[n] = true
		for _, s := range succs[n] {
			if !seen[s] {
				if rest := walk(s, seen); rest != nil {
					return append([]string{n}, rest...)
				}
			}
		}
		return nil
	}
	return walk(src, map[string]bool{})
}

// Plan compiles the flow, or returns the plan compiled earlier when nothing
// changed since.
func (o *Orchestrator) Plan() (*Plan, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.plan != nil {
		return o.plan, nil
	}
	name := o.Name
	if name == "" {
		name = "megaservice"
	}
	spec := FlowSpec{Name: name, Output: o.Output}
	for _, n := range o.order {
		ns := NodeSpec{Service: o.services[n], After: o.after[n]}
		if up := o.upstreams[n]; up != nil {
			ns.Exec = up
		}
		spec.Nodes = append(spec.Nodes, ns)
	}
	p, err := CompilePlan(spec)
	if err != nil {
		return nil, err
	}
	o.plan = p
	return p, nil
}

// Request is one input to Schedule.
type Request struct {
	// Body is the start nodes' input.
	Body []byte
	// ContentType is Body's media type. Empty means application/json when
	// Body is valid JSON and application/octet-stream otherwise.
	ContentType string
	// RequestID is sent upstream as X-Request-Id. Empty means a new one.
	RequestID string
}

// Schedule runs the flow once with input as the start nodes' request and
// waits for every node to finish. It returns the results of the nodes that
// ran, the runtime graph, and the error of the first required node that
// failed (an *Error), if any; results and graph are returned in both cases.
func (o *Orchestrator) Schedule(ctx context.Context, input []byte) (*Results, *Graph, error) {
	return o.ScheduleRequest(ctx, &Request{Body: input})
}

// ScheduleRequest is Schedule with a content type and request ID.
func (o *Orchestrator) ScheduleRequest(ctx context.Context, req *Request) (*Results, *Graph, error) {
	p, err := o.Plan()
	if err != nil {
		return nil, nil, err
	}
	in := runInput{body: req.Body, contentType: []byte(req.ContentType), requestID: []byte(req.RequestID)}
	if len(in.contentType) == 0 {
		in.contentType = []byte("application/octet-stream")
		if json.Valid(req.Body) {
			in.contentType = jsonType
		}
	}
	if len(in.requestID) == 0 {
		in.requestID = newRequestID(nil)
	}
	in.traceparent = newTraceparent(nil)
	if d, ok := ctx.Deadline(); ok {
		in.deadline = d
	}
	if o.RequestTimeout > 0 {
		if d := time.Now().Add(o.RequestTimeout); in.deadline.IsZero() || d.Before(in.deadline) {
			in.deadline = d
		}
	}
	return p.schedule(ctx, &in)
}

// schedule runs the plan, waits for every node and copies the outcome out
// of the pooled run state.
func (p *Plan) schedule(ctx context.Context, in *runInput) (*Results, *Graph, error) {
	rs := p.startRun(ctx, in)
	for !rs.complete() {
		<-rs.wake
	}
	res := &Results{byName: map[string]Result{}}
	for i := range p.nodes {
		if rs.state[i] == NodeRan {
			c := &rs.calls[i]
			c.drainStream()
			res.byName[p.nodes[i].Name] = Result{Body: slices.Clone(c.Output), ContentType: string(c.OutputType)}
		}
	}
	g := rs.graph()
	res.output = g.Output
	var runErr error
	if f := rs.failure(); f >= 0 {
		runErr = rs.errs[f]
	} else if err := rs.Err(); err != nil && g.Output == "" {
		runErr = &Error{Status: 504, Message: "flow deadline exceeded", Err: err}
	}
	rs.finishRun()
	return res, g, runErr
}

// Result is one node's output.
type Result struct {
	Body        []byte
	ContentType string
}

// Results holds the outputs of the nodes that ran, keyed by node name (the
// service name unless the node has its own). A node that failed or did not
// run has no entry.
type Results struct {
	byName map[string]Result
	output string
}

// Get returns the named node's output and whether it ran.
func (r *Results) Get(name string) ([]byte, bool) {
	v, ok := r.byName[name]
	return v.Body, ok
}

// Result returns the named node's output with its content type.
func (r *Results) Result(name string) (Result, bool) {
	v, ok := r.byName[name]
	return v, ok
}

// Names returns the names of the nodes that ran, sorted.
func (r *Results) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Output returns the flow's response: the output node's result, or the last
// node that ran on the way to it when routing skipped it.
func (r *Results) Output() (Result, bool) {
	if r.output == "" {
		return Result{}, false
	}
	return r.Result(r.output)
}

// Close releases the orchestrator's upstream clients.
func (o *Orchestrator) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, up := range o.upstreams {
		up.Close()
	}
	return nil
}
