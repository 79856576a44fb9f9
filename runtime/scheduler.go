package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// NodeState is the outcome of a node in one run.
type NodeState uint8

const (
	// NodePending: the node has not finished (only seen in a run that
	// ended early).
	NodePending NodeState = iota
	// NodeRan: the node produced an output.
	NodeRan
	// NodeSkipped: a routing decision, or every predecessor being skipped,
	// kept the node from running; or the request ended before it started.
	NodeSkipped
	// NodeFailed: the node's service, executor or hook failed.
	NodeFailed
)

func (s NodeState) String() string {
	switch s {
	case NodeRan:
		return "ran"
	case NodeSkipped:
		return "skipped"
	case NodeFailed:
		return "failed"
	}
	return "pending"
}

// ErrDeadline is the cause recorded when the flow deadline passes.
var ErrDeadline = errors.New("flow deadline exceeded")

// runState is the per-request state of one plan execution. It is pooled
// per plan and reset between requests, so a run through an in-process plan
// allocates nothing. It also serves as the context.Context that nodes
// receive, which avoids a context allocation per request.
//
// Ownership: the request goroutine holds one reference, and every node
// that has not finished holds one. The state returns to the pool when the
// last reference is dropped, which lets a request respond at once when a
// required node fails while its siblings wind down.
type runState struct {
	plan   *Plan
	parent context.Context

	start    time.Time
	deadline time.Time
	input    []byte
	inType   []byte
	params   []byte
	reqID    []byte
	trace    []byte

	pending []atomic.Int32 // predecessors not yet finished, per node
	active  []atomic.Int32 // predecessors that ran and selected the node
	state   []NodeState
	errs    []error
	startAt []time.Duration
	dur     []time.Duration
	calls   []Call
	// selected holds one flag per edge: selected[selOff[i]+k] is true when
	// node i ran and chose its k-th successor.
	selected []bool
	selOff   []int
	// paramBuf is per-node scratch for parameter injection.
	paramBuf [][]byte
	// named and aggBuf are per-node scratch for fan-in.
	named  [][]NamedInput
	aggBuf [][]byte
	// ready[i] lists the successors that node i made ready; only the
	// goroutine finishing node i writes it.
	ready [][]int32

	remaining atomic.Int32
	refs      atomic.Int32
	// failedNode is 1 + the index of the first required node that failed.
	failedNode atomic.Int32
	wake       chan struct{}

	mu       sync.Mutex // guards done, err, running and gen
	gen      uint64     // counts runs, so a late parent-cancel callback can tell it is stale
	done     chan struct{}
	err      error
	running  bool
	canceled atomic.Bool
	timer    *time.Timer
	stopWait func() bool
}

type runStatePool struct {
	plan *Plan
	pool sync.Pool
}

func (p *runStatePool) get() *runState {
	if v := p.pool.Get(); v != nil {
		return v.(*runState)
	}
	return newRunState(p.plan)
}

func (p *runStatePool) put(rs *runState) { p.pool.Put(rs) }

func newRunState(p *Plan) *runState {
	n := len(p.nodes)
	rs := &runState{
		plan:     p,
		pending:  make([]atomic.Int32, n),
		active:   make([]atomic.Int32, n),
		state:    make([]NodeState, n),
		errs:     make([]error, n),
		startAt:  make([]time.Duration, n),
		dur:      make([]time.Duration, n),
		calls:    make([]Call, n),
		selOff:   make([]int, n),
		named:    make([][]NamedInput, n),
		aggBuf:   make([][]byte, n),
		paramBuf: make([][]byte, n),
		ready:    make([][]int32, n),
		wake:     make(chan struct{}, 1),
	}
	edges := 0
	for i := range p.nodes {
		rs.selOff[i] = edges
		edges += len(p.nodes[i].succs)
		rs.calls[i].Node = p.nodes[i].Name
		rs.calls[i].Service = p.nodes[i].Service
		rs.ready[i] = make([]int32, 0, len(p.nodes[i].succs))
		// Room for every predecessor, the request and the parameters.
		rs.named[i] = make([]NamedInput, 0, len(p.nodes[i].preds)+2)
	}
	rs.selected = make([]bool, edges)
	rs.timer = time.AfterFunc(time.Hour, rs.onDeadline)
	rs.timer.Stop()
	return rs
}

// runInput is the request data a run starts from.
type runInput struct {
	body        []byte
	contentType []byte
	requestID   []byte
	traceparent []byte
	// params are the request-level parameters from a RouteAPI, nil for
	// none.
	params []byte
	// deadline bounds the whole flow; zero means none.
	deadline time.Time
}

// startRun takes a run state from the pool, copies in the request and runs
// the start nodes, the first one on the calling goroutine. It returns once
// the flow finished or failed, or the deadline passed; the caller reads the
// result and then calls finishRun.
func (p *Plan) startRun(parent context.Context, in *runInput) *runState {
	rs := p.pool.get()
	rs.prepare(parent, in)
	rs.runReady(p.starts, 0, true)
	<-rs.wake
	return rs
}

func (rs *runState) prepare(parent context.Context, in *runInput) {
	p := rs.plan
	n := len(p.nodes)
	rs.parent = parent
	rs.start = time.Now()
	rs.deadline = in.deadline
	rs.input = append(rs.input[:0], in.body...)
	rs.inType = append(rs.inType[:0], in.contentType...)
	rs.params = append(rs.params[:0], in.params...)
	rs.reqID = append(rs.reqID[:0], in.requestID...)
	rs.trace = append(rs.trace[:0], in.traceparent...)
	for i := range p.nodes {
		rs.pending[i].Store(int32(len(p.nodes[i].preds)))
		rs.active[i].Store(0)
		rs.state[i] = NodePending
		rs.errs[i] = nil
		rs.startAt[i], rs.dur[i] = 0, 0
		c := &rs.calls[i]
		c.reset()
		c.requestID, c.traceparent, c.deadline = rs.reqID, rs.trace, rs.deadline
	}
	clear(rs.selected)
	rs.remaining.Store(int32(n))
	rs.refs.Store(int32(n) + 1)
	rs.failedNode.Store(0)
	rs.canceled.Store(false)

	rs.mu.Lock()
	rs.running = true
	rs.err = nil
	rs.gen++
	gen := rs.gen
	rs.mu.Unlock()
	if !rs.deadline.IsZero() {
		rs.timer.Reset(time.Until(rs.deadline))
	}
	if parent != nil && parent.Done() != nil {
		rs.stopWait = context.AfterFunc(parent, func() { rs.cancelRun(gen, context.Cause(parent)) })
	}
}

// finishRun drops the request goroutine's reference; the state returns to
// the pool once every node has finished too.
func (rs *runState) finishRun() {
	rs.timer.Stop()
	if rs.stopWait != nil {
		rs.stopWait()
		rs.stopWait = nil
	}
	rs.release()
}

func (rs *runState) release() {
	if rs.refs.Add(-1) != 0 {
		return
	}
	for i := range rs.calls {
		// A stream that was never forwarded (the request failed, say)
		// still holds an upstream connection.
		if st := rs.calls[i].stream; st != nil {
			rs.calls[i].stream = nil
			st.close(ErrCanceled)
		}
	}
	rs.mu.Lock()
	rs.running = false
	canceled := rs.err != nil
	rs.mu.Unlock()
	if canceled {
		// A canceled run is not reused. Contexts that executors or plugins
		// derived from it may still watch its Done channel from goroutines
		// of the context package, and read its Err once that channel is
		// closed. A reused state would show them the next request's nil
		// Err, which the context package treats as a fatal bug. Failed and
		// timed-out requests therefore allocate a new run state.
		return
	}
	select {
	case <-rs.wake:
	default:
	}
	rs.parent = nil
	rs.plan.pool.put(rs)
}

// complete reports whether every node finished.
func (rs *runState) complete() bool { return rs.remaining.Load() == 0 }

// failure returns the index of the first required node that failed, or -1.
func (rs *runState) failure() int32 { return rs.failedNode.Load() - 1 }

func (rs *runState) signal() {
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// cancel ends the run early with cause: nodes not yet started are skipped
// and running ones see ctx.Done.
func (rs *runState) cancel(cause error) {
	rs.mu.Lock()
	rs.cancelLocked(cause)
}

// cancelRun is cancel for run number gen only.
func (rs *runState) cancelRun(gen uint64, cause error) {
	rs.mu.Lock()
	if rs.gen != gen {
		rs.mu.Unlock()
		return
	}
	rs.cancelLocked(cause)
}

// cancelLocked is called with rs.mu held and releases it.
func (rs *runState) cancelLocked(cause error) {
	if !rs.running || rs.err != nil {
		rs.mu.Unlock()
		return
	}
	rs.err = cause
	rs.canceled.Store(true)
	if rs.done != nil {
		close(rs.done)
	}
	rs.mu.Unlock()
	rs.signal()
}

func (rs *runState) onDeadline() {
	rs.mu.Lock()
	expired := rs.running && !rs.deadline.IsZero() && !time.Now().Before(rs.deadline)
	rs.mu.Unlock()
	if expired {
		rs.cancel(ErrDeadline)
	}
}

// context.Context, so that nodes see the run's deadline and cancellation.

func (rs *runState) Deadline() (time.Time, bool) { return rs.deadline, !rs.deadline.IsZero() }

func (rs *runState) Done() <-chan struct{} {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.done == nil {
		rs.done = make(chan struct{})
		if rs.err != nil {
			close(rs.done)
		}
	}
	return rs.done
}

func (rs *runState) Err() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.err == nil {
		return nil
	}
	if rs.err == ErrDeadline {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

func (rs *runState) Value(key any) any {
	if rs.parent == nil {
		return nil
	}
	return rs.parent.Value(key)
}

// execFrom runs node i on the calling goroutine, then the nodes it makes
// ready, as runReady decides.
func (rs *runState) execFrom(i int32) {
	ready, now := rs.step(i, time.Since(rs.start))
	rs.runReady(ready, now, false)
}

// maxInlineDepth bounds the nodes queued on one goroutine's stack; past it
// ready nodes go to workers.
const maxInlineDepth = 16

// runReady runs ready nodes. Inline nodes (short executors, and nodes that
// will be skipped) run on this goroutine. A goroutine keeps at most one
// possibly blocking node at a time and hands the others to workers at
// once, so that independent service calls overlap. The request's own
// goroutine (onRequest) keeps one only in a sequential plan. In any other
// plan a sibling may fail while that call is still waiting for its service,
// and the request's goroutine must be free to respond at once. now is the
// offset from the request's start at which the caller finished its last
// node. It is reused as the next node's start time because each clock
// read costs tens of nanoseconds (47 ns measured on this project's 2-vCPU
// test machine).
func (rs *runState) runReady(ready []int32, now time.Duration, onRequest bool) {
	var stack [maxInlineDepth]int32
	top := 0
	mayKeep := !onRequest || rs.plan.sequential
	keptBlocking := int32(-1) // the possibly blocking node on the stack
	push := func(ready []int32) {
		for _, s := range ready {
			switch {
			case top < len(stack)-1 && rs.runsInline(s):
				stack[top] = s
				top++
			case mayKeep && keptBlocking < 0 && top < len(stack):
				// Below the inline nodes, so that those run first: they
				// are short, and may make more service calls ready.
				copy(stack[1:top+1], stack[:top])
				stack[0] = s
				top++
				keptBlocking = s
			default:
				dispatch(rs, s)
			}
		}
	}
	push(ready)
	for top > 0 {
		top--
		if stack[top] == keptBlocking {
			keptBlocking = -1
		}
		ready, now = rs.step(stack[top], now)
		push(ready)
	}
}

// runsInline reports whether ready node s may run on the current goroutine:
// its executor is inline, or it will be skipped without running.
func (rs *runState) runsInline(s int32) bool {
	n := &rs.plan.nodes[s]
	return n.inline || rs.canceled.Load() || (len(n.preds) > 0 && rs.active[s].Load() == 0)
}

// step runs or skips node i, records the outcome, and returns the
// successors it made ready and the time it finished. start is the time it
// may start. Both times are offsets from the request's start.
func (rs *runState) step(i int32, start time.Duration) ([]int32, time.Duration) {
	end := start
	n := &rs.plan.nodes[i]
	switch {
	case rs.canceled.Load():
		rs.state[i] = NodeSkipped
		rs.errs[i] = ErrCanceled
	case len(n.preds) > 0 && rs.active[i].Load() == 0:
		rs.state[i] = NodeSkipped
	default:
		rs.startAt[i] = start
		err := rs.runNode(n, &rs.calls[i])
		end = time.Since(rs.start)
		rs.dur[i] = end - start
		if n.metrics != nil && rs.calls[i].upstreamAttempts > 0 {
			// The node's duration, hooks included, is used as the call's,
			// so the clock is read once per node.
			n.metrics.observe(rs.dur[i].Seconds(), err, rs.calls[i].upstreamAttempts)
		}
		if err == nil {
			rs.state[i] = NodeRan
			err = rs.routeNode(n, &rs.calls[i])
		}
		if err != nil {
			rs.state[i] = NodeFailed
			rs.errs[i] = err
			if !n.optional && rs.failedNode.CompareAndSwap(0, i+1) {
				rs.cancel(err)
			}
		}
	}
	return rs.finishNode(n), end
}

// finishNode releases node n's successors and drops its reference to the
// run. It returns the successors that became ready; the slice stays valid
// after the release because the nodes in it still hold references.
func (rs *runState) finishNode(n *planNode) []int32 {
	ready := rs.ready[n.index][:0]
	ran := rs.state[n.index] == NodeRan
	off := rs.selOff[n.index]
	for k, s := range n.succs {
		if ran && rs.selected[off+k] {
			rs.active[s].Add(1)
		}
		if rs.pending[s].Add(-1) == 0 {
			ready = append(ready, s)
		}
	}
	rs.ready[n.index] = ready
	if rs.remaining.Add(-1) == 0 {
		rs.signal()
	}
	rs.release()
	return ready
}

// errPanic is the cause recorded for a node whose executor or hook
// panicked; the panic value and stack go to the log.
var errPanic = errors.New("panic in a node's executor or hook")

// runNode builds the node's input, runs its hooks and executor, and leaves
// the result in call. A panic fails the node, so a bug in one executor or
// hook fails only its own request.
func (rs *runState) runNode(n *planNode, call *Call) (err error) {
	defer func() {
		if v := recover(); v != nil {
			slog.Error("panic in a flow node; the request fails with 500", "flow", rs.plan.name, "node", n.Name,
				"request_id", string(rs.reqID), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = &Error{Status: 500, Message: "internal error in a flow node", Node: n.Name, Service: serviceName(n), Err: errPanic}
		}
	}()
	return rs.execNode(n, call)
}

// execNode is runNode without the panic guard.
func (rs *runState) execNode(n *planNode, call *Call) error {
	if n.sentenceStream {
		if pred := &rs.calls[n.preds[0]]; pred.stream != nil {
			// The service is called per sentence while the server
			// forwards the stream.
			call.stream, pred.stream = pred.stream, nil
			call.sentences = true
			call.SetOutputType(eventStreamType)
			return nil
		}
	}
	if err := rs.buildInput(n, call); err != nil {
		return err
	}
	if n.Params != nil && len(rs.params) > 0 {
		in, err := n.Params(call.Input, rs.params, rs.paramBuf[n.index][:0])
		if err != nil {
			return &Error{Status: 400, Message: "request parameters do not fit the node's input", Node: n.Name, Service: serviceName(n), Err: err}
		}
		rs.paramBuf[n.index] = in
		call.Input = in
	}
	if n.Request != nil {
		if err := n.Request.ShapeRequest(rs, call); err != nil {
			return hookError(err, n, n.RequestName, "request")
		}
	}
	if !call.shortCircuit {
		var err error
		if up, ok := n.Exec.(*Upstream); ok && n.streamable {
			err = up.executeStream(rs, call)
		} else {
			err = n.Exec.Execute(rs, call)
		}
		if err != nil {
			return executorError(err, n)
		}
	}
	if n.Response != nil && call.stream == nil {
		if err := n.Response.ShapeResponse(rs, call); err != nil {
			return hookError(err, n, n.ResponseName, "response")
		}
	}
	return nil
}

// buildInput sets call.Input: the request for a start node, the one input
// that is there (a predecessor that ran, the request or the parameters), or
// the fan-in of several.
func (rs *runState) buildInput(n *planNode, call *Call) error {
	if len(n.preds) == 0 && !n.takesParams {
		call.Input, call.InputType = rs.input, rs.inType
		return nil
	}
	named := rs.named[n.index][:0]
	if n.takesRequest {
		named = append(named, NamedInput{Name: RequestInput, Data: rs.input, ContentType: rs.inType})
	}
	if n.takesParams {
		params := rs.params
		if len(params) == 0 {
			params = emptyParams
		}
		named = append(named, NamedInput{Name: ParamsInput, Data: params, ContentType: jsonType})
	}
	for _, p := range n.preds {
		if rs.state[p] != NodeRan || !rs.selected[rs.selOff[p]+rs.plan.nodes[p].succIndex(n.index)] {
			continue
		}
		last := &rs.calls[p]
		named = append(named, NamedInput{Name: rs.plan.nodes[p].Name, Data: last.Output, ContentType: last.OutputType})
	}
	rs.named[n.index] = named
	switch len(named) {
	case 0: // not reached: a node whose predecessors all skipped it is skipped
		call.Input, call.InputType = nil, nil
		return nil
	case 1:
		call.Input, call.InputType = named[0].Data, named[0].ContentType
		return nil
	}
	var err error
	buf := rs.aggBuf[n.index][:0]
	if n.Aggregate != nil {
		buf, err = n.Aggregate.Aggregate(rs, named, buf)
		if err != nil {
			return hookError(err, n, n.AggregateName, "aggregate")
		}
	} else {
		buf = appendKeyedJSON(buf, named)
	}
	rs.aggBuf[n.index] = buf
	call.Input, call.InputType = buf, jsonType
	return nil
}

var (
	jsonType = []byte("application/json")
	// emptyParams is the ParamsInput of a request without parameters.
	emptyParams = []byte("{}")
)

// succIndex returns the position of node s among n's successors.
func (n *planNode) succIndex(s int32) int {
	for k, x := range n.succs {
		if x == s {
			return k
		}
	}
	return -1
}

// appendKeyedJSON appends {"name": output, ...}, which is always valid JSON
// and loses nothing: an output that is JSON is embedded as is, text (valid
// UTF-8) as a JSON string, and anything else, such as audio or an image,
// as {"base64": "...", "content_type": "..."}.
func appendKeyedJSON(dst []byte, inputs []NamedInput) []byte {
	dst = append(dst, '{')
	for k, in := range inputs {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONStringS(dst, in.Name)
		dst = append(dst, ':')
		switch {
		case len(in.Data) > 0 && json.Valid(in.Data):
			dst = append(dst, in.Data...)
		case utf8.Valid(in.Data):
			dst = appendJSONString(dst, in.Data)
		default:
			dst = append(dst, `{"base64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, in.Data)
			dst = append(dst, `","content_type":`...)
			dst = appendJSONString(dst, in.ContentType)
			dst = append(dst, '}')
		}
	}
	return append(dst, '}')
}

var blackListKey = []byte(`"downstream_black_list"`)

// routeNode decides which successors of a node that ran are selected: all
// of them, minus those a Router deselects or that match an OPEA
// downstream_black_list in the output.
func (rs *runState) routeNode(n *planNode, call *Call) error {
	if len(n.succs) == 0 {
		return nil
	}
	sel := rs.selected[rs.selOff[n.index] : rs.selOff[n.index]+len(n.succs)]
	for k := range sel {
		sel[k] = true
	}
	if n.Route != nil {
		if err := n.Route.Route(rs, call.Output, n.succNames, sel); err != nil {
			return hookError(err, n, n.RouteName, "route")
		}
	}
	if bytes.Contains(call.Output, blackListKey) {
		applyBlackList(call.Output, n.succNames, sel)
	}
	return nil
}

// applyBlackList follows OPEA's convention: an output object whose
// "downstream_black_list" holds regular expressions skips every successor
// whose name any of them matches (unanchored, as Python's re.findall).
// An unparsable list is ignored, as OPEA ignores a non-dict response.
func applyBlackList(output []byte, succNames []string, sel []bool) {
	var v struct {
		List []string `json:"downstream_black_list"`
	}
	if json.Unmarshal(output, &v) != nil {
		return
	}
	for _, pattern := range v.List {
		re, err := regexp.Compile(pattern)
		if err != nil {
			continue
		}
		for k, name := range succNames {
			if re.MatchString(name) {
				sel[k] = false
			}
		}
	}
}

func hookError(err error, n *planNode, plugin, kind string) error {
	var e *Error
	if errors.As(err, &e) {
		if e.Node == "" {
			e.Node = n.Name
		}
		if e.Plugin == "" {
			e.Plugin = plugin
		}
		return e
	}
	return &Error{Status: 500, Message: kind + " hook failed", Plugin: plugin, Node: n.Name, Service: serviceName(n), Err: err}
}

func executorError(err error, n *planNode) error {
	var e *Error
	if errors.As(err, &e) {
		if e.Node == "" {
			e.Node = n.Name
		}
		if e.Service == "" {
			e.Service = serviceName(n)
		}
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDeadline) {
		return &Error{Status: 504, Message: "service timed out", Service: serviceName(n), Node: n.Name, Err: err}
	}
	return &Error{Status: 502, Message: "service failed", Service: serviceName(n), Node: n.Name, Err: err}
}

func serviceName(n *planNode) string {
	if n.Service != nil {
		return n.Service.Name
	}
	return ""
}

// resultNode returns the node whose output is the response: the output
// node when it ran, else the last node that ran on the way to it. That is
// the runtime leaf among its ancestors latest in topological order, as OPEA
// responds with the last node left in its runtime graph. It returns -1
// when no such node ran.
func (rs *runState) resultNode() int32 {
	p := rs.plan
	if rs.state[p.output] == NodeRan {
		return p.output
	}
	for k := len(p.topo) - 1; k >= 0; k-- {
		i := p.topo[k]
		if p.ancestorsOfOutput[i] && rs.state[i] == NodeRan {
			return i
		}
	}
	return -1
}
