package runtime

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// upstreamStream is an open text/event-stream response of a service, handed
// from the node that called it to the server, which forwards it to the
// client event by event.
type upstreamStream struct {
	up      *Upstream
	replica *replica
	resp    *fasthttp.Response
	events  *eventReader
	// mu orders interrupt, called by the disconnect watch, with close.
	mu     sync.Mutex
	closed bool
}

var eventStreamType = []byte("text/event-stream")

// executeStream calls a streaming service for the output node. When the
// service responds with text/event-stream, the open body is left in call
// for the server to forward; any other response is read whole, as Execute
// does. Failed attempts are retried on another replica as Execute retries
// them, which can only happen here, before the first event reaches the
// client.
func (u *Upstream) executeStream(ctx context.Context, call *Call) error {
	if err := ctx.Err(); err != nil {
		return &Error{Status: 504, Message: "request ended before the service was called", Service: u.svc.Name, Err: err}
	}
	u.inFlight.Add(1)
	defer u.inFlight.Add(-1)

	var (
		prev       *replica
		last       *Error
		holdsRetry bool
	)
	for retries := 0; ; {
		r, err := u.acquire(prev)
		if err != nil {
			if holdsRetry {
				u.retrying.Add(-1)
			}
			if ae, ok := err.(*Error); ok && last != nil {
				ae.Err = last // for the log: why the previous attempt failed
			}
			return err
		}
		e := u.streamAttempt(r, call)
		if holdsRetry {
			u.retrying.Add(-1)
			holdsRetry = false
		}
		if e == nil {
			return nil
		}
		last = e
		if retries >= u.retries || !u.retryable(e) || ctx.Err() != nil {
			return e
		}
		if !u.takeRetry() {
			u.logRetry(call, r, retries, e, "not retrying: the retry budget is exhausted")
			return e
		}
		if !sleepBackoff(ctx, retries, call.Deadline()) {
			u.retrying.Add(-1)
			return e
		}
		holdsRetry = true
		u.logRetry(call, r, retries, e, "retrying streaming service call")
		retries++
		prev = r
	}
}

// streamAttempt makes one streaming exchange with replica r. On success
// the replica stays acquired until the stream is closed.
func (u *Upstream) streamAttempt(r *replica, call *Call) *Error {
	deadline := time.Now().Add(u.timeout)
	if d := call.Deadline(); !d.IsZero() && d.Before(deadline) {
		deadline = d
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	u.buildRequest(req, r, call)
	resp.StreamBody = true
	resp.Header.SetNoDefaultContentType(true)
	err := r.client.DoDeadline(req, resp, deadline)
	fasthttp.ReleaseRequest(req)
	call.upstreamAttempts++
	call.upstreamReplica = r.url
	if err != nil {
		u.release(r, err, 0)
		fasthttp.ReleaseResponse(resp)
		return u.transportError(err)
	}

	status := resp.StatusCode()
	call.Status = status
	if status < 400 && bytes.HasPrefix(resp.Header.ContentType(), eventStreamType) {
		call.SetOutputType(resp.Header.ContentType())
		call.stream = &upstreamStream{up: u, replica: r, resp: resp, events: newEventReader(resp.BodyStream())}
		return nil
	}

	body := resp.Body() // reads the rest of the stream
	defer fasthttp.ReleaseResponse(resp)
	u.release(r, nil, status)
	switch {
	case status >= 500:
		return &Error{Status: 502, Message: "service responded with an error", Service: u.svc.Name, UpstreamStatus: status}
	case status >= 400:
		return &Error{Status: status, Message: "service rejected the request", Service: u.svc.Name, UpstreamStatus: status}
	}
	call.SetOutput(body)
	call.SetOutputType(resp.Header.ContentType())
	return nil
}

// next returns the next event; see eventReader.next.
func (s *upstreamStream) next() ([]byte, error) { return s.events.next() }

// close ends the stream. Closing before the body was read to its end
// closes the upstream connection, which also interrupts a read blocked in
// another goroutine; err is the reason, nil for a complete stream.
func (s *upstreamStream) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	status := s.resp.StatusCode()
	s.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(s.resp)
	s.up.release(s.replica, err, status)
}

// interrupt closes the upstream connection from another goroutine, which
// makes a read blocked in next return an error; the reader still calls
// close.
func (s *upstreamStream) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.resp.CloseBodyStream()
	}
}

// drainStream reads a stream left in call into its output, for callers
// that want the whole response (Orchestrator.Schedule).
func (c *Call) drainStream() {
	if c.stream == nil {
		return
	}
	s := c.stream
	c.stream = nil
	c.SetOutput(nil)
	var err error
	for {
		var ev []byte
		ev, err = s.next()
		if err != nil {
			break
		}
		c.AppendOutput(ev)
	}
	if err == io.EOF {
		err = nil
	}
	s.close(err)
}
