package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// StreamFormat selects the server-sent events of a route's streamed
// responses.
type StreamFormat uint8

const (
	// StreamOpenAI sends OpenAI "chat.completion.chunk" objects, one per
	// event, then "data: [DONE]", as OpenAI client libraries expect.
	StreamOpenAI StreamFormat = iota
	// StreamOPEA sends each piece of text as a Python bytes literal,
	// "data: b'text'", then "data: [DONE]", as OPEA's ChatQnA gateway
	// and UI do.
	StreamOPEA
)

// ParseStreamFormat returns the format named "openai" or "opea".
func ParseStreamFormat(s string) (StreamFormat, error) {
	switch s {
	case "openai":
		return StreamOpenAI, nil
	case "opea":
		return StreamOPEA, nil
	}
	return 0, fmt.Errorf("invalid stream format %q; use openai or opea", s)
}

func (f StreamFormat) String() string {
	if f == StreamOPEA {
		return "opea"
	}
	return "openai"
}

// OpenAIChat is a RouteAPI that presents a flow as OpenAI's chat
// completions endpoint (POST /v1/chat/completions), with the request
// defaults of OPEA's ChatQnA gateway.
//
// Request accepts the chat completions body: "messages" as a string or as
// a list of messages whose content is a string or a list of parts, and the
// sampling, retrieval and rerank parameters OPEA's ChatCompletionRequest
// adds. The flow's input is {"text": PROMPT} as OPEA's gateway builds it,
// plus "images" with the URLs of image parts when there are any. The
// parameters are grouped by the node type that takes them:
//
//	{"llm": {...}, "retriever": {...}, "rerank": {...}}
//
// with OPEA ChatQnA's defaults for every key the client left out (listed
// below). ParamsFor injects each group into the nodes of its type.
//
// Response turns a non-streamed flow output into a "chat.completion"
// object. A streamed output is sent in the route's StreamFormat.
//
// OpenAIChat is safe for concurrent use; its fields must not change once
// the route serves requests.
type OpenAIChat struct {
	// Stream is the format of streamed responses.
	Stream StreamFormat
	// Model is the model name of responses whose flow output names none.
	// Empty means "megaflow".
	Model string
}

// The request defaults of OPEA's ChatQnA gateway (GenAIExamples
// ChatQnA/chatqna.py, handle_request), applied to keys the client left out
// or set to zero, null or an empty string, as that gateway does.
var (
	defaultLLMParams = []paramDefault{
		{"max_tokens", "1024"},
		{"top_k", "10"},
		{"top_p", "0.95"},
		{"temperature", "0.01"},
		{"frequency_penalty", "0.0"},
		{"presence_penalty", "0.0"},
		{"repetition_penalty", "1.03"},
	}
	// llmOptional are passed on only when the client sets them.
	llmOptional       = []string{"model", "chat_template", "stop", "n", "seed", "user", "typical_p"}
	defaultRetriever  = []paramDefault{{"search_type", `"similarity"`}, {"k", "4"}, {"fetch_k", "20"}, {"lambda_mult", "0.5"}, {"score_threshold", "0.2"}}
	retrieverOptional = []string{"distance_threshold"}
	defaultRerank     = []paramDefault{{"top_n", "1"}}
)

type paramDefault struct {
	key, value string
}

// chatRequest is the part of a chat completions body that Request checks
// or transforms; every other key is passed through as a parameter.
type chatRequest struct {
	Messages    json.RawMessage `json:"messages"`
	Stream      *bool           `json:"stream"`
	MaxTokens   *float64        `json:"max_tokens"`
	N           *float64        `json:"n"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	TopK        *float64        `json:"top_k"`
	Stop        json.RawMessage `json:"stop"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

// Request implements RouteAPI.
func (a *OpenAIChat) Request(state *APIState, body, input, params []byte) ([]byte, []byte, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, badRequest("request body is not a JSON object: %v", err)
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, badRequest("invalid chat completions request: %v", err)
	}
	if err := req.check(); err != nil {
		return nil, nil, err
	}
	prompt, images, err := promptOf(req.Messages)
	if err != nil {
		return nil, nil, err
	}

	input = append(input, `{"text":`...)
	input = appendJSONStringS(input, prompt)
	if len(images) > 0 {
		input = append(input, `,"images":`...)
		input, _ = appendJSONValue(input, images)
	}
	input = append(input, '}')

	stream := a.Stream == StreamOPEA // OPEA's gateway streams by default
	if req.Stream != nil {
		stream = *req.Stream
	}
	state.Stream = stream
	state.ID = completionIDs.Add(1)
	state.Created = time.Now().Unix()
	params = append(params, `{"llm":{"stream":`...)
	params = strconv.AppendBool(params, stream)
	params = appendParams(params, raw, defaultLLMParams, llmOptional)
	params = append(params, `},"retriever":{`...)
	params = appendParamsFirst(params, raw, defaultRetriever, retrieverOptional)
	params = append(params, `},"rerank":{`...)
	params = appendParamsFirst(params, raw, defaultRerank, nil)
	params = append(params, "}}"...)
	return input, params, nil
}

// check applies the range checks of OPEA's check_requests.
func (r *chatRequest) check() error {
	switch {
	case len(r.Messages) == 0 || string(r.Messages) == "null":
		return badRequest(`"messages" is required: a string or a list of {"role", "content"} messages`)
	case r.MaxTokens != nil && *r.MaxTokens < 1:
		return badRequest("max_tokens is %g; it must be at least 1", *r.MaxTokens)
	case r.N != nil && *r.N < 1:
		return badRequest("n is %g; it must be at least 1", *r.N)
	case r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2):
		return badRequest("temperature is %g; it must be from 0 to 2", *r.Temperature)
	case r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1):
		return badRequest("top_p is %g; it must be from 0 to 1", *r.TopP)
	case r.TopK != nil && *r.TopK > -1 && *r.TopK < 1:
		return badRequest("top_k is %g; set it to -1 or to 1 or more", *r.TopK)
	}
	if len(r.Stop) > 0 {
		switch r.Stop[0] {
		case '"', '[', 'n':
		default:
			return badRequest("stop must be a string or a list of strings")
		}
	}
	return nil
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: 400, Message: fmt.Sprintf(format, args...)}
}

// promptOf turns "messages" into the flow's prompt and the URLs of image
// parts. A string is the prompt itself, and so is the text of a
// conversation that is a single user message. A longer conversation is
// written one message per line as "ROLE: text", system messages first.
func promptOf(raw json.RawMessage) (string, []string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil, nil
	}
	var messages []chatMessage
	if err := json.Unmarshal(raw, &messages); err != nil {
		return "", nil, badRequest(`"messages" must be a string or a list of {"role", "content"} messages: %v`, err)
	}
	if len(messages) == 0 {
		return "", nil, badRequest(`"messages" is an empty list; send at least one message`)
	}
	var (
		images         []string
		system, dialog []string
		users          int
	)
	for i, m := range messages {
		text, imgs, err := contentText(m.Content)
		if err != nil {
			return "", nil, badRequest("messages[%d]: %v", i, err)
		}
		images = append(images, imgs...)

		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "user":
			users++
			dialog = append(dialog, "USER: "+text)
		case "assistant":
			dialog = append(dialog, "ASSISTANT: "+text)
		default:
			return "", nil, badRequest("messages[%d] has role %q; use system, user or assistant", i, m.Role)
		}
	}

	if users == 0 {
		return "", nil, badRequest(`"messages" has no user message`)
	}
	if len(system) == 0 && len(dialog) == 1 {
		return strings.TrimPrefix(dialog[0], "USER: "), images, nil
	}

	lines := make([]string, 0, len(system)+len(dialog))
	for _, s := range system {
		lines = append(lines, "SYSTEM: "+s)
	}
	lines = append(lines, dialog...)
	return strings.Join(lines, "\n"), images, nil
}

// contentText returns a message content's text, its text parts joined by
// newlines, and the URLs of its image parts.
func contentText(raw json.RawMessage) (string, []string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", nil, fmt.Errorf("content must be a string or a list of parts")
	}
	var texts, images []string
	for _, p := range parts {
		switch {
		case p.Type == "text":
			texts = append(texts, p.Text)
		case p.Type == "image_url" && p.ImageURL != nil:
			images = append(images, p.ImageURL.URL)
		}
	}
	return strings.Join(texts, "\n"), images, nil
}

// appendParams appends ,"key":value for each default, the client's value
// when it set a non-empty one, and for each optional key the client set.
// It starts with a comma because the llm group opens with "stream".
func appendParams(dst []byte, raw map[string]json.RawMessage, defaults []paramDefault, optional []string) []byte {
	for _, d := range defaults {
		dst = append(dst, ',')
		dst = appendJSONStringS(dst, d.key)
		dst = append(dst, ':')
		if v, ok := raw[d.key]; ok && !emptyJSON(v) {
			dst = append(dst, bytes.TrimSpace(v)...)
		} else {
			dst = append(dst, d.value...)
		}
	}
	for _, key := range optional {
		if v, ok := raw[key]; ok && !emptyJSON(v) {
			dst = append(dst, ',')
			dst = appendJSONStringS(dst, key)
			dst = append(dst, ':')
			dst = append(dst, bytes.TrimSpace(v)...)
		}
	}
	return dst
}

// appendParamsFirst is appendParams for a group that opens with them, so
// without the leading comma.
func appendParamsFirst(dst []byte, raw map[string]json.RawMessage, defaults []paramDefault, optional []string) []byte {
	start := len(dst)
	dst = appendParams(dst, raw, defaults, optional)
	if len(dst) > start {
		dst = append(dst[:start], dst[start+1:]...)
	}
	return dst
}

// emptyJSON reports whether v is a value OPEA's gateway replaces with its
// default: null, false, zero or an empty string or list.
func emptyJSON(v json.RawMessage) bool {
	switch string(bytes.TrimSpace(v)) {
	case "null", "false", "0", "0.0", `""`, "[]":
		return true
	}
	return false
}

func appendJSONValue(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// completion is the part of a flow output Response reads: an OpenAI
// chat.completion passes through, and OPEA's {"text": ...} becomes one.
type completion struct {
	Object  string          `json:"object"`
	Model   string          `json:"model"`
	Choices json.RawMessage `json:"choices"`
	Text    *string         `json:"text"`
}

var completionIDs atomic.Uint64

// Response implements RouteAPI. A flow output that already is a
// chat.completion object is passed on unchanged. An object with a "text"
// string, as OPEA's LLM microservices return, becomes the assistant's
// message, and so does any other output, as its text. When the client
// asked for a stream but the flow's output is not one (a guardrail that
// responded in place of the LLM, say), the text is sent as a stream of
// the route's format: one event and [DONE], as OPEA's orchestrator does.
func (a *OpenAIChat) Response(state *APIState, output, contentType, dst []byte) ([]byte, string, error) {
	var c completion
	isObject := json.Unmarshal(output, &c) == nil
	if isObject && c.Object == "chat.completion" && len(c.Choices) > 0 && !state.Stream {
		return append(dst, output...), "application/json", nil
	}
	text := string(output)
	if isObject && c.Text != nil {
		text = *c.Text
	}
	if state.Stream {
		if a.Stream == StreamOPEA {
			dst = append(dst, "data: "...)
			dst = appendPythonBytes(dst, []byte(text))
			dst = append(dst, "\n\n"...)
		} else {
			dst = a.appendChunk(state, dst, []byte(text))
		}
		return a.StreamEnd(state, dst), "text/event-stream", nil
	}
	dst = append(dst, `{"id":"chatcmpl-megaflow-`...)
	dst = strconv.AppendUint(dst, state.ID, 10)
	dst = append(dst, `","object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, state.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONStringS(dst, a.modelName(c.Model))
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	dst = appendJSONStringS(dst, text)
	dst = append(dst, `},"finish_reason":"stop"}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`...)
	return dst, "application/json", nil
}

func (a *OpenAIChat) modelName(fromOutput string) string {
	switch {
	case fromOutput != "":
		return fromOutput
	case a.Model != "":
		return a.Model
	}
	return "megaflow"
}

var (
	doneEvent = []byte("data: [DONE]\n\n")
	// chunkObject marks an OpenAI chunk that can be passed on unchanged.
	chunkObject = []byte(`"chat.completion.chunk"`)
)

// StreamEvent implements RouteAPI. It reads OpenAI chunks, TGI token
// events, OPEA's b'...' events and plain text data, drops the upstream's
// own [DONE] (StreamEnd sends one), and writes the route's StreamFormat.
// Events without text, such as a role-only first chunk, are dropped in the
// OPEA format, as OPEA's align_generator drops them, and passed on in the
// OpenAI format.
func (a *OpenAIChat) StreamEvent(state *APIState, event, dst []byte) ([]byte, error) {
	data := eventData(event)
	switch {
	case len(data) == 0 || bytes.Equal(data, doneData):
		return dst, nil
	case a.Stream == StreamOpenAI && data[0] == '{' && bytes.Contains(data, chunkObject):
		return append(dst, event...), nil
	case a.Stream == StreamOPEA && isPythonBytes(data):
		return append(append(append(dst, "data: "...), data...), "\n\n"...), nil
	}
	text, ok := eventText(data)
	if !ok {
		if a.Stream == StreamOpenAI {
			return append(dst, event...), nil // metadata of an unknown shape
		}
		return dst, nil
	}
	if a.Stream == StreamOPEA {
		dst = append(dst, "data: "...)
		dst = appendPythonBytes(dst, text)
		return append(dst, "\n\n"...), nil
	}
	return a.appendChunk(state, dst, text), nil
}

// StreamEnd implements RouteAPI: both formats end with "data: [DONE]".
func (a *OpenAIChat) StreamEnd(state *APIState, dst []byte) []byte {
	return append(dst, doneEvent...)
}

// appendChunk appends a chat.completion.chunk event carrying text, with
// the id and creation time every chunk of the response shares.
func (a *OpenAIChat) appendChunk(state *APIState, dst, text []byte) []byte {
	dst = append(dst, `data: {"id":"chatcmpl-megaflow-`...)
	dst = strconv.AppendUint(dst, state.ID, 10)
	dst = append(dst, `","object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, state.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONStringS(dst, a.modelName(""))
	dst = append(dst, `,"choices":[{"index":0,"delta":{"content":`...)
	dst = appendJSONString(dst, text)
	return append(dst, "},\"finish_reason\":null}]}\n\n"...)
}

// eventData returns the data of an event, its data lines joined by "\n"
// as the WHATWG HTML standard defines. It allocates only for an event
// with several data lines.
func eventData(event []byte) []byte {
	var data []byte
	lines := 0
	for len(event) > 0 {
		var line []byte
		line, event, _ = bytes.Cut(event, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if !bytes.HasPrefix(line, dataPrefix) {
			continue
		}
		value := line[len(dataPrefix):]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		lines++
		if lines == 1 {
			data = value
			continue
		}
		if lines == 2 {
			data = append([]byte(nil), data...)
		}
		data = append(append(data, '\n'), value...)
	}
	return bytes.TrimSpace(data)
}

// eventText returns the text an event's data carries: an OpenAI chunk's
// choices[0].delta.content (or a completion's text), a TGI token, OPEA's
// b'...' literal decoded, or plain text. ok is false for JSON without
// text, such as a role-only chunk.
func eventText(data []byte) (text []byte, ok bool) {
	switch {
	case isPythonBytes(data):
		return decodePythonBytes(data), true
	case data[0] == '{':
		if text, found := chunkContent(data); found {
			return text, text != nil
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content *string `json:"content"`
				} `json:"delta"`
				Text *string `json:"text"`
			} `json:"choices"`
			Token *struct {
				Text    string `json:"text"`
				Special bool   `json:"special"`
			} `json:"token"`
			Text *string `json:"text"`
		}
		if json.Unmarshal(data, &c) != nil {
			return nil, false
		}
		switch {
		case len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil:
			return []byte(*c.Choices[0].Delta.Content), true
		case len(c.Choices) > 0 && c.Choices[0].Text != nil:
			return []byte(*c.Choices[0].Text), true
		case c.Token != nil && !c.Token.Special:
			return []byte(c.Token.Text), true
		case c.Text != nil:
			return []byte(*c.Text), true
		}
		return nil, false
	}
	return data, true
}

var (
	choicesKey = []byte(`"choices"`)
	deltaKey   = []byte(`"delta"`)
	contentKey = []byte(`"content"`)
)

// chunkContent reads choices[0].delta.content of an OpenAI chunk without
// decoding the whole event, since it runs once per streamed token. found
// is false when data has no such member; text is nil when it is null.
func chunkContent(data []byte) (text []byte, found bool) {
	choices := memberValue(data, choicesKey)
	if len(choices) < 2 || choices[0] != '[' {
		return nil, false
	}
	i := skipSpace(choices, 1)
	first := choices[i:skipValue(choices, i)]
	content := memberValue(memberValue(first, deltaKey), contentKey)
	switch {
	case len(content) == 0:
		return nil, false
	case string(content) == "null":
		return nil, true
	case content[0] != '"' || len(content) < 2:
		return nil, false
	case bytes.IndexByte(content, '\\') < 0:
		return content[1 : len(content)-1], true
	}
	var s string
	if json.Unmarshal(content, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// Python bytes literals, as Python 3's repr(bytes) writes them: b'...' or
// b"...", with \\, the quote, \t, \n, \r and \xNN escapes.

func isPythonBytes(data []byte) bool {
	return len(data) >= 3 && data[0] == 'b' && (data[1] == '\'' || data[1] == '"') && data[len(data)-1] == data[1]
}

// appendPythonBytes appends repr(text) as Python writes it: single quotes
// unless text contains a single quote and no double quote.
func appendPythonBytes(dst, text []byte) []byte {
	quote := byte('\'')
	if bytes.IndexByte(text, '\'') >= 0 && bytes.IndexByte(text, '"') < 0 {
		quote = '"'
	}
	dst = append(dst, 'b', quote)
	for _, c := range text {
		switch {
		case c == '\\' || c == quote:
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, quote)
}

// decodePythonBytes decodes a b'...' literal; an unknown escape is kept
// as written, as Python keeps it.
func decodePythonBytes(lit []byte) []byte {
	body := lit[2 : len(lit)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			out = append(out, c)
			continue
		}
		i++
		switch e := body[i]; e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '\\', '\'', '"':
			out = append(out, e)
		case 'x':
			if i+2 < len(body) {
				if v, err := strconv.ParseUint(string(body[i+1:i+3]), 16, 8); err == nil {
					out = append(out, byte(v))
					i += 2
					continue
				}
			}
			out = append(out, '\\', e)
		default:
			out = append(out, '\\', e)
		}
	}
	return out
}
