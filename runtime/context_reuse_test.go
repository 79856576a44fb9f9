package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Executors and plugin hosts derive contexts from the run's context; a
// canceled run must never be reused while such a derived context can still
// read it, or the next request sees a closed Done with a nil Err (the
// context package panics on that) and a second cancel closes a closed
// channel.
func TestCanceledRunsDoNotLeakIntoLaterRequests(t *testing.T) {
	derive := ExecutorFunc(func(ctx context.Context, c *Call) error {
		child, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if string(c.Input) == "fail" {
			return &Error{Status: 400, Message: "rejected"}
		}
		select {
		case <-child.Done():
			return child.Err()
		case <-time.After(50 * time.Microsecond):
		}
		c.SetOutput(c.Input)
		return nil
	})
	sibling := ExecutorFunc(func(ctx context.Context, c *Call) error {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		select {
		case <-child.Done():
			return child.Err()
		case <-time.After(100 * time.Microsecond):
		}
		c.SetOutput([]byte(`"ok"`))
		return nil
	})
	p, err := CompilePlan(FlowSpec{Name: "reuse", Output: "shape", Nodes: []NodeSpec{
		{Service: &MicroService{Name: "shape", Handler: derive}},
		{Service: &MicroService{Name: "side", Handler: sibling}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		input := "fine"
		if i%2 == 0 {
			input = "fail"
		}
		res, _, err := p.schedule(context.Background(), &runInput{body: []byte(input), requestID: []byte("r"), deadline: time.Now().Add(5 * time.Second)})
		var e *Error
		switch {
		case input == "fail" && !errors.As(err, &e):
			t.Fatalf("request %d: failing node did not fail the flow: %v", i, err)
		case input == "fine" && err != nil:
			t.Fatalf("request %d after a failed one: %v", i, err)
		case input == "fine":
			if out, _ := res.Get("shape"); string(out) != "fine" {
				t.Fatalf("request %d: output %q", i, out)
			}
		}
	}
}
