// Package jsonpath looks up values in JSON documents by dotted paths, for
// the bundled plugins. A path is a list of object keys and array indexes
// separated by dots: "messages.0.content"; a negative index counts from the
// end of the array. The empty path is the whole document.
//
// Get scans the document without decoding it, so it allocates nothing;
// callers should check the document with json.Valid first, because Get
// assumes valid JSON and may return nonsense for anything else.
package jsonpath

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Get returns the raw JSON value at path in doc, and whether it exists.
func Get(doc []byte, path string) (json.RawMessage, bool) {
	value := bytes.TrimSpace(doc)
	if len(value) == 0 {
		return nil, false
	}
	for path != "" {
		key, rest, _ := strings.Cut(path, ".")
		path = rest
		var ok bool
		switch value[0] {
		case '{':
			value, ok = member(value, key)
		case '[':
			value, ok = element(value, key)
		}
		if !ok {
			return nil, false
		}
	}
	return value, true
}

// member returns the value of key in the object obj.
func member(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] == '"' {
		end := skipString(obj, i)
		name := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the colon
		valueEnd := skipValue(obj, i)
		if keyEqual(name, key) {
			return obj[i:valueEnd], true
		}
		i = skipSpace(obj, valueEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return nil, false
}

// keyEqual compares a raw (still escaped) JSON object key with key.
func keyEqual(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return false
	}
	return s == key
}

// element returns the element at index key of the array arr.
func element(arr []byte, key string) ([]byte, bool) {
	index, err := strconv.Atoi(key)
	if err != nil {
		return nil, false
	}
	if index < 0 {
		index += count(arr)
		if index < 0 {
			return nil, false
		}
	}
	i := skipSpace(arr, 1)
	for n := 0; i < len(arr) && arr[i] != ']'; n++ {
		end := skipValue(arr, i)
		if n == index {
			return arr[i:end], true
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return nil, false
}

func count(arr []byte) int {
	n := 0
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		i = skipSpace(arr, skipValue(arr, i))
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
		n++
	}
	return n
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at p[i].
func skipString(p []byte, i int) int {
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(p)
}

// skipValue returns the index after the value that starts at p[i].
func skipValue(p []byte, i int) int {
	if i >= len(p) {
		return len(p)
	}
	switch p[i] {
	case '"':
		return skipString(p, i)
	case '{', '[':
		depth := 0
		for ; i < len(p); i++ {
			switch p[i] {
			case '"':
				i = skipString(p, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(p)
	}
	for ; i < len(p); i++ {
		switch p[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return len(p)
}

// IsEmpty reports whether a JSON value is null, false, 0, "", [] or {}.
func IsEmpty(value json.RawMessage) bool {
	v := bytes.TrimSpace(value)
	switch string(v) {
	case "", "null", "false", "0", `""`:
		return true
	}
	if v[0] == '[' || v[0] == '{' {
		inner := bytes.TrimSpace(v[1 : len(v)-1])
		return len(inner) == 0
	}
	return false
}

// String returns a JSON value as text: a string's contents, or the JSON
// text of any other value.
func String(value json.RawMessage) string {
	var s string
	if len(value) > 0 && value[0] == '"' && json.Unmarshal(value, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(value))
}
