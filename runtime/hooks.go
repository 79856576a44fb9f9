package runtime

import (
	"context"

	"github.com/valyala/fasthttp"
)

// The hooks below are the points where a node's behaviour can be shaped
// beyond calling its service. Go code may implement them directly. The
// config compiler adapts the Wasm plugin host to them, so the runtime never
// depends on the plugin ABI.
//
// Every hook is called concurrently from many requests and must be safe for
// that. Byte slices passed in are valid only until the hook returns, so a
// hook that keeps data must copy it.

// RequestShaper rewrites a node's input before its service is called
// (OPEA's align_inputs). It may replace the input with call.SetInput, set or
// delete outgoing headers, or respond in place of the service with
// call.ShortCircuit.
type RequestShaper interface {
	ShapeRequest(ctx context.Context, call *Call) error
}

// ResponseShaper rewrites a node's output after its service responded
// (OPEA's align_outputs), using call.SetOutput.
type ResponseShaper interface {
	ShapeResponse(ctx context.Context, call *Call) error
}

// EventShaper rewrites one server-sent event of a streamed output
// (OPEA's align_generator). It appends the new event to dst and returns it;
// returning dst unchanged drops the event.
type EventShaper interface {
	ShapeEvent(ctx context.Context, event []byte, dst []byte) ([]byte, error)
}

// NamedInput is the output of one predecessor, as seen by an Aggregator.
type NamedInput struct {
	// Name is the predecessor's node name.
	Name string
	// Data is its output; valid only during the Aggregate call.
	Data []byte
	// ContentType is its output's media type, empty when unknown.
	ContentType []byte
}

// Aggregator combines the outputs of several predecessors into one node
// input (fan-in). It appends the result to dst and returns it. Inputs are in
// the order of the node's "after" list, leaving out predecessors that did
// not run.
type Aggregator interface {
	Aggregate(ctx context.Context, inputs []NamedInput, dst []byte) ([]byte, error)
}

// Router decides which successors of a node run, given the node's output
// (conditional flow). selected has one entry per successor, in the order of
// successors, all true on entry. The router sets an entry to false to skip
// that successor.
type Router interface {
	Route(ctx context.Context, output []byte, successors []string, selected []bool) error
}

// Guard checks a request before its route's flow runs. It returns nil to
// let the request through, or an *Error with the status to respond with:
// 401 or 403 for authentication, 429 for a rate limit, 400, 413 or 415 for
// content. Guards run on the request's goroutine with the fasthttp context,
// which they must not keep after Check returns.
type Guard interface {
	Check(ctx *fasthttp.RequestCtx) *Error
}

// RouteAPI gives a route a client-facing API shape around its flow, such
// as OpenAI's chat completions, so that clients of that API work unchanged.
// It must be safe for concurrent use. What it needs to remember between
// the calls for one request goes in the APIState the server passes to each.
type RouteAPI interface {
	// Request reads the client's body and appends the flow's input to
	// input and the request-level parameters, a JSON object that nodes
	// may receive through NodeSpec.Params, to params (nothing for none).
	// A returned *Error, such as 400 for a malformed request, is the
	// response.
	Request(state *APIState, body, input, params []byte) (newInput, newParams []byte, err error)
	// Response turns the flow's whole output into the client's body,
	// appended to dst, and returns its content type.
	Response(state *APIState, output, contentType, dst []byte) (body []byte, bodyType string, err error)
	// StreamEvent reshapes one event of a streamed output for the client,
	// appending it to dst; returning dst unchanged drops the event.
	StreamEvent(state *APIState, event, dst []byte) ([]byte, error)
	// StreamEnd appends what closes a complete stream, such as
	// "data: [DONE]\n\n". It is not sent after a broken stream.
	StreamEnd(state *APIState, dst []byte) []byte
}

// APIState is one request's state of a RouteAPI. The server gives each
// request a zero APIState and passes the same one to every call.
type APIState struct {
	// Stream is true when the client asked for a streamed response.
	Stream bool
	// ID identifies the response, such as the id all chunks of one chat
	// completion share.
	ID uint64
	// Created is when the response was created, in Unix seconds.
	Created int64
}

// ParamInjector adds request-level parameters (see RouteAPI) to a node's
// input: it appends the new input to dst and returns it. It runs before
// the node's request hook, only when the request has parameters.
type ParamInjector func(input, params, dst []byte) ([]byte, error)
