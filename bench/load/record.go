package load

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// counts are the counters of one shard or one collection interval.
type counts struct {
	responses, succeeded, bytes     int64
	connect, timeout, closed, other int64
	status                          map[int]int64
	samples                         map[string]string
	streams, tokens                 int64
	streamRateSum                   float64
	streamRateCount                 int64
}

func (c *counts) errors() int64 {
	n := c.connect + c.timeout + c.closed + c.other
	for _, v := range c.status {
		n += v
	}
	return n
}

func (c *counts) add(o *counts) {
	c.responses += o.responses
	c.succeeded += o.succeeded
	c.bytes += o.bytes
	c.connect += o.connect
	c.timeout += o.timeout
	c.closed += o.closed
	c.other += o.other
	for code, n := range o.status {
		if c.status == nil {
			c.status = map[int]int64{}
		}
		c.status[code] += n
	}
	for kind, msg := range o.samples {
		c.addSample(kind, msg)
	}
	c.streams += o.streams
	c.tokens += o.tokens
	c.streamRateSum += o.streamRateSum
	c.streamRateCount += o.streamRateCount
}

func (c *counts) addSample(kind, msg string) {
	if c.samples == nil {
		c.samples = map[string]string{}
	}
	if _, ok := c.samples[kind]; !ok {
		c.samples[kind] = msg
	}
}

// addError counts a transport error under its kind.
func (c *counts) addError(err error) {
	kind := classifyError(err)
	switch kind {
	case "connect":
		c.connect++
	case "timeout":
		c.timeout++
	case "closed":
		c.closed++
	default:
		c.other++
	}
	c.addSample(kind, err.Error())
}

// classifyError sorts a client error into connect, timeout, closed or other.
func classifyError(err error) string {
	var opErr *net.OpError
	switch {
	case errors.Is(err, fasthttp.ErrDialTimeout):
		return "connect"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connect"
	case strings.HasPrefix(err.Error(), "couldn't find dns entries"):
		// fasthttp found no address of the dialed family for the host; its
		// error value is unexported, so only the message identifies it.
		return "connect"
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return "closed"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timeout"
	}
	return "other"
}

// shard is one lock-protected slice of the recorder. Each connection
// records into one shard, so connections rarely contend, and the collector
// empties every shard once per interval.
type shard struct {
	mu      sync.Mutex
	latency *hdrhistogram.Histogram
	ttft    *hdrhistogram.Histogram // nil unless SSE
	itl     *hdrhistogram.Histogram // nil unless SSE
	counts  counts
}

func newShard(sse bool) *shard {
	s := &shard{latency: newHistogram()}
	if sse {
		s.ttft = newHistogram()
		s.itl = newHistogram()
	}
	return s
}

// outcome is the result of one request.
type outcome struct {
	err     error
	status  int
	bytes   int
	latency time.Duration
	// errorBody is the start of an error response's body, set only for
	// the first response with each status code on a connection.
	errorBody string

	// SSE only.
	stream bool
	ttft   time.Duration
	gaps   []time.Duration
	tokens int
	// decode is the time from first to last token.
	decode time.Duration
}

func (s *shard) record(o *outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.err != nil {
		s.counts.addError(o.err)
		return
	}

	s.counts.responses++
	s.counts.bytes += int64(o.bytes)
	recordDuration(s.latency, o.latency)
	if o.status >= 400 {
		if s.counts.status == nil {
			s.counts.status = map[int]int64{}
		}
		s.counts.status[o.status]++
		if o.errorBody != "" {
			s.counts.addSample(fmt.Sprintf("status %d", o.status), o.errorBody)
		}
	} else {
		s.counts.succeeded++
	}
	if !o.stream {
		return
	}

	s.counts.streams++
	s.counts.tokens += int64(o.tokens)
	if o.tokens > 0 {
		recordDuration(s.ttft, o.ttft)
	}
	for _, gap := range o.gaps {
		recordDuration(s.itl, gap)
	}
	if o.tokens >= 2 && o.decode > 0 {
		s.counts.streamRateSum += float64(o.tokens-1) / o.decode.Seconds()
		s.counts.streamRateCount++
	}
}
