package runtime

import "testing"

// BenchmarkClassifyEvent measures the per-token cost of recognising an
// OpenAI chunk for the token metrics.
func BenchmarkClassifyEvent(b *testing.B) {
	event := []byte("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token \"}}]}\n\n")
	b.ReportAllocs()
	for b.Loop() {
		if classifyEvent(event) != eventToken {
			b.Fatal("not a token")
		}
	}
}
