package runtime

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// errorLogLimiter logs each caught error once, and repeats of the same
// error (same status, service, plugin and message) at most once per window,
// with the number of repeats left out in between.
type errorLogLimiter struct {
	logger *slog.Logger
	window time.Duration
	mu     sync.Mutex
	seen   map[string]*errorSeen
}

type errorSeen struct {
	last       time.Time
	suppressed int
}

// maxTrackedErrors bounds the limiter's memory; past it the table restarts.
const maxTrackedErrors = 1024

func newErrorLogLimiter(log *slog.Logger, window time.Duration) *errorLogLimiter {
	return &errorLogLimiter{logger: log, window: window, seen: map[string]*errorSeen{}}
}

func (l *errorLogLimiter) log(e *Error, requestID []byte, msg string) {
	key := strconv.Itoa(e.Status) + "|" + e.Service + "|" + e.Plugin + "|" + e.Message
	now := time.Now()
	l.mu.Lock()
	s := l.seen[key]
	if s == nil {
		if len(l.seen) >= maxTrackedErrors {
			clear(l.seen)
		}
		s = &errorSeen{}
		l.seen[key] = s
	} else if now.Sub(s.last) < l.window {
		s.suppressed++
		l.mu.Unlock()
		return
	}
	repeats := s.suppressed
	s.last, s.suppressed = now, 0
	l.mu.Unlock()

	attrs := []any{"request_id", string(requestID), "status", e.Status, "error", e.Error()}
	if e.Service != "" {
		attrs = append(attrs, "service", e.Service)
	}
	if e.Node != "" && e.Node != e.Service {
		attrs = append(attrs, "node", e.Node)
	}
	if e.Plugin != "" {
		attrs = append(attrs, "plugin", e.Plugin)
	}
	if repeats > 0 {
		attrs = append(attrs, "repeated", repeats)
	}
	l.logger.Error(msg, attrs...)
}
