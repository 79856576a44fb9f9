package runtime

import "testing"

var (
	benchChunk  = []byte(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"token "},"finish_reason":null}]}` + "\n\n")
	benchParams = []byte(`{"llm":{"stream":true,"max_tokens":1024,"top_k":10,"top_p":0.95,"temperature":0.01},"retriever":{"search_type":"similarity","k":4},"rerank":{"top_n":1}}`)
)

func BenchmarkStreamEventOpenAIPassThrough(b *testing.B) {
	api := &OpenAIChat{Stream: StreamOpenAI}
	var dst []byte
	var state APIState
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = api.StreamEvent(&state, benchChunk, dst[:0])
	}
}

func BenchmarkStreamEventToOPEA(b *testing.B) {
	api := &OpenAIChat{Stream: StreamOPEA}
	var dst []byte
	var state APIState
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = api.StreamEvent(&state, benchChunk, dst[:0])
	}
}

func BenchmarkParamsForLLM(b *testing.B) {
	inject := ParamsFor(TypeLLM)
	input := []byte(`{"model":"m","messages":[{"role":"user","content":"What is the revenue of Nike in 2023?"}],"max_tokens":64}`)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = inject(input, benchParams, dst[:0])
	}
}

func BenchmarkMergeObjects(b *testing.B) {
	inputs := []NamedInput{
		{Name: "a", Data: []byte(`{"text":"q","embedding":[0.1,0.2,0.3],"k":4}`)},
		{Name: "b", Data: []byte(`{"text":"q","retrieved_docs":[{"text":"doc"}],"top_n":1}`)},
	}
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = MergeObjects.Aggregate(b.Context(), inputs, dst[:0])
	}
}
