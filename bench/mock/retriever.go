package mock

import (
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"
)

// retrievedDoc and searchedDoc follow the SearchedDoc response of OPEA's
// retriever microservice (GenAIComps comps/cores/proto/docarray.py).
type retrievedDoc struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type searchedDoc struct {
	ID            string         `json:"id"`
	RetrievedDocs []retrievedDoc `json:"retrieved_docs"`
	InitialQuery  string         `json:"initial_query"`
	TopN          int            `json:"top_n"`
}

// retrieveHandler serves POST /v1/retrieval. It reads the query from
// "text", "input" or "query" and returns docs documents that mention it,
// or none when docs is negative. A JSON array body, such as TEI's /embed
// output passed on unchanged, is accepted as a query without text.
func retrieveHandler(docs int) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() || string(ctx.Path()) != "/v1/retrieval" {
			notFound(ctx, "POST /v1/retrieval")
			return
		}
		var req map[string]json.RawMessage
		if err := json.Unmarshal(ctx.PostBody(), &req); err != nil && !json.Valid(ctx.PostBody()) {
			unprocessable(ctx, "invalid request body: expected a JSON object with the query in \"text\"")
			return
		}
		query := firstString(req, "text", "input", "query")
		resp := searchedDoc{ID: fmt.Sprintf("%016x", hashString(query)), InitialQuery: query, TopN: 1, RetrievedDocs: []retrievedDoc{}}
		for i := range max(docs, 0) {
			resp.RetrievedDocs = append(resp.RetrievedDocs, retrievedDoc{
				ID:   fmt.Sprintf("doc-%d", i),
				Text: fmt.Sprintf("Document %d on %q: megaflow runs each request as a DAG of microservice calls.", i, query),
			})
		}
		writeJSON(ctx, fasthttp.StatusOK, resp)
	}
}

// firstString returns the first of keys whose value is a JSON string.
func firstString(obj map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		var s string
		if raw, ok := obj[k]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return ""
}
