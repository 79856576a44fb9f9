package config

import (
	"strconv"
	"strings"
)

// Position is a place in a configuration file. Line and Col start at 1;
// Col counts bytes, like Go's own compiler messages. The zero Position
// means the place is unknown.
type Position struct {
	Line, Col int
}

// IsValid reports whether the position is known.
func (p Position) IsValid() bool { return p.Line > 0 }

// positionIndex maps key paths to where they are defined in the source.
// BurntSushi/toml v1.6.0 keeps key positions private and does not index
// the elements of an array of tables, so the index comes from a small
// scanner of its own that runs only on text the TOML parser has accepted.
//
// A path is the chain of keys from the root, with array elements as
// decimal indexes: ["flows", "chatqna", "nodes", "2", "after", "0"].
type positionIndex struct {
	pos map[string]Position
	// arrays counts the elements of each array of tables seen so far.
	arrays map[string]int
}

func pathKey(path []string) string { return strings.Join(path, "\x1f") }

// lookup returns where path is defined.
func (x *positionIndex) lookup(path []string) (Position, bool) {
	p, ok := x.pos[pathKey(path)]
	return p, ok
}

// nearest returns the position of path or, when path is not in the file,
// of its closest ancestor that is.
func (x *positionIndex) nearest(path []string) Position {
	for n := len(path); n > 0; n-- {
		if p, ok := x.pos[pathKey(path[:n])]; ok {
			return p
		}
	}
	return Position{}
}

// defined reports whether the file sets path, either as a key or a table.
func (x *positionIndex) defined(path []string) bool {
	_, ok := x.pos[pathKey(path)]
	return ok
}

// indexPositions scans TOML source that has already parsed without error
// and records the position of every table header, key and array element.
// A table made implicitly by a dotted key or a deeper header gets the
// position of its first mention; an explicit header replaces it.
func indexPositions(src []byte) *positionIndex {
	s := &scanner{src: src, line: 1, col: 1}
	x := &positionIndex{pos: map[string]Position{}, arrays: map[string]int{}}
	var table []string
	for guard := 0; guard <= len(src) && !s.eof(); guard++ {
		s.skipBlank(false)
		if s.eof() {
			break
		}
		switch c := s.peek(); {
		case c == '\n' || c == '#':
			s.skipLine()
		case c == '[':
			table = x.header(s)
			s.skipLine()
		default:
			x.keyValue(s, table)
			s.skipLine()
		}
	}
	return x
}

// header reads "[a.b]" or "[[a.b]]" and returns the table path it opens.
func (x *positionIndex) header(s *scanner) []string {
	at := s.position()
	s.next() // '['
	isArray := s.peek() == '['
	if isArray {
		s.next()
	}
	keys, _ := s.readKey()
	path := x.resolve(keys[:len(keys)-1])
	path = append(path, keys[len(keys)-1])
	if isArray {
		k := pathKey(path)
		n := x.arrays[k]
		x.arrays[k] = n + 1
		x.mark(path, at, false)
		path = append(path, strconv.Itoa(n))
	}
	x.mark(path, at, true)
	return path
}

// resolve turns header keys into a path, sending each key that names an
// array of tables to that array's last element, as TOML does.
func (x *positionIndex) resolve(keys []string) []string {
	var path []string
	for _, k := range keys {
		path = append(path, k)
		if n, ok := x.arrays[pathKey(path)]; ok {
			path = append(path, strconv.Itoa(n-1))
		}
	}
	return path
}

// mark records pos for path and for its parents that have no position yet.
// explicit replaces an earlier implicit mention of path itself.
func (x *positionIndex) mark(path []string, pos Position, explicit bool) {
	for n := 1; n < len(path); n++ {
		k := pathKey(path[:n])
		if _, ok := x.pos[k]; !ok {
			x.pos[k] = pos
		}
	}
	k := pathKey(path)
	if _, ok := x.pos[k]; !ok || explicit {
		x.pos[k] = pos
	}
}

// keyValue reads "key = value" inside the table at base.
func (x *positionIndex) keyValue(s *scanner, base []string) {
	at := s.position()
	keys, ok := s.readKey()
	if !ok {
		return
	}
	if s.position() == at {
		// Not a key: skip one byte so the caller's loop makes progress.
		s.next()
		return
	}
	path := append(append([]string(nil), base...), keys...)
	x.mark(path, at, true)
	s.skipBlank(false)
	if s.peek() == '=' {
		s.next()
	}
	s.skipBlank(false)
	x.value(s, path)
}

// value reads one value; inline tables and arrays are indexed below path.
func (x *positionIndex) value(s *scanner, path []string) {
	switch s.peek() {
	case '{':
		s.next()
		for guard := 0; guard <= len(s.src) && !s.eof(); guard++ {
			s.skipBlank(true)
			switch s.peek() {
			case '}':
				s.next()
				return
			case ',':
				s.next()
				continue
			}
			x.keyValue(s, path)
		}
	case '[':
		s.next()
		i := 0
		for guard := 0; guard <= len(s.src) && !s.eof(); guard++ {
			s.skipBlank(true)
			switch s.peek() {
			case ']':
				s.next()
				return
			case ',':
				s.next()
				continue
			}
			elem := append(append([]string(nil), path...), strconv.Itoa(i))
			at := s.position()
			x.mark(elem, at, true)
			x.value(s, elem)
			if s.position() == at {
				s.next() // not a value; keep the loop moving
			}
			i++
		}
	case '"', '\'':
		s.readString()
	default:
		s.readScalar()
	}
}

// scanner walks TOML source byte by byte, tracking line and column.
type scanner struct {
	src       []byte
	i         int
	line, col int
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *scanner) hasPrefix(p string) bool {
	return strings.HasPrefix(string(s.src[s.i:min(len(s.src), s.i+len(p))]), p)
}

func (s *scanner) next() byte {
	c := s.src[s.i]
	s.i++
	if c == '\n' {
		s.line, s.col = s.line+1, 1
	} else {
		s.col++
	}
	return c
}

func (s *scanner) position() Position { return Position{Line: s.line, Col: s.col} }

// skipBlank skips spaces and tabs; with newlines set it also skips line
// breaks and comments, as inside arrays and inline tables.
func (s *scanner) skipBlank(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.next()
		case newlines && c == '\n':
			s.next()
		case newlines && c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.next()
			}
		default:
			return
		}
	}
}

// skipLine skips the rest of the line, a comment included.
func (s *scanner) skipLine() {
	for !s.eof() {
		if s.next() == '\n' {
			return
		}
	}
}

// readKey reads a dotted key up to '=' or ']' and returns its parts.
func (s *scanner) readKey() ([]string, bool) {
	var keys []string
	for guard := 0; guard <= len(s.src) && !s.eof(); guard++ {
		s.skipBlank(false)
		var k string
		switch s.peek() {
		case '"', '\'':
			k = s.readString()
		default:
			start := s.i
			for !s.eof() && isBareKeyByte(s.peek()) {
				s.next()
			}
			k = string(s.src[start:s.i])
		}
		keys = append(keys, k)
		s.skipBlank(false)
		switch s.peek() {
		case '.':
			s.next()
		case ']':
			s.next()
			if s.peek() == ']' {
				s.next()
			}
			return keys, true
		default:
			return keys, len(keys) > 0
		}
	}
	return keys, len(keys) > 0
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// readString reads a basic, literal or multi-line string and returns its
// text. Escapes are kept as written except \" and \\, which is enough for
// keys, the only strings whose text the index needs.
func (s *scanner) readString() string {
	quote := s.peek()
	triple := strings.Repeat(string(quote), 3)
	if s.hasPrefix(triple) {
		for range 3 {
			s.next()
		}
		start := s.i
		for !s.eof() && !s.hasPrefix(triple) {
			if quote == '"' && s.peek() == '\\' {
				s.next()
			}
			if !s.eof() {
				s.next()
			}
		}
		text := string(s.src[start:s.i])
		for range 3 {
			if !s.eof() {
				s.next()
			}
		}
		// Up to two more quotes right before the delimiter belong to the text.
		for extra := 0; extra < 2 && s.peek() == quote; extra++ {
			s.next()
		}
		return text
	}
	s.next()
	var b strings.Builder
	for !s.eof() && s.peek() != quote && s.peek() != '\n' {
		c := s.next()
		if quote == '"' && c == '\\' && !s.eof() {
			c = s.next()
		}
		b.WriteByte(c)
	}
	if s.peek() == quote {
		s.next()
	}
	return b.String()
}

// readScalar reads a number, boolean or date. A date and a time may be
// separated by one space, as TOML allows.
func (s *scanner) readScalar() {
	start := s.i
	for !s.eof() {
		c := s.peek()
		if c == ' ' && s.i-start == 10 && s.i+1 < len(s.src) && s.src[s.i+1] >= '0' && s.src[s.i+1] <= '9' {
			s.next()
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' || c == '#' {
			return
		}
		s.next()
	}
}
