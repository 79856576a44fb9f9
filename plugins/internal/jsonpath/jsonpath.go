// Package jsonpath looks up values in JSON documents by dotted paths, for
// the bundled plugins. A path is a list of object keys and array indexes
// separated by dots: "messages.0.content". The empty path is the whole
// document.
package jsonpath

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Get returns the raw JSON value at path in doc, and whether it exists.
func Get(doc []byte, path string) (json.RawMessage, bool) {
	value := json.RawMessage(bytes.TrimSpace(doc))
	if path == "" {
		return value, len(value) > 0
	}
	for _, key := range strings.Split(path, ".") {
		next, ok := child(value, key)
		if !ok {
			return nil, false
		}
		value = next
	}
	return value, true
}

// child returns the member key of an object, or the element at index key
// of an array (negative indexes count from the end).
func child(value json.RawMessage, key string) (json.RawMessage, bool) {
	if len(value) == 0 {
		return nil, false
	}
	switch value[0] {
	case '{':
		var object map[string]json.RawMessage
		if json.Unmarshal(value, &object) != nil {
			return nil, false
		}
		v, ok := object[key]
		return v, ok
	case '[':
		i, err := strconv.Atoi(key)
		if err != nil {
			return nil, false
		}
		var array []json.RawMessage
		if json.Unmarshal(value, &array) != nil {
			return nil, false
		}
		if i < 0 {
			i += len(array)
		}
		if i < 0 || i >= len(array) {
			return nil, false
		}
		return array[i], true
	}
	return nil, false
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
