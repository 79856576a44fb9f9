package load

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Body produces request bodies. AppendBody must be safe for concurrent use.
type Body interface {
	// AppendBody appends the body of request number seq (counting from 0
	// at the start of the run, warmup included) to dst and returns it.
	AppendBody(dst []byte, seq uint64) []byte
	// Static reports whether every request gets the same body, so that a
	// connection can set it once and reuse it.
	Static() bool
}

// StaticBody sends the same bytes with every request.
type StaticBody []byte

// AppendBody appends the fixed body.
func (b StaticBody) AppendBody(dst []byte, _ uint64) []byte { return append(dst, b...) }

// Static reports true.
func (b StaticBody) Static() bool { return true }

// SizedBody returns a JSON object of exactly size bytes, {"text":"aaa…"},
// so that it passes through services that expect JSON. Sizes below the 11
// bytes of {"text":""} are raised to 11.
func SizedBody(size int) StaticBody {
	const wrapper = len(`{"text":""}`)
	size = max(size, wrapper)
	b := make([]byte, 0, size)
	b = append(b, `{"text":"`...)
	for range size - wrapper {
		b = append(b, 'a')
	}
	return append(b, `"}`...)
}

// Template is a body with placeholders filled per request:
//
//	{{seq}}       the request number, counting from 0
//	{{random N}}  N random lowercase ASCII letters
//
// For example {"id":{{seq}},"text":"{{random 32}}"}.
type Template struct {
	parts []templatePart
}

type templatePart struct {
	literal string
	kind    byte // 0 literal, 's' seq, 'r' random
	n       int
}

// ParseTemplate parses a body template. The error names the unknown
// placeholder.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			t.parts = append(t.parts, templatePart{literal: s})
			return t, nil
		}
		end := strings.Index(s[open:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("invalid body template: %q has no closing }}", s[open:])
		}
		t.parts = append(t.parts, templatePart{literal: s[:open]})
		field := strings.Fields(s[open+2 : open+end])
		part, err := parsePlaceholder(field)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, part)
		s = s[open+end+2:]
	}
}

func parsePlaceholder(field []string) (templatePart, error) {
	switch {
	case len(field) == 1 && field[0] == "seq":
		return templatePart{kind: 's'}, nil
	case len(field) == 2 && field[0] == "random":
		n, err := strconv.Atoi(field[1])
		if err != nil || n < 0 {
			return templatePart{}, fmt.Errorf("invalid body template placeholder {{random %s}}: the length must be a non-negative integer", field[1])
		}
		return templatePart{kind: 'r', n: n}, nil
	}
	return templatePart{}, fmt.Errorf("unknown body template placeholder {{%s}}: use {{seq}} or {{random N}}", strings.Join(field, " "))
}

// AppendBody appends the body of request seq with its placeholders filled.
func (t *Template) AppendBody(dst []byte, seq uint64) []byte {
	for _, p := range t.parts {
		switch p.kind {
		case 's':
			dst = strconv.AppendUint(dst, seq, 10)
		case 'r':
			for range p.n {
				dst = append(dst, byte('a'+rand.IntN(26)))
			}
		default:
			dst = append(dst, p.literal...)
		}
	}
	return dst
}

// Static reports whether the template has no placeholders.
func (t *Template) Static() bool {
	for _, p := range t.parts {
		if p.kind != 0 {
			return false
		}
	}
	return true
}
