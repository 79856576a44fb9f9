package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"
)

var (
	dataPrefix = []byte("data:")
	doneData   = []byte("[DONE]")
)

// readEvents reads a text/event-stream response body line by line and
// records the arrival time of each "data:" event as one token, following
// the event stream format of the WHATWG HTML standard, section 9.2. A body
// that is not streamed is parsed the same way, but then every token arrives
// at once.
func (w *worker) readEvents(scheduled time.Time) {
	w.out.stream = true
	stream := w.resp.BodyStream()
	if stream == nil {
		body := w.resp.Body()
		w.out.bytes = len(body)
		w.reader.Reset(bytes.NewReader(body))
	} else {
		w.reader.Reset(stream)
		defer w.resp.CloseBodyStream()
	}

	var first, last time.Time
	for {
		line, err := w.reader.ReadSlice('\n')
		if stream != nil {
			w.out.bytes += len(line)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// An event longer than the buffer: its start has been seen,
			// so skip the rest of the line.
			err = nil
		}
		if bytes.HasPrefix(line, dataPrefix) && !bytes.Equal(bytes.TrimSpace(line[len(dataPrefix):]), doneData) {
			now := time.Now()
			if w.out.tokens == 0 {
				first = now
				w.out.ttft = now.Sub(scheduled)
			} else {
				w.out.gaps = append(w.out.gaps, now.Sub(last))
			}
			last = now
			w.out.tokens++
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.out.err = err
			}
			break
		}
	}
	w.out.decode = last.Sub(first)
}
