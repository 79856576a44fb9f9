package runtime

import (
	"bytes"
	"context"
	"time"
)

// Executor runs one node's service for one request. The HTTP upstream client
// is one; in-process services implement it directly.
//
// Execute reads call.Input and writes the result with call.SetOutput. It
// must return by call.Deadline() and should stop early when ctx is done. A
// returned *Error decides the client's status; any other error becomes 502
// naming the service.
type Executor interface {
	Execute(ctx context.Context, call *Call) error
}

// InlineExecutor is an Executor that may declare itself short and
// non-blocking (a pure in-memory transform, say). The scheduler runs such a
// node on the goroutine that made it ready instead of handing it to a
// worker, which saves a goroutine wake-up per node. Executors that may block
// on I/O, such as Upstream, must not return true.
type InlineExecutor interface {
	Executor
	RunsInline() bool
}

// InlineFunc adapts a short, non-blocking function to InlineExecutor.
type InlineFunc func(ctx context.Context, call *Call) error

// Execute calls f.
func (f InlineFunc) Execute(ctx context.Context, call *Call) error { return f(ctx, call) }

// RunsInline returns true.
func (f InlineFunc) RunsInline() bool { return true }

// ExecutorFunc adapts a function to Executor. The scheduler treats it as
// possibly blocking; use InlineFunc for short in-memory work.
type ExecutorFunc func(ctx context.Context, call *Call) error

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, call *Call) error { return f(ctx, call) }

// Call is one node execution within one request: the node's input, the
// headers to send with it, and the output its executor and hooks produce.
//
// A Call and every slice it returns belong to the scheduler and are reused
// by later requests: they are valid only until the hook or executor that
// received the Call returns.
type Call struct {
	// Node is the node's name; Service is its service (nil for a node
	// without one).
	Node    string
	Service *MicroService

	// Input is what the node receives: the client's request for a start
	// node, a predecessor's output otherwise. Replace it with SetInput.
	Input []byte
	// InputType is Input's media type, empty when unknown.
	InputType []byte
	// Output is the node's result; set it with SetOutput.
	Output []byte
	// OutputType is Output's media type, set with SetOutputType.
	OutputType []byte
	// Status is the HTTP status of the output: 0 until the service
	// responded, or the status given to ShortCircuit.
	Status int

	requestID   []byte
	traceparent []byte
	deadline    time.Time

	// Two buffers each for input and output, so that a hook may set a new
	// value computed from the current one without overwriting it.
	inBuf, outBuf    [2][]byte
	inTypeBuf        []byte
	outTypeBuf       []byte
	shortCircuit     bool
	headers          []headerSpan
	headerArena      []byte
	upstreamAttempts int
	upstreamReplica  string
	// stream is an open event stream of the output node\'s service, nil
	// unless the service responded with text/event-stream.
	stream *upstreamStream
	// sentences is true when stream is a predecessor's stream that this
	// node post-processes sentence by sentence.
	sentences bool
}

type headerSpan struct{ keyStart, keyEnd, valueEnd int }

// RequestID returns the request's X-Request-Id.
func (c *Call) RequestID() []byte { return c.requestID }

// Traceparent returns the W3C traceparent header to forward upstream.
func (c *Call) Traceparent() []byte { return c.traceparent }

// Deadline returns the flow's deadline. Executors apply their own
// per-attempt timeout when it is earlier.
func (c *Call) Deadline() time.Time { return c.deadline }

// SetInput replaces Input with a copy of b. b may alias Input.
func (c *Call) SetInput(b []byte) {
	c.Input = copyToSpare(&c.inBuf, c.Input, b)
}

// SetInputType replaces InputType with a copy of t.
func (c *Call) SetInputType(t []byte) {
	c.inTypeBuf = append(c.inTypeBuf[:0], t...)
	c.InputType = c.inTypeBuf
}

// SetOutput replaces Output with a copy of b. b may alias Output.
func (c *Call) SetOutput(b []byte) {
	c.Output = copyToSpare(&c.outBuf, c.Output, b)
}

// AppendOutput appends b to Output. Executors that receive a body in pieces
// use it after SetOutput(nil).
func (c *Call) AppendOutput(b []byte) {
	c.Output = append(c.Output, b...)
	if len(c.Output) > 0 {
		if sameBacking(c.Output, c.outBuf[0]) {
			c.outBuf[0] = c.Output
		} else {
			c.outBuf[1] = c.Output
		}
	}
}

// SetOutputType replaces OutputType with a copy of t.
func (c *Call) SetOutputType(t []byte) {
	c.outTypeBuf = append(c.outTypeBuf[:0], t...)
	c.OutputType = c.outTypeBuf
}

// ShortCircuit responds in place of the service: the service is not called
// and body becomes the node's output with the given status. Called from a
// RequestShaper.
func (c *Call) ShortCircuit(status int, body []byte) {
	c.shortCircuit = true
	c.Status = status
	c.SetOutput(body)
}

// SetHeader sets a header sent with the node's service call, replacing
// any value set before under the same key (compared case-insensitively).
func (c *Call) SetHeader(key, value []byte) {
	c.DeleteHeader(key)
	c.AddHeader(key, value)
}

// AddHeader adds a header sent with the node's service call, keeping
// values set before under the same key.
func (c *Call) AddHeader(key, value []byte) {
	start := len(c.headerArena)
	c.headerArena = append(c.headerArena, key...)
	keyEnd := len(c.headerArena)
	c.headerArena = append(c.headerArena, value...)
	c.headers = append(c.headers, headerSpan{start, keyEnd, len(c.headerArena)})
}

// DeleteHeader removes every header set under key. The arena keeps the
// bytes until the Call is reset.
func (c *Call) DeleteHeader(key []byte) {
	kept := c.headers[:0]
	for _, h := range c.headers {
		if !bytes.EqualFold(c.headerArena[h.keyStart:h.keyEnd], key) {
			kept = append(kept, h)
		}
	}
	c.headers = kept
}

// Header returns the value of the first header set with key, or nil.
func (c *Call) Header(key []byte) []byte {
	for _, h := range c.headers {
		if bytes.EqualFold(c.headerArena[h.keyStart:h.keyEnd], key) {
			return c.headerArena[h.keyEnd:h.valueEnd]
		}
	}
	return nil
}

// VisitHeaders calls f for each header set with SetHeader, in order.
func (c *Call) VisitHeaders(f func(key, value []byte)) {
	for _, h := range c.headers {
		f(c.headerArena[h.keyStart:h.keyEnd], c.headerArena[h.keyEnd:h.valueEnd])
	}
}

// reset prepares the Call for a new request, keeping its buffers.
func (c *Call) reset() {
	c.Input, c.InputType, c.Output, c.OutputType = nil, nil, nil, nil
	c.Status = 0
	c.requestID, c.traceparent = nil, nil
	c.deadline = time.Time{}
	c.shortCircuit = false
	c.headers = c.headers[:0]
	c.headerArena = c.headerArena[:0]
	c.upstreamAttempts = 0
	c.upstreamReplica = ""
	c.sentences = false
}

// copyToSpare copies b into whichever of the two buffers cur does not use,
// and returns the copy.
func copyToSpare(bufs *[2][]byte, cur, b []byte) []byte {
	i := 0
	if len(cur) > 0 && sameBacking(cur, bufs[0]) {
		i = 1
	}
	bufs[i] = append(bufs[i][:0], b...)
	return bufs[i]
}

// sameBacking reports whether a and b start in the same array.
func sameBacking(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
