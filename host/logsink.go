package host

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// Guest output is logged one line per record, at most logBurst lines at
// once and logRate lines per second after that, per plugin. Lines past the
// limit are counted and the count is logged with the next line that passes.
const (
	logRate    = 20
	logBurst   = 50
	maxLogLine = 4096 // bytes; a longer line is cut and logged in parts
)

// logSink rate-limits the log lines of one plugin, from all its instances.
type logSink struct {
	logger *slog.Logger
	plugin string

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped uint64
}

func newLogSink(logger *slog.Logger, plugin string) *logSink {
	return &logSink{logger: logger, plugin: plugin, tokens: logBurst, last: time.Now()}
}

// allow takes a token, returning the number of lines dropped since the
// last allowed one.
func (s *logSink) allow() (ok bool, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tokens += now.Sub(s.last).Seconds() * logRate
	if s.tokens > logBurst {
		s.tokens = logBurst
	}
	s.last = now
	if s.tokens < 1 {
		s.dropped++
		return false, 0
	}
	s.tokens--
	dropped, s.dropped = s.dropped, 0
	return true, dropped
}

// log records one guest line; stream is "stdout", "stderr" or "log".
func (s *logSink) log(level slog.Level, stream string, line []byte) {
	if !s.logger.Enabled(context.Background(), level) {
		return
	}
	ok, dropped := s.allow()
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String("plugin", s.plugin), slog.String("stream", stream)}
	if dropped > 0 {
		attrs = append(attrs, slog.Uint64("dropped_lines", dropped))
	}
	s.logger.LogAttrs(context.Background(), level, string(line), attrs...)
}

// lineWriter is the io.Writer behind one instance's stdout or stderr. It is
// used by one goroutine at a time, because an instance runs one call at a
// time.
type lineWriter struct {
	sink    *logSink
	stream  string
	level   slog.Level
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) >= maxLogLine {
				w.flush()
			}
			break
		}
		w.partial = append(w.partial, p[:i]...)
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	line := w.partial
	for len(line) > maxLogLine {
		w.sink.log(w.level, w.stream, line[:maxLogLine])
		line = line[maxLogLine:]
	}
	w.sink.log(w.level, w.stream, line)
	w.partial = w.partial[:0]
}
