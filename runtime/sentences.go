package runtime

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// Streamed post-processing: a node marked StreamSentences after a
// streaming LLM node takes the LLM's stream as it goes, one sentence at a
// time, calls its own service with {"text": SENTENCE} for each, and emits
// the replies to the client as stream events in order. This is how an
// output guardrail checks streamed text, and it follows OPEA's
// orchestrator: a sentence ends at . ? ! 。 ， ！ or the end of the stream,
// the reply's "text" is split into word tokens, and each token is sent as
// OPEA's "data: b'...'" event, then "data: [DONE]".

// sentenceEnds are the characters that end a sentence, as OPEA's
// orchestrator cuts a stream.
var sentenceEnds = []rune{'.', '?', '!', '。', '，', '！'}

// tokenPattern splits a reply into tokens the way OPEA does: a word with
// at most one whitespace character on each side.
var tokenPattern = regexp.MustCompile(`\s?\S+\s?`)

// sentenceSource turns an upstream stream into the events of a streamed
// post-processing node. It is used by one goroutine, the stream writer.
type sentenceSource struct {
	rs      *runState
	node    *planNode
	src     *upstreamStream
	call    Call   // the node's per-sentence service call
	pending []byte // text not yet ending in a sentence end
	out     [][]byte
	done    bool
	err     error
}

func newSentenceSource(rs *runState, node *planNode, src *upstreamStream) *sentenceSource {
	s := &sentenceSource{rs: rs, node: node, src: src}
	s.call.Node, s.call.Service = node.Name, node.Service
	return s
}

// next returns the next event for the client; io.EOF after [DONE].
func (s *sentenceSource) next() ([]byte, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		if s.done {
			return nil, io.EOF
		}
		s.fill()
	}
	ev := s.out[0]
	s.out = s.out[1:]
	return ev, nil
}

// fill reads upstream events until a sentence is complete or the stream
// ends, and queues the events of the service's reply.
func (s *sentenceSource) fill() {
	for {
		ev, err := s.src.next()
		last := false
		switch {
		case err == io.EOF:
			last = true
		case err != nil:
			s.err = err
			return
		default:
			text, isDone := streamedText(ev)
			s.pending = append(s.pending, text...)
			last = isDone
		}
		if last || endsSentence(s.pending) {
			if len(bytes.TrimSpace(s.pending)) > 0 {
				if err := s.process(); err != nil {
					s.err = err
					return
				}
			}
			s.pending = s.pending[:0]
			if last {
				s.out = append(s.out, []byte("data: [DONE]\n\n"))
				s.done = true
			}
			return
		}
	}
}

// process sends the pending sentence to the node's service and queues its
// reply as token events.
func (s *sentenceSource) process() error {
	c := &s.call
	c.reset()
	c.requestID, c.traceparent, c.deadline = s.rs.reqID, s.rs.trace, s.rs.deadline
	body := appendJSONString([]byte(`{"text":`), s.pending)
	c.SetInput(append(body, '}'))
	c.SetInputType(jsonType)
	if err := s.node.Exec.Execute(s.rs, c); err != nil {
		return executorError(err, s.node)
	}
	reply := c.Output
	var v struct {
		Text *string `json:"text"`
	}
	if json.Unmarshal(reply, &v) == nil && v.Text != nil {
		reply = []byte(*v.Text)
	} else if json.Valid(reply) {
		return &Error{Status: 502, Message: `streamed post-processing needs a reply with a "text" field`, Service: serviceName(s.node), Node: s.node.Name}
	}
	for _, tok := range tokenPattern.FindAll(reply, -1) {
		ev := append([]byte("data: "), appendBytesRepr(nil, tok)...)
		s.out = append(s.out, append(ev, "\n\n"...))
	}
	return nil
}

func (s *sentenceSource) close(err error) { s.src.close(err) }

// endsSentence reports whether b ends with a sentence end, trailing
// whitespace aside: streamed tokens often carry the space after a period.
func endsSentence(b []byte) bool {
	r, _ := utf8.DecodeLastRune(bytes.TrimRight(b, " \t\r\n"))
	for _, end := range sentenceEnds {
		if r == end {
			return true
		}
	}
	return false
}

// streamedText returns the generated text an event carries (see
// classifyEvent for the formats) and whether it is the end marker.
func streamedText(event []byte) (text []byte, done bool) {
	for len(event) > 0 {
		var line []byte
		line, event, _ = bytes.Cut(event, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if !bytes.HasPrefix(line, dataPrefix) {
			continue
		}
		data := bytes.TrimPrefix(line[len(dataPrefix):], []byte(" "))
		switch {
		case bytes.Equal(bytes.TrimSpace(data), doneData):
			return text, true
		case len(data) >= 3 && data[0] == 'b' && (data[1] == '\'' || data[1] == '"'):
			text = append(text, parseBytesRepr(data)...)
		case len(data) > 0 && data[0] == '{':
			var c streamChunk
			if json.Unmarshal(data, &c) == nil {
				for _, ch := range c.Choices {
					text = append(text, ch.Delta.Content...)
					text = append(text, ch.Text...)
				}
				if c.Token != nil && !c.Token.Special {
					text = append(text, c.Token.Text...)
				}
			}
		default:
			text = append(text, data...)
		}
	}
	return text, false
}

// appendBytesRepr appends b as Python's repr of a bytes object, the form
// OPEA streams: b'...' with \\, \', \t, \n, \r and \xNN escapes, or b"..."
// when b holds a single quote and no double quote.
func appendBytesRepr(dst, b []byte) []byte {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	dst = append(dst, 'b', quote)
	for _, c := range b {
		switch {
		case c == '\\' || c == quote:
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, quote)
}

// parseBytesRepr decodes a Python bytes literal such as b'caf\xc3\xa9';
// what it cannot decode is returned as written.
func parseBytesRepr(lit []byte) []byte {
	lit = bytes.TrimSpace(lit)
	if len(lit) < 3 || lit[0] != 'b' || lit[len(lit)-1] != lit[1] {
		return lit
	}
	body := lit[2 : len(lit)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			out = append(out, c)
			continue
		}
		i++
		switch body[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'x':
			if i+2 < len(body) {
				if v, err := strconv.ParseUint(string(body[i+1:i+3]), 16, 8); err == nil {
					out = append(out, byte(v))
					i += 2
					continue
				}
			}
			out = append(out, '\\', 'x')
		default:
			out = append(out, body[i])
		}
	}
	return out
}
