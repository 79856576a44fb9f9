package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// tagService responds with {"by":NAME,"in":INPUT} after delay, embedding a JSON
// input as is and anything else as a string.
func tagService(name string, delay time.Duration) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		time.Sleep(delay)
		in := ctx.Request.Body()
		out := appendJSONStringS([]byte(`{"by":`), name)
		out = append(out, `,"in":`...)
		if json.Valid(in) && len(in) > 0 {
			out = append(out, in...)
		} else {
			out = appendJSONString(out, in)
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(append(out, '}'))
	}
}

// flowNode describes a test node: its name, the handler of its service and
// its predecessors.
type flowNode struct {
	name    string
	handler fasthttp.RequestHandler
	after   []string
	mod     func(*NodeSpec)
	// service changes the service, such as its timeout, before its
	// upstream client is built.
	service func(*MicroService)
}

// httpFlow starts one real HTTP service per node and compiles the flow.
func httpFlow(t *testing.T, output string, nodes ...flowNode) *Plan {
	t.Helper()
	spec := FlowSpec{Name: "test", Output: output}
	for _, n := range nodes {
		var mods []func(*MicroService)
		if n.service != nil {
			mods = append(mods, n.service)
		}
		svc, up := remote(t, n.name, startServer(t, n.handler), mods...)
		ns := NodeSpec{Service: svc, Exec: up, After: n.after}
		if n.mod != nil {
			n.mod(&ns)
		}
		spec.Nodes = append(spec.Nodes, ns)
	}
	p, err := CompilePlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runPlan(t *testing.T, p *Plan, input string) (*Results, *Graph, error) {
	t.Helper()
	return p.schedule(context.Background(), &runInput{
		body: []byte(input), contentType: jsonType, requestID: []byte("test"),
		deadline: time.Now().Add(10 * time.Second),
	})
}

func TestSequentialOutputFeedsNext(t *testing.T) {
	p := httpFlow(t, "",
		flowNode{name: "embedding", handler: tagService("embedding", 0)},
		flowNode{name: "retriever", handler: tagService("retriever", 0), after: []string{"embedding"}},
		flowNode{name: "llm", handler: tagService("llm", 0), after: []string{"retriever"}},
	)
	res, g, err := runPlan(t, p, `{"q":1}`)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Output()
	want := `{"by":"llm","in":{"by":"retriever","in":{"by":"embedding","in":{"q":1}}}}`
	if string(out.Body) != want {
		t.Errorf("output = %s\nwant     %s", out.Body, want)
	}
	if got := strings.Join(g.Ran(), ","); got != "embedding,retriever,llm" {
		t.Errorf("ran = %s", got)
	}
	for _, name := range []string{"embedding", "retriever", "llm"} {
		if _, ok := res.Get(name); !ok {
			t.Errorf("no result for %s", name)
		}
	}
}

func TestParallelBranchesOverlap(t *testing.T) {
	// Each branch's service responds only once the other branch's call
	// has started too, so the branches overlap however slow the machine.
	// The wait ends after 4 s, before the services' 5 s timeout.
	var started atomic.Int32
	bothStarted := make(chan struct{})
	var alone atomic.Bool
	meetOther := func(name string) fasthttp.RequestHandler {
		respond := tagService(name, 0)
		return func(ctx *fasthttp.RequestCtx) {
			if started.Add(1) == 2 {
				close(bothStarted)
			}
			select {
			case <-bothStarted:
			case <-time.After(4 * time.Second):
				alone.Store(true)
			}
			respond(ctx)
		}
	}
	p := httpFlow(t, "",
		flowNode{name: "start", handler: EchoHandler},
		flowNode{name: "retriever", handler: meetOther("retriever"), after: []string{"start"}},
		flowNode{name: "web_search", handler: meetOther("web_search"), after: []string{"start"}},
		flowNode{name: "join", handler: EchoHandler, after: []string{"retriever", "web_search"}},
	)
	res, g, err := runPlan(t, p, `"q"`)
	if alone.Load() {
		t.Error("a branch waited 4s for the other to start; the branches did not overlap")
	}
	if err != nil {
		t.Fatal(err)
	}
	r, _ := g.Node("retriever")
	w, _ := g.Node("web_search")
	if r.Start > w.Start+w.Duration || w.Start > r.Start+r.Duration {
		t.Errorf("branch runs do not overlap: retriever %v+%v, web_search %v+%v", r.Start, r.Duration, w.Start, w.Duration)
	}
	out, _ := res.Get("join")
	want := `{"retriever":{"by":"retriever","in":"q"},"web_search":{"by":"web_search","in":"q"}}`
	if string(out) != want {
		t.Errorf("fan-in input = %s\nwant %s", out, want)
	}
}

func TestFanInKeyedByPredecessor(t *testing.T) {
	text := func(s string) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) { ctx.SetContentType("text/plain"); ctx.SetBodyString(s) }
	}
	p := httpFlow(t, "",
		flowNode{name: "a", handler: text(`{"k":"from a"}`)},
		flowNode{name: "b", handler: text(`{"k":"from b"}`)},
		flowNode{name: "c", handler: text("plain \"text\"")},
		flowNode{name: "join", handler: EchoHandler, after: []string{"a", "b", "c"}},
	)
	res, _, err := runPlan(t, p, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Get("join")
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("fan-in input is not JSON: %s", out)
	}
	if got["a"].(map[string]any)["k"] != "from a" || got["b"].(map[string]any)["k"] != "from b" {
		t.Errorf("same keys of a and b were merged, not keyed: %s", out)
	}
	if got["c"] != `plain "text"` {
		t.Errorf("non-JSON output not kept as a string: %s", out)
	}
}

// selectOnly is a Router that keeps only the named successors.
type selectOnly []string

func (s selectOnly) Route(_ context.Context, _ []byte, succs []string, sel []bool) error {
	for k, name := range succs {
		sel[k] = false
		for _, keep := range s {
			if name == keep {
				sel[k] = true
			}
		}
	}
	return nil
}

func TestConditionalSkipPrunesBranch(t *testing.T) {
	p := httpFlow(t, "d",
		flowNode{name: "guard", handler: EchoHandler, mod: func(n *NodeSpec) { n.Route = selectOnly{"b"} }},
		flowNode{name: "a", handler: tagService("a", 0), after: []string{"guard"}},
		flowNode{name: "b", handler: tagService("b", 0), after: []string{"guard"}},
		flowNode{name: "c", handler: tagService("c", 0), after: []string{"a"}},
		flowNode{name: "d", handler: tagService("d", 0), after: []string{"a", "b"}},
	)
	res, g, err := runPlan(t, p, `1`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]NodeState{"guard": NodeRan, "a": NodeSkipped, "b": NodeRan, "c": NodeSkipped, "d": NodeRan} {
		if n, _ := g.Node(name); n.State != want {
			t.Errorf("%s: state %v, want %v", name, n.State, want)
		}
	}
	if _, ok := res.Get("a"); ok {
		t.Error("skipped node a has a result")
	}
	// d still runs because b ran; with one predecessor left its input is
	// b's output as is, not a keyed object.
	out, _ := res.Get("d")
	if want := `{"by":"d","in":{"by":"b","in":1}}`; string(out) != want {
		t.Errorf("d = %s, want %s", out, want)
	}
}

func TestDownstreamBlackList(t *testing.T) {
	guard := func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if strings.Contains(string(ctx.Request.Body()), "unsafe") {
			ctx.SetBodyString(`{"text":"I cannot answer that.","downstream_black_list":[".*llm"]}`)
			return
		}
		ctx.SetBody(ctx.Request.Body())
	}
	p := httpFlow(t, "",
		flowNode{name: "guardrail", handler: guard},
		flowNode{name: "llm", handler: tagService("llm", 0), after: []string{"guardrail"}},
	)
	res, g, err := runPlan(t, p, `{"text":"unsafe question"}`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Node("llm"); n.State != NodeSkipped {
		t.Errorf("llm state = %v, want skipped", n.State)
	}
	out, ok := res.Output()
	if !ok || !strings.Contains(string(out.Body), "I cannot answer") {
		t.Errorf("answer = %s, want the guardrail's refusal", out.Body)
	}

	res, g, _ = runPlan(t, p, `{"text":"fine question"}`)
	if n, _ := g.Node("llm"); n.State != NodeRan {
		t.Errorf("llm did not run on a safe input")
	}
	if out, _ := res.Output(); !strings.HasPrefix(string(out.Body), `{"by":"llm"`) {
		t.Errorf("answer = %s", out.Body)
	}
}

func TestSameServiceTwiceWithNodeNames(t *testing.T) {
	svc, up := remote(t, "tagger", startServer(t, tagService("tagger", 0)))
	p, err := CompilePlan(FlowSpec{Name: "twice", Nodes: []NodeSpec{
		{Name: "first", Service: svc, Exec: up},
		{Name: "second", Service: svc, Exec: up, After: []string{"first"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := runPlan(t, p, `0`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Names(), ","); got != "first,second" {
		t.Errorf("results keyed %s", got)
	}
}

func TestDebugGraphHeader(t *testing.T) {
	p := httpFlow(t, "",
		flowNode{name: "guardrail", handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"downstream_black_list":["llm"]}`) }},
		flowNode{name: "llm", handler: EchoHandler, after: []string{"guardrail"}},
	)
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/chat", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	resp, _ := post(t, base+"/chat", "application/json", []byte(`{}`), "X-Megaflow-Debug", "graph")
	var g struct {
		Output string `json:"output"`
		Nodes  []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"nodes"`
	}
	raw := resp.Header.Get("X-Megaflow-Graph")
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		t.Fatalf("X-Megaflow-Graph %q: %v", raw, err)
	}
	if g.Output != "guardrail" || len(g.Nodes) != 2 || g.Nodes[0].State != "ran" || g.Nodes[1].State != "skipped" {
		t.Errorf("graph = %s", raw)
	}
	resp, _ = post(t, base+"/chat", "application/json", []byte(`{}`))
	if resp.Header.Get("X-Megaflow-Graph") != "" {
		t.Error("graph sent without the debug header")
	}
}

func TestDebugGraphOfFailedFlow(t *testing.T) {
	fail := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(500) }
	p := httpFlow(t, "llm",
		flowNode{name: "retriever", handler: EchoHandler},
		flowNode{name: "web", handler: fail, after: []string{"retriever"}},
		flowNode{name: "llm", handler: EchoHandler, after: []string{"web"}},
	)
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/chat", Plan: p}}, nil)
	base := startMegaflow(t, snap)

	resp, _ := post(t, base+"/chat", "application/json", []byte(`{}`), "X-Megaflow-Debug", "graph")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}

	var g struct {
		Output *string `json:"output"`
		Nodes  []struct {
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"nodes"`
	}
	raw := resp.Header.Get("X-Megaflow-Graph")
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		t.Fatalf("X-Megaflow-Graph %q: %v", raw, err)
	}

	if g.Output != nil {
		t.Errorf("a failed flow's graph names output %q", *g.Output)
	}
	if len(g.Nodes) != 3 {
		t.Fatalf("graph = %s", raw)
	}
	if g.Nodes[1].State != "failed" {
		t.Errorf("failed node has state %q", g.Nodes[1].State)
	}
	if g.Nodes[1].Error != "service responded with an error" {
		t.Errorf("failed node has error %q", g.Nodes[1].Error)
	}
	if g.Nodes[2].State != "skipped" {
		t.Errorf("node after the failure has state %q", g.Nodes[2].State)
	}
	if !strings.HasPrefix(g.Nodes[2].Error, "not run:") {
		t.Errorf("node after the failure has error %q", g.Nodes[2].Error)
	}
}

func TestOptionalNodeFailureLeavesItOut(t *testing.T) {
	fail := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(500) }
	p := httpFlow(t, "",
		flowNode{name: "start", handler: EchoHandler},
		flowNode{name: "web", handler: fail, after: []string{"start"}, mod: func(n *NodeSpec) { n.Optional = true }},
		flowNode{name: "docs", handler: tagService("docs", 0), after: []string{"start"}},
		flowNode{name: "llm", handler: EchoHandler, after: []string{"web", "docs"}},
	)
	res, g, err := runPlan(t, p, `"q"`)
	if err != nil {
		t.Fatalf("optional failure failed the flow: %v", err)
	}
	if n, _ := g.Node("web"); n.State != NodeFailed || n.Err == nil {
		t.Errorf("web = %+v", n)
	}
	if out, _ := res.Get("llm"); string(out) != `{"by":"docs","in":"q"}` {
		t.Errorf("llm input = %s", out)
	}
}

func TestRequiredFailureCancelsSiblings(t *testing.T) {
	canceledAfter := make(chan time.Duration, 1)
	slow := ExecutorFunc(func(ctx context.Context, c *Call) error {
		start := time.Now()
		select {
		case <-ctx.Done():
			canceledAfter <- time.Since(start)
			return ctx.Err()
		case <-time.After(5 * time.Second):
			canceledAfter <- -1
			return nil
		}
	})
	failing := ExecutorFunc(func(ctx context.Context, c *Call) error {
		time.Sleep(20 * time.Millisecond)
		return &Error{Status: 502, Message: "boom"}
	})
	after := false
	p, err := CompilePlan(FlowSpec{Name: "fail", Output: "join", Nodes: []NodeSpec{
		{Service: &MicroService{Name: "slow", Handler: slow}},
		{Service: &MicroService{Name: "failing", Handler: failing}},
		{Service: &MicroService{Name: "join", Handler: ExecutorFunc(func(context.Context, *Call) error { after = true; return nil })}, After: []string{"slow", "failing"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, g, err := runPlan(t, p, `1`)
	var e *Error
	if !errors.As(err, &e) || e.Service != "failing" || e.Status != 502 {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("failure took %v to end the flow", took)
	}
	if d := <-canceledAfter; d < 0 {
		t.Error("sibling was not canceled")
	}
	if after {
		t.Error("successor of a failed node ran")
	}
	if n, _ := g.Node("join"); n.State != NodeSkipped {
		t.Errorf("join = %v", n.State)
	}
}

func TestFailingBranchAnswersBeforeSlowSibling(t *testing.T) {
	// The slow service responds only when the test ends, so a flow that
	// waited for it would hit the one-minute timeouts.
	// It is released before the servers' cleanups, which wait for it.
	release := make(chan struct{})
	defer close(release)
	slow := func(ctx *fasthttp.RequestCtx) {
		<-release
		EchoHandler(ctx)
	}
	fail := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(500) }
	// Either branch may be the one run on the request's goroutine, so
	// both orders are checked.
	longTimeout := func(s *MicroService) { s.Timeout = time.Minute }
	for _, order := range [][2]string{{"slow", "failing"}, {"failing", "slow"}} {
		handlers := map[string]fasthttp.RequestHandler{"slow": slow, "failing": fail}
		p := httpFlow(t, "join",
			flowNode{name: order[0], handler: handlers[order[0]], service: longTimeout},
			flowNode{name: order[1], handler: handlers[order[1]], service: longTimeout},
			flowNode{name: "join", handler: EchoHandler, after: []string{"slow", "failing"}},
		)
		snap, _ := NewSnapshot(ServerSettings{RequestTimeout: time.Minute}, []Route{{Path: "/x", Plan: p}}, nil)
		base := startMegaflow(t, snap)
		start := time.Now()
		resp, out := post(t, base+"/x", "application/json", []byte(`{}`), "X-Megaflow-Debug", "graph")
		if resp.StatusCode != 502 || decodeError(t, out).Service != "failing" {
			t.Errorf("order %v: status %d %s, want 502 from failing", order, resp.StatusCode, out)
		}
		// The graph names the failed node although the slow one still runs.
		if g := resp.Header.Get("X-Megaflow-Graph"); !strings.Contains(g, `{"name":"failing","state":"failed","start_us":`) {
			t.Errorf("order %v: graph does not show the failure: %s", order, g)
		}
		// Far below the request timeout: the failure ended the request.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("order %v: the failure was answered after %v", order, took)
		}
	}
}

func TestFlowDeadlineAnswers504(t *testing.T) {
	slow := func(ctx *fasthttp.RequestCtx) { time.Sleep(3 * time.Second) }
	p := httpFlow(t, "", flowNode{name: "slow", handler: slow})
	snap, _ := NewSnapshot(ServerSettings{RequestTimeout: 300 * time.Millisecond}, []Route{{Path: "/x", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	start := time.Now()
	resp, out := post(t, base+"/x", "application/json", []byte(`{}`))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("504 after %v", took)
	}
	if resp.StatusCode != 504 {
		t.Errorf("status %d %s", resp.StatusCode, out)
	}
}

func TestNoGoroutineLeakAfterFailures(t *testing.T) {
	old := workerIdle.Swap(int64(50 * time.Millisecond))
	defer workerIdle.Store(old)

	block := ExecutorFunc(func(ctx context.Context, c *Call) error { <-ctx.Done(); return ctx.Err() })
	fail := ExecutorFunc(func(ctx context.Context, c *Call) error { return errors.New("fail") })
	nodes := []NodeSpec{{Service: &MicroService{Name: "fail", Handler: fail}}}
	var after []string
	for _, name := range []string{"b1", "b2", "b3", "b4"} {
		nodes = append(nodes, NodeSpec{Service: &MicroService{Name: name, Handler: block}})
		after = append(after, name)
	}
	nodes = append(nodes, NodeSpec{Service: &MicroService{Name: "join", Handler: block}, After: append(after, "fail")})
	p, err := CompilePlan(FlowSpec{Name: "leak", Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	waitIdle := func() {
		for i := 0; i < 200 && (workerCount.Load() > 0 || workersBusy.Load() > 0); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitIdle()
	before := goroutines()
	for i := 0; i < 100; i++ {
		if _, _, err := runPlan(t, p, `1`); err == nil {
			t.Fatal("flow with a failing node succeeded")
		}
	}
	waitIdle()
	if after := goroutines(); after > before {
		t.Errorf("goroutines: %d before, %d after 100 failed runs", before, after)
	}
}

func goroutines() int {
	time.Sleep(20 * time.Millisecond)
	return numGoroutine()
}

func TestPanickingNodeFailsOnlyItsRequest(t *testing.T) {
	boom := ExecutorFunc(func(_ context.Context, c *Call) error {
		if string(c.Input) == "boom" {
			panic("executor bug")
		}
		c.SetOutput(c.Input)
		return nil
	})
	p, err := CompilePlan(FlowSpec{Name: "panics", Nodes: []NodeSpec{{Service: &MicroService{Name: "fragile", Handler: boom}}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/x", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	resp, out := post(t, base+"/x", "text/plain", []byte("boom"))
	if resp.StatusCode != 500 || decodeError(t, out).RequestID == "" {
		t.Errorf("panicking node: %d %s", resp.StatusCode, out)
	}
	resp, out = post(t, base+"/x", "text/plain", []byte("fine"))
	if resp.StatusCode != 200 || string(out) != "fine" {
		t.Errorf("next request: %d %s", resp.StatusCode, out)
	}
}

func TestFanInKeepsBinaryOutputs(t *testing.T) {
	wav := []byte{'R', 'I', 'F', 'F', 0xff, 0xfe, 0x00, 0x80}
	binary := func(ctx *fasthttp.RequestCtx) { ctx.SetContentType("audio/wav"); ctx.SetBody(wav) }
	p := httpFlow(t, "",
		flowNode{name: "tts", handler: binary},
		flowNode{name: "text", handler: tagService("text", 0)},
		flowNode{name: "join", handler: EchoHandler, after: []string{"tts", "text"}},
	)
	res, _, err := runPlan(t, p, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Get("join")
	var got struct {
		TTS struct {
			Base64      []byte `json:"base64"`
			ContentType string `json:"content_type"`
		} `json:"tts"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("fan-in input is not JSON: %v: %s", err, out)
	}
	if !bytes.Equal(got.TTS.Base64, wav) || got.TTS.ContentType != "audio/wav" {
		t.Errorf("binary output changed: %s", out)
	}
}

func TestNodeReceivesTheClientRequest(t *testing.T) {
	p := httpFlow(t, "",
		flowNode{name: "retriever", handler: tagService("retriever", 0)},
		flowNode{name: "llm", handler: EchoHandler, after: []string{RequestInput, "retriever"}},
	)
	res, _, err := runPlan(t, p, `{"q":"What is OPEA?"}`)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Get("llm")
	want := `{"request":{"q":"What is OPEA?"},"retriever":{"by":"retriever","in":{"q":"What is OPEA?"}}}`
	if string(out) != want {
		t.Errorf("llm input = %s\nwant %s", out, want)
	}

	// After naming only the request makes a start node.
	only := httpFlow(t, "", flowNode{name: "first", handler: tagService("first", 0), after: []string{RequestInput}})
	res, _, err = runPlan(t, only, `1`)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := res.Get("first"); string(out) != `{"by":"first","in":1}` {
		t.Errorf("start node after request = %s", out)
	}
}

func TestNodeReceivesTheRequestParameters(t *testing.T) {
	p := httpFlow(t, "",
		flowNode{name: "rerank", handler: tagService("rerank", 0)},
		flowNode{name: "llm", handler: EchoHandler, after: []string{"rerank", ParamsInput}},
	)
	res, _, err := p.schedule(context.Background(), &runInput{
		body: []byte(`{"q":1}`), contentType: jsonType, requestID: []byte("test"),
		params:   []byte(`{"rerank":{"top_n":3}}`),
		deadline: time.Now().Add(10 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.Get("llm")
	want := `{"params":{"rerank":{"top_n":3}},"rerank":{"by":"rerank","in":{"q":1}}}`
	if string(out) != want {
		t.Errorf("llm input = %s\nwant %s", out, want)
	}

	// Without parameters (a route without an API) the input is {}.
	res, _, err = runPlan(t, p, `{"q":1}`)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = res.Get("llm")
	want = `{"params":{},"rerank":{"by":"rerank","in":{"q":1}}}`
	if string(out) != want {
		t.Errorf("llm input without parameters = %s\nwant %s", out, want)
	}

	// After naming only the parameters makes a start node whose input
	// they are.
	only := httpFlow(t, "", flowNode{name: "first", handler: tagService("first", 0), after: []string{ParamsInput}})
	res, _, err = runPlan(t, only, `1`)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := res.Get("first"); string(out) != `{"by":"first","in":{}}` {
		t.Errorf("start node after params = %s", out)
	}
}

func TestGraphCountsRetries(t *testing.T) {
	var calls atomic.Int64
	flaky := func(ctx *fasthttp.RequestCtx) {
		if calls.Add(1) == 1 {
			ctx.SetStatusCode(503)
			return
		}
		EchoHandler(ctx)
	}
	url := startServer(t, flaky)
	svc := &MicroService{Name: "flaky", URL: url, Remote: true, Timeout: 5 * time.Second}
	up, err := NewUpstream(svc, UpstreamOptions{Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	p, _ := CompilePlan(FlowSpec{Name: "retry", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
	_, g, err := runPlan(t, p, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := g.Node("flaky")
	if n.Attempts != 2 || n.Replica != url {
		t.Errorf("attempts %d on %q, want 2 on %q", n.Attempts, n.Replica, url)
	}
}
