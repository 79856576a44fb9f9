// Package megaflow is the Go guest SDK for megaflow plugins: Wasm modules
// that shape requests, responses and server-sent events, combine the
// outputs of several nodes, or choose which nodes run next.
//
// A plugin is a main package built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm .
//
// It registers its hooks in an init function, because a reactor's main
// never runs:
//
//	package main
//
//	import megaflow "github.com/megaflow/megaflow/guest-sdk/go"
//
//	func init() {
//		megaflow.OnResponse(func(output []byte) megaflow.Status {
//			megaflow.Write(bytes.ToUpper(output))
//			return megaflow.OK
//		})
//	}
//
//	func main() {}
//
// The SDK implements ABI version 1, described in docs/ABI.md in the
// megaflow repository. It exports the ABI's functions and owns the input
// buffer the host writes into. It collects output and hands it to the host
// in one call, and it turns a panic in a hook into a failure status.
//
// Byte slices passed to a hook are valid only until it returns. The SDK
// reuses its buffers across calls, so a hook that allocates little keeps
// the guest's memory flat.
package megaflow

import (
	"bytes"
	"fmt"
)

// Status is a hook's result: OK, Unchanged, a short-circuit response
// status (Respond) or a failure status (Fail).
type Status int32

const (
	// OK: what the hook wrote replaces its input.
	OK Status = 0
	// Unchanged: the input passes through as it was, and anything written
	// is discarded. For a route hook it selects every successor.
	Unchanged Status = 1
)

// Level is a log level, numbered as in Go's log/slog.
type Level int32

const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Input is one named input of an aggregate hook.
type Input struct {
	Name        []byte
	ContentType []byte // empty when unknown
	Data        []byte
}

// Request is the input of a request hook.
type Request struct {
	// Body is the node's input.
	Body    []byte
	headers []byte
}

// Header returns the value of the first header called name, compared
// case-insensitively, and whether it was found.
func (r *Request) Header(name string) ([]byte, bool) {
	var value []byte
	found := false
	r.VisitHeaders(func(n, v []byte) bool {
		if len(n) == len(name) && bytes.EqualFold(n, []byte(name)) {
			value, found = v, true
			return false
		}
		return true
	})
	return value, found
}

// VisitHeaders calls visit for each header in order until it returns false.
func (r *Request) VisitHeaders(visit func(name, value []byte) bool) {
	p := r.headers
	for len(p) > 0 {
		name, rest, ok := nextFrame(p)
		if !ok {
			return
		}
		value, rest, ok := nextFrame(rest)
		if !ok {
			return
		}
		if !visit(name, value) {
			return
		}
		p = rest
	}
}

var handlers struct {
	init      func(config []byte) error
	request   func(*Request) Status
	response  func(output []byte) Status
	event     func(event []byte) Status
	aggregate func(inputs []Input) Status
	route     func(output []byte, successors [][]byte) Status
}

// OnInit registers the function that receives the plugin's configuration
// (the config table of its [plugins.NAME] section, as JSON; empty when
// there is none). It runs once per instance before any hook. An error
// fails the plugin's loading with the error's text.
func OnInit(f func(config []byte) error) { handlers.init = f }

// OnRequest registers the request hook, run before a node's service is
// called. It may Write a new body and return OK, change headers with
// SetHeader and DeleteHeader, or respond in place of the service with
// Respond.
func OnRequest(f func(*Request) Status) { handlers.request = f }

// OnResponse registers the response hook, run on a node's output.
func OnResponse(f func(output []byte) Status) { handlers.response = f }

// OnEvent registers the hook run on each server-sent event of a streamed
// output. Returning OK with nothing written drops the event.
func OnEvent(f func(event []byte) Status) { handlers.event = f }

// OnAggregate registers the hook that combines the outputs of several
// predecessors into one input. The inputs slice is reused across calls.
func OnAggregate(f func(inputs []Input) Status) { handlers.aggregate = f }

// OnRoute registers the hook that chooses which successors run: it calls
// Select for each, then returns OK; or it returns Unchanged to run all.
func OnRoute(f func(output []byte, successors [][]byte) Status) { handlers.route = f }

// output collects what a hook writes; it is sent to the host in one call
// when the hook returns.
var output []byte

// maxKeptOutput is the largest output buffer kept for the next call;
// a larger one is released to the garbage collector.
const maxKeptOutput = 1 << 20

// Write appends p to the hook's output.
func Write(p []byte) { output = append(output, p...) }

// WriteString appends s to the hook's output.
func WriteString(s string) { output = append(output, s...) }

// Output returns the output written so far, for hooks that build it in
// place: append to the result and pass it to SetOutput.
func Output() []byte { return output }

// SetOutput replaces the hook's output with p, which may be the slice
// returned by Output with more appended.
func SetOutput(p []byte) { output = p }

// Select marks a successor to run, from a route hook.
func Select(name []byte) { output = appendFrame(output, name) }

// SelectString is Select for a string.
func SelectString(name string) { output = appendFrame(output, []byte(name)) }

// Fail discards the output and returns a failure with an HTTP status from
// 400 to 599 and message, which the host logs and reports to the client.
func Fail(status int, message string) Status {
	output = append(output[:0], message...)
	if status < 400 || status > 599 {
		status = 500
	}
	return Status(status)
}

// Failf is Fail with a formatted message.
func Failf(status int, format string, args ...any) Status {
	return Fail(status, fmt.Sprintf(format, args...))
}

// Respond sends status (200 to 399) and body to the client in place of
// calling the node's service. Request hook only.
func Respond(status int, body []byte) Status {
	if status < 200 || status > 399 {
		return Failf(500, "Respond: status %d is outside 200-399", status)
	}
	output = append(output[:0], body...)
	return Status(status)
}

// SetHeader sets an outgoing header, replacing any of the same name;
// request hook only.
func SetHeader(name, value string) { hostSetHeader(name, value) }

// DeleteHeader removes an outgoing header; request hook only.
func DeleteHeader(name string) { hostDeleteHeader(name) }

// Log sends a message to the host's log, tagged with the plugin's name.
// The host rate-limits plugin logs.
func Log(level Level, message string) { hostLog(level, message) }

// Logf is Log with a formatted message.
func Logf(level Level, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }
