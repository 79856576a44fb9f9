// Package chat reads the user's question out of the request shapes that
// OPEA's ChatQnA accepts, for the ChatQnA shaping plugins.
package chat

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Message is one entry of an OpenAI chat completion request's messages.
// Content is a string or a list of parts ({"type":"text","text":...}).
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Query returns the question in input: the text of the last user message
// of an OpenAI chat request's messages, or a string messages field, or
// else the "text", "query", "input" or "prompt" string field. field, when
// not empty, names the messages field in place of "messages".
func Query(input []byte, field string) (string, error) {
	if field == "" {
		field = "messages"
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(input, &doc); err != nil {
		return "", fmt.Errorf("input is not a JSON object: %v", err)
	}
	if raw, ok := doc[field]; ok {
		return fromMessages(raw, field)
	}
	for _, key := range []string{"text", "query", "input", "prompt"} {
		var s string
		if raw, ok := doc[key]; ok && json.Unmarshal(raw, &s) == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("input has no %q, text, query, input or prompt field", field)
}

func fromMessages(raw json.RawMessage, field string) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var messages []Message
	if err := json.Unmarshal(raw, &messages); err != nil {
		return "", fmt.Errorf("%q is neither a string nor a list of messages: %v", field, err)
	}
	for i := len(messages) - 1; i >= 0; i-- {
		if messages[i].Role == "user" {
			return Text(messages[i].Content), nil
		}
	}
	return "", fmt.Errorf("%q has no user message", field)
}

// Text returns a message content's text: the string itself, or its text
// parts joined by newlines.
func Text(content json.RawMessage) string {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(content, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}
