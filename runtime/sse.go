package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Server-sent events, as the WHATWG HTML standard defines text/event-stream:
// an event is a run of lines ended by a blank line, and a line starting
// "data:" carries the event's data.

// maxEventBytes bounds one event, so a stream never holds more than this
// in memory however long it runs.
const maxEventBytes = 1 << 20

var errEventTooLarge = errors.New("server-sent event larger than 1 MiB")

// eventReader splits a text/event-stream body into events.
type eventReader struct {
	r   *bufio.Reader
	buf []byte
}

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// next returns the next event, its terminating blank line included. The
// slice is valid until the next call. At the end of the body it returns
// io.EOF; a final event without its blank line is returned first, with one
// added. Any other error means the body broke off.
func (er *eventReader) next() ([]byte, error) {
	er.buf = er.buf[:0]
	for {
		line, err := er.r.ReadSlice('\n')
		if len(er.buf)+len(line) > maxEventBytes {
			return nil, errEventTooLarge
		}
		er.buf = append(er.buf, line...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(bytes.TrimSpace(er.buf)) == 0 {
				return nil, io.EOF
			}
			if !bytes.HasSuffix(er.buf, []byte("\n")) {
				er.buf = append(er.buf, '\n')
			}
			return append(er.buf, '\n'), nil
		case err != nil:
			return nil, err
		}
		if isBlankLine(line) {
			if len(er.buf) == len(line) {
				// Blank lines between events carry nothing.
				er.buf = er.buf[:0]
				continue
			}
			return er.buf, nil
		}
	}
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 || (len(line) == 2 && line[0] == '\r')
}

var (
	dataPrefix = []byte("data:")
	doneData   = []byte("[DONE]")
)

// eventKind classifies an event for token metrics.
type eventKind uint8

const (
	eventOther eventKind = iota // comments, role-only or empty deltas, metadata
	eventToken                  // carries generated content
	eventDone                   // OpenAI's "data: [DONE]"
)

// classifyEvent reports whether an event carries content, as eventText
// reads it: an OpenAI chat.completion.chunk with a non-empty
// choices[0].delta.content (or a completion's text), a TGI event with a
// non-special token.text, OPEA's "data: b'...'" with something between the
// quotes, or plain text data. "[DONE]" and empty or role-only deltas are
// not tokens. An OpenAI chunk is read without decoding it, since this runs
// once per streamed token.
func classifyEvent(event []byte) eventKind {
	data := bytes.TrimSpace(eventData(event))
	switch {
	case len(data) == 0:
		return eventOther
	case bytes.Equal(data, doneData):
		return eventDone
	}
	if text, ok := eventText(data); ok && len(text) > 0 {
		return eventToken
	}
	return eventOther
}
