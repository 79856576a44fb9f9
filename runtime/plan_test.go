package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCompilePlanErrors(t *testing.T) {
	nop := ExecutorFunc(func(context.Context, *Call) error { return nil })
	svc := func(name string) *MicroService { return &MicroService{Name: name, Handler: nop} }
	node := func(name string, after ...string) NodeSpec { return NodeSpec{Service: svc(name), After: after} }

	cases := []struct {
		name   string
		spec   FlowSpec
		wantIn string
	}{
		{"cycle", FlowSpec{Nodes: []NodeSpec{node("start"), node("a", "start", "c"), node("b", "a"), node("c", "b")}},
			`has a cycle: a → b → c → a`},
		{"self loop", FlowSpec{Nodes: []NodeSpec{node("start"), node("a", "start", "a")}},
			`node "a" comes after itself; a cycle: a → a`},
		{"unknown predecessor", FlowSpec{Nodes: []NodeSpec{node("embedding"), node("llm", "embeding")}},
			`node "llm" comes after unknown node "embeding"; did you mean "embedding"?`},
		{"unknown predecessor far from any name", FlowSpec{Nodes: []NodeSpec{node("a"), node("b", "zzzzzz")}},
			`node "b" comes after unknown node "zzzzzz"`},
		{"duplicate node", FlowSpec{Nodes: []NodeSpec{node("a"), node("a")}},
			`node "a" is defined twice; give one of them a distinct name`},
		{"unreachable", FlowSpec{Nodes: []NodeSpec{node("start"), node("x", "y"), node("y", "x")}},
			`node "x" is unreachable from any start node`},
		{"several leaves", FlowSpec{Nodes: []NodeSpec{node("a"), node("b", "a"), node("c", "a")}},
			`has 2 leaves (b, c) and no output; set output to the node whose result is the response`},
		{"unknown output", FlowSpec{Output: "lm", Nodes: []NodeSpec{node("llm")}},
			`output names unknown node "lm"; did you mean "llm"?`},
		{"no service", FlowSpec{Nodes: []NodeSpec{{Name: "orphan"}}},
			`node "orphan" has no service`},
		{"no executor", FlowSpec{Nodes: []NodeSpec{{Service: &MicroService{Name: "remote", Remote: true}}}},
			`node "remote": service "remote" has no executor`},
		{"no nodes", FlowSpec{},
			`has no nodes; add at least one node`},
		{"duplicate predecessor", FlowSpec{Nodes: []NodeSpec{node("a"), node("b", "a", "a")}},
			`node "b" lists predecessor "a" twice`},
		{"node named request", FlowSpec{Nodes: []NodeSpec{{Name: "request", Service: svc("x")}}},
			`node name "request" is reserved for the client's request; give the node another name`},
		{"node named params", FlowSpec{Nodes: []NodeSpec{{Name: "params", Service: svc("x")}}},
			`node name "params" is reserved for the client's request parameters; give the node another name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "f"
			_, err := CompilePlan(tc.spec)
			var perr *PlanError
			if !errors.As(err, &perr) {
				t.Fatalf("err = %v, want a *PlanError", err)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.wantIn)
			}
		})
	}
}

func TestOrchestratorFlowToRejectsCycle(t *testing.T) {
	nop := ExecutorFunc(func(context.Context, *Call) error { return nil })
	o := NewOrchestrator()
	a, b, c := &MicroService{Name: "a", Handler: nop}, &MicroService{Name: "b", Handler: nop}, &MicroService{Name: "c", Handler: nop}
	for _, s := range []*MicroService{a, b, c} {
		if err := o.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Add(&MicroService{Name: "a", Handler: nop}); err == nil || !strings.Contains(err.Error(), `"a" was already added`) {
		t.Errorf("duplicate add: %v", err)
	}
	if err := o.FlowTo(a, b); err != nil {
		t.Fatal(err)
	}
	if err := o.FlowTo(b, c); err != nil {
		t.Fatal(err)
	}
	err := o.FlowTo(c, a)
	if err == nil || !strings.Contains(err.Error(), "c → a → b → c") {
		t.Errorf("cycle not named: %v", err)
	}
	if err := o.FlowTo(a, &MicroService{Name: "ghost"}); err == nil || !strings.Contains(err.Error(), `"ghost" was not added`) {
		t.Errorf("unknown service: %v", err)
	}
	res, g, err := o.Schedule(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.Ran(), ","); got != "a,b,c" {
		t.Errorf("ran %s", got)
	}
	if _, ok := res.Get("ghost"); ok {
		t.Error("result for a service that never ran")
	}
}

func TestServiceTypeParse(t *testing.T) {
	for _, name := range ServiceTypes() {
		typ, err := ParseServiceType(name)
		if err != nil || typ.String() != name {
			t.Errorf("%s: %v %v", name, typ, err)
		}
	}
	if typ, err := ParseServiceType("KNOWLEDGE-GRAPH"); err != nil || typ != TypeKnowledgeGraph {
		t.Errorf("OPEA spelling: %v %v", typ, err)
	}
	if _, err := ParseServiceType("llmm"); err == nil || !strings.Contains(err.Error(), "use one of") {
		t.Errorf("unknown type: %v", err)
	}
}

func TestCallHeaders(t *testing.T) {
	var c Call
	c.SetHeader([]byte("X-A"), []byte("1"))
	c.AddHeader([]byte("x-a"), []byte("2"))
	c.SetHeader([]byte("X-B"), []byte("b"))
	var got []string
	c.VisitHeaders(func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
	if strings.Join(got, ",") != "X-A=1,x-a=2,X-B=b" {
		t.Errorf("headers %v", got)
	}
	c.SetHeader([]byte("x-A"), []byte("3"))
	if v := c.Header([]byte("X-a")); string(v) != "3" {
		t.Errorf("SetHeader did not replace: %q", v)
	}
	c.DeleteHeader([]byte("X-B"))
	if c.Header([]byte("X-B")) != nil {
		t.Error("DeleteHeader left the header")
	}
}

func TestOrchestratorOutputWithSeveralLeaves(t *testing.T) {
	constant := func(out string) Executor {
		return InlineFunc(func(_ context.Context, c *Call) error { c.SetOutput([]byte(out)); return nil })
	}
	o := NewOrchestrator()
	start := &MicroService{Name: "start", Handler: constant("s")}
	a := &MicroService{Name: "a", Handler: constant("from a")}
	b := &MicroService{Name: "b", Handler: constant("from b")}
	for _, s := range []*MicroService{start, a, b} {
		o.Add(s)
	}
	o.FlowTo(start, a)
	o.FlowTo(start, b)
	if _, _, err := o.Schedule(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "set output") {
		t.Errorf("several leaves without Output: %v", err)
	}
	// A failed compile is not cached, so setting Output now takes effect.
	o.Output = "b"
	res, _, err := o.Schedule(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := res.Output(); !ok || string(out.Body) != "from b" {
		t.Errorf("output = %q", out.Body)
	}
	if got, _ := res.Get("a"); string(got) != "from a" {
		t.Errorf("a = %q", got)
	}
}
