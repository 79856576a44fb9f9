package runtime

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Error is a failure a client can act on: it carries the HTTP status the
// megaservice responds with and the service or plugin involved. Message is
// sent to the client, so it never contains secrets or upstream bodies; Err
// is the cause, logged but not sent.
type Error struct {
	// Status is the HTTP status for the client: 4xx for its own mistakes,
	// 502 for a bad or refused upstream, 503 when no replica can take the
	// call, 504 when a deadline passed, 500 for a failing plugin.
	Status int
	// Message is a stable, human-readable description.
	Message string
	// Service names the microservice involved, if any.
	Service string
	// Plugin names the Wasm plugin involved, if any.
	Plugin string
	// Node names the flow node involved, if any.
	Node string
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
	// UpstreamStatus is the upstream's response status, when it responded.
	UpstreamStatus int
	// Err is the underlying cause, for logs.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as an *Error, wrapping anything else as a 500.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: 500, Message: "internal error", Err: err}
}

// ErrCanceled is the cause recorded for nodes stopped because their request
// ended early: a required sibling failed, the deadline passed or the client
// went away.
var ErrCanceled = errors.New("canceled: the request ended before this node finished")

// appendErrorJSON appends the JSON error body sent to clients:
// {"error":..., "service":..., "plugin":..., "node":..., "request_id":...}.
// Empty fields are left out, except request_id.
func appendErrorJSON(dst []byte, e *Error, requestID []byte) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendJSONStringS(dst, e.Message)
	if e.Service != "" {
		dst = append(dst, `,"service":`...)
		dst = appendJSONStringS(dst, e.Service)
	}
	if e.Plugin != "" {
		dst = append(dst, `,"plugin":`...)
		dst = appendJSONStringS(dst, e.Plugin)
	}
	if e.Node != "" && e.Node != e.Service {
		dst = append(dst, `,"node":`...)
		dst = appendJSONStringS(dst, e.Node)
	}
	if e.UpstreamStatus != 0 {
		dst = append(dst, `,"upstream_status":`...)
		dst = strconv.AppendInt(dst, int64(e.UpstreamStatus), 10)
	}
	dst = append(dst, `,"request_id":`...)
	dst = appendJSONString(dst, requestID)
	return append(dst, '}')
}
