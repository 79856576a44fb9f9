// Package load is megaflow's HTTP load generator. It drives one target URL in
// a closed loop (a fixed number of connections, each sending its next request
// when the previous response arrives) or an open loop (requests scheduled at a
// fixed rate), and records latency in HDR histograms.
//
// In the open loop, latency runs from each request's scheduled send time, not
// from the moment a connection became free to send it. A server stall
// therefore shows up in the latency of every request scheduled during the
// stall. This is the correction for coordinated omission that wrk2 applies
// (https://github.com/giltene/wrk2, README).
package load

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config describes one load run. The zero value is not usable: URL and at
// least one of Duration and Requests must be set. Validate fills defaults.
type Config struct {
	// URL is the target, with scheme http or https, host, port and path.
	URL string
	// Method is the HTTP method. Empty means GET, or POST when Body is set.
	Method string
	// Headers are sent with every request, in order.
	Headers []Header
	// Body produces each request's body. Nil sends no body.
	Body Body
	// ContentType is the Content-Type header of requests with a body.
	// Empty means application/json.
	ContentType string

	// Connections is the number of connections. In the closed loop each one
	// sends its next request when the previous response arrives. In the open
	// loop it is the maximum number of requests in flight, and requests due
	// while all connections are busy wait, with their latency still counted
	// from the scheduled time. Zero means 50.
	Connections int
	// Rate is the open-loop schedule in requests per second. Zero selects
	// the closed loop.
	Rate float64

	// Duration bounds the measured part of the run. Zero means no time
	// bound, and then Requests must be set.
	Duration time.Duration
	// Requests bounds the number of measured requests. Zero means no count
	// bound, and then Duration must be set.
	Requests int64
	// Warmup is sent before measurement starts and is left out of every
	// figure. Zero means no warmup.
	Warmup time.Duration
	// Timeout is the per-request deadline, from the actual send time until
	// the whole response (for SSE, the whole stream) has arrived. Zero
	// means 10 s.
	Timeout time.Duration

	// SSE reads each response as a text/event-stream and records the time
	// to first token, the inter-token latency and the token count, where
	// each "data:" event other than "[DONE]" counts as one token.
	SSE bool
	// AllowRemote permits a target whose host is not a loopback address.
	AllowRemote bool

	// Progress receives the live progress line. Nil prints nothing.
	Progress io.Writer
	// ProgressTTY rewrites one line in place with a carriage return instead
	// of printing a new line each ProgressInterval.
	ProgressTTY bool
	// ProgressInterval is the time between progress lines. Zero means 1 s
	// on a terminal and 5 s otherwise.
	ProgressInterval time.Duration

	// OnWindow, when set, is called with true when the measured window
	// opens (after the warmup) and with false when the run ends, so that
	// the caller can measure something over the same window, such as CPU
	// time. It runs on its own goroutine and must not block for long.
	OnWindow func(open bool)
}

// Header is one request header.
type Header struct {
	Name, Value string
}

// ParseHeader parses "Name: value" as given to curl's -H flag.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Header{}, fmt.Errorf("invalid header %q: write it as \"Name: value\"", s)
	}
	return Header{Name: name, Value: strings.TrimSpace(value)}, nil
}

// Validate checks the configuration and fills defaults. The error names the
// invalid value and the fix.
func (c *Config) Validate() error {
	if c.URL == "" {
		return errors.New("missing target URL: give one such as http://127.0.0.1:8000/v1/echo")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("invalid target URL %q: %w", c.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("invalid target URL %q: the scheme must be http or https", c.URL)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("invalid target URL %q: the host is missing", c.URL)
	}
	if !c.AllowRemote && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("target host %q is not a loopback address; pass --allow-remote to load a remote host", u.Hostname())
	}

	if c.Duration <= 0 && c.Requests <= 0 {
		return errors.New("the run has no bound: set a duration, a request count or both")
	}
	if c.Duration < 0 || c.Requests < 0 || c.Warmup < 0 || c.Timeout < 0 {
		return errors.New("duration, requests, warmup and timeout must not be negative")
	}
	if c.Rate < 0 {
		return fmt.Errorf("invalid rate %g: give requests per second, or 0 for the closed loop", c.Rate)
	}
	if c.Connections < 0 {
		return fmt.Errorf("invalid connection count %d: it must be positive", c.Connections)
	}

	if c.Connections == 0 {
		c.Connections = 50
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Method == "" {
		c.Method = "GET"
		if c.Body != nil {
			c.Method = "POST"
		}
	}
	c.Method = strings.ToUpper(c.Method)
	if c.ContentType == "" {
		c.ContentType = "application/json"
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 5 * time.Second
		if c.ProgressTTY {
			c.ProgressInterval = time.Second
		}
	}
	return nil
}

// IsLoopback reports whether host is "localhost" or a loopback IP literal
// (127.0.0.0/8 or ::1). Other names are not resolved, so a name that happens
// to resolve to a loopback address still counts as remote.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Mode returns "open" for a fixed-rate run and "closed" otherwise.
func (c *Config) Mode() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}
