package runtime

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
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
		ev := append([]byte("data: "), appendPythonBytes(nil, tok)...)
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
// eventText) and whether it is the end marker.
func streamedText(event []byte) (text []byte, done bool) {
	data := eventData(event)
	switch {
	case len(data) == 0:
		return nil, false
	case bytes.Equal(bytes.TrimSpace(data), doneData):
		return nil, true
	}
	text, _ = eventText(data)
	return text, false
}
