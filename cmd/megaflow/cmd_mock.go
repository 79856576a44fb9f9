package main

import "github.com/megaflow/megaflow/bench/mock"

func init() {
	register("mock", "run a mock microservice (echo, delay, embedding, retriever, rerank, llm) for benchmarks", mock.Main)
}
