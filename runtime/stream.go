package runtime

import (
	"bytes"
	"context"
	"io"
	"sync"

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
// for the server to forward. Any other response is read whole, as Execute
// does. Failed attempts are retried as Execute retries them, which can
// only happen before the first event reaches the client.
func (u *Upstream) executeStream(ctx context.Context, call *Call) error {
	return u.callService(ctx, call, true)
}

// streamAttempt makes one streaming exchange with replica r. On success
// with an event stream, the replica stays acquired until the stream is
// closed.
func (u *Upstream) streamAttempt(r *replica, call *Call, forgiveClosed bool) *Error {
	deadline, cutShort := u.attemptDeadline(call)
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
		fasthttp.ReleaseResponse(resp)
		return u.failAttempt(r, err, cutShort, forgiveClosed)
	}

	status := resp.StatusCode()
	if status < 400 && bytes.HasPrefix(resp.Header.ContentType(), eventStreamType) {
		call.Status = status
		call.SetOutputType(resp.Header.ContentType())
		call.stream = &upstreamStream{up: u, replica: r, resp: resp, events: newEventReader(resp.BodyStream())}
		return nil
	}

	resp.Body() // reads the rest of the stream before the replica is released
	defer fasthttp.ReleaseResponse(resp)
	u.release(r, nil, status)
	return u.finishAttempt(call, status, resp)
}

// next returns the next event; see eventReader.next.
func (s *upstreamStream) next() ([]byte, error) { return s.events.next() }

// close ends the stream. Closing before the body was read to its end
// closes the upstream connection, which also interrupts a read blocked in
// another goroutine. err is the reason, nil for a complete stream.
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
