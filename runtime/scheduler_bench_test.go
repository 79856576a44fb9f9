package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// smallOutput is what every benchmark node answers: a small JSON object,
// so that fan-in inputs stay the same size at every depth and the
// benchmarks measure the scheduler, not JSON growth or I/O.
var smallOutput = []byte(`{"ok":true,"score":0.5}`)

// inlineNode declares itself inline, so the scheduler runs it on the
// goroutine that made it ready. blockingNode does the same work but is
// treated as possibly blocking, so fan-out goes through the worker pool.
var (
	inlineNode            = InlineFunc(func(_ context.Context, c *Call) error { c.SetOutput(smallOutput); return nil })
	blockingNode          = ExecutorFunc(func(_ context.Context, c *Call) error { c.SetOutput(smallOutput); return nil })
	benchExec    Executor = inlineNode
)

func localNode(name string, after ...string) NodeSpec {
	return NodeSpec{Service: &MicroService{Name: name, Handler: benchExec}, After: after}
}

func benchPlans() []struct {
	name string
	spec FlowSpec
} {
	chain := FlowSpec{Name: "chain4", Nodes: []NodeSpec{localNode("n0"), localNode("n1", "n0"), localNode("n2", "n1"), localNode("n3", "n2")}}

	diamond := FlowSpec{Name: "diamond8", Nodes: []NodeSpec{localNode("src")}}
	var mids []string
	for i := range 6 {
		name := fmt.Sprintf("m%d", i)
		mids = append(mids, name)
		diamond.Nodes = append(diamond.Nodes, localNode(name, "src"))
	}
	diamond.Nodes = append(diamond.Nodes, localNode("sink", mids...))

	// 32 nodes in 8 layers of 4; each node follows two nodes of the layer
	// above, and one sink-like output node closes the last layer.
	layered := FlowSpec{Name: "layered32"}
	for layer := range 8 {
		for k := range 4 {
			name := fmt.Sprintf("l%dn%d", layer, k)
			if layer == 0 {
				layered.Nodes = append(layered.Nodes, localNode(name))
				continue
			}
			layered.Nodes = append(layered.Nodes, localNode(name,
				fmt.Sprintf("l%dn%d", layer-1, k), fmt.Sprintf("l%dn%d", layer-1, (k+1)%4)))
		}
	}
	layered.Output = "l7n0"

	return []struct {
		name string
		spec FlowSpec
	}{
		{"echo1", FlowSpec{Name: "echo1", Nodes: []NodeSpec{localNode("echo")}}},
		{"chain4", chain},
		{"diamond8", diamond},
		{"layered32", layered},
	}
}

// BenchmarkScheduler runs whole requests through in-process plans: the
// cost of planning-free scheduling, input fan-in and result bookkeeping.
func BenchmarkScheduler(b *testing.B) {
	b.Run("inline", func(b *testing.B) { benchScheduler(b, inlineNode) })
	b.Run("workers", func(b *testing.B) { benchScheduler(b, blockingNode) })
}

func benchScheduler(b *testing.B, exec Executor) {
	benchExec = exec
	input := []byte(`{"messages":"What is OPEA?","max_tokens":64}`)
	for _, bp := range benchPlans() {
		p, err := CompilePlan(bp.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bp.name, func(b *testing.B) {
			in := runInput{body: input, contentType: jsonType, requestID: []byte("bench"), deadline: time.Now().Add(time.Hour)}
			b.ReportAllocs()
			for b.Loop() {
				rs := p.startRun(context.Background(), &in)
				for !rs.complete() {
					<-rs.wake
				}
				if rs.failure() >= 0 || rs.resultNode() < 0 {
					b.Fatal("run failed")
				}
				rs.finishRun()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(p.nodes)), "ns/node")
		})
	}
}
