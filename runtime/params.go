package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Request parameters reach nodes by service type, as OPEA's orchestrator
// passes them: llm and lvm nodes get the LLM parameters (max_tokens,
// temperature, stream, ...), retriever nodes the search parameters (k,
// search_type, ...) and rerank nodes top_n. A RouteAPI such as OpenAIChat
// groups them in one JSON object, {"llm": {...}, "retriever": {...},
// "rerank": {...}}.

// paramGroup names the group of request parameters each service type
// takes; types without one take none.
func paramGroup(t ServiceType) string {
	switch t {
	case TypeLLM, TypeLVM:
		return "llm"
	case TypeRetriever:
		return "retriever"
	case TypeRerank:
		return "rerank"
	}
	return ""
}

// ParamsFor returns the ParamInjector for nodes of service type t, or nil
// for a type that takes no request parameters.
//
// The injector adds each parameter of the type's group to the node's
// input, a JSON object, where the input lacks that key. A key already in
// the input keeps its value, because a predecessor or an aggregate plugin
// that set it wrote it for this node, which request defaults were not. The one
// exception is "stream" for llm and lvm nodes, which always follows the
// request: whether the client gets an event stream must not depend on
// what a plugin wrote. An input that is not a JSON object, such as a TEI
// embedding array, is passed on unchanged.
func ParamsFor(t ServiceType) ParamInjector {
	group := paramGroup(t)
	if group == "" {
		return nil
	}
	key := []byte(`"` + group + `"`)
	override := group == "llm"
	return func(input, params, dst []byte) ([]byte, error) {
		values := memberValue(params, key)
		if len(values) == 0 || !isJSONObject(input) {
			return append(dst, input...), nil
		}
		return mergeMissing(dst, input, values, override)
	}
}

var streamKey = []byte(`"stream"`)

// mergeMissing appends input with the members of extra whose keys input
// lacks; with overrideStream, extra's "stream" replaces input's.
func mergeMissing(dst, input, extra []byte, overrideStream bool) ([]byte, error) {
	var inputKeys [][]byte
	dst = append(dst, '{')
	err := forEachMember(input, func(key, value []byte) {
		if overrideStream && bytes.Equal(key, streamKey) && memberValue(extra, streamKey) != nil {
			return
		}
		inputKeys = append(inputKeys, key)
		dst = appendMember(dst, key, value)
	})
	if err != nil {
		return dst, err
	}
	err = forEachMember(extra, func(key, value []byte) {
		for _, k := range inputKeys {
			if bytes.Equal(k, key) {
				return
			}
		}
		dst = appendMember(dst, key, value)
	})
	return append(dst, '}'), err
}

// appendMember appends "key":value to an object being written, with a
// comma unless it is the first member.
func appendMember(dst, key, value []byte) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	dst = append(dst, ':')
	return append(dst, value...)
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

// memberValue returns the value of the member of object obj whose quoted
// key is key, or nil. Keys are compared as written, escapes included.
func memberValue(obj, key []byte) []byte {
	var found []byte
	forEachMember(obj, func(k, v []byte) {
		if found == nil && bytes.Equal(k, key) {
			found = v
		}
	})
	return found
}

var errNotObject = errors.New("not a JSON object")

// forEachMember calls fn with the quoted key and the raw value of each
// member of the JSON object obj, in order. obj must be valid JSON; the
// scanner relies on that and only finds where values end.
func forEachMember(obj []byte, fn func(key, value []byte)) error {
	s := bytes.TrimSpace(obj)
	if len(s) < 2 || s[0] != '{' {
		return errNotObject
	}
	i := skipSpace(s, 1)
	if s[i] == '}' {
		return nil
	}
	for i < len(s) {
		keyEnd := skipValue(s, i)
		key := s[i:keyEnd]
		i = skipSpace(s, keyEnd)
		if i >= len(s) || s[i] != ':' {
			return errNotObject
		}
		i = skipSpace(s, i+1)
		valueEnd := skipValue(s, i)
		fn(key, s[i:valueEnd])
		i = skipSpace(s, valueEnd)
		if i >= len(s) || s[i] == '}' {
			return nil
		}
		i = skipSpace(s, i+1) // the comma
	}
	return nil
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at s[i].
func skipValue(s []byte, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '"':
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(s)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = skipValue(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\n' && s[j] != '\t' && s[j] != '\r' {
		j++
	}
	return j
}
