// Command retriever_to_rerank is a megaflow plugin that turns an OPEA
// retriever's output into the body of a Text Embeddings Inference (TEI)
// /rerank call, {"query": ..., "texts": [...]}: ChatQnA's step between the
// retriever and the reranker.
//
// It reads OPEA's SearchedDoc, {"retrieved_docs": [{"text": ...}, ...],
// "initial_query": ...}, and also a body that already has "query" and
// "texts". A document is an object with "text" or a plain string. The
// question is "initial_query", else "query", else "text".
//
// As a response hook on the retriever node it writes {"query", "texts"}
// and drops SearchedDoc's "top_n", which is the retriever's default of 1
// and not the client's choice. A rerank node that receives this output
// then gets the client's top_n from the route's request parameters.
//
// As a request hook on the rerank node it sends TEI only "query" and
// "texts", because TEI's /rerank takes no top_n. When there are no
// documents it responds in place of the reranker with status 200 and an
// empty ranking, [], as OPEA's ChatQnA skips the reranker when the
// retriever finds nothing. The flow goes on to the LLM with no context.
//
// The plugin takes no config.
package main

import (
	"encoding/json"
	"fmt"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

// emptyRanking is a /rerank output without entries, the response sent in
// place of the reranker when there are no documents.
var emptyRanking = []byte("[]")

func init() {
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status {
		body, err := rerankBody(req.Body)
		if err != nil {
			return megaflow.Failf(502, "retriever_to_rerank: %v", err)
		}
		if len(body.Texts) == 0 {
			return megaflow.Respond(200, emptyRanking)
		}
		return write(body)
	})
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		body, err := rerankBody(output)
		if err != nil {
			return megaflow.Failf(502, "retriever_to_rerank: %v", err)
		}
		return write(body)
	})
}

// searchedDoc is OPEA's SearchedDoc or a TEI /rerank body.
type searchedDoc struct {
	RetrievedDocs []json.RawMessage `json:"retrieved_docs"`
	Texts         []json.RawMessage `json:"texts"`
	InitialQuery  string            `json:"initial_query"`
	Query         string            `json:"query"`
	Text          string            `json:"text"`
}

// teiRerank is the body of TEI's POST /rerank.
type teiRerank struct {
	Query string   `json:"query"`
	Texts []string `json:"texts"`
}

// rerankBody reads the question and the document texts out of input.
func rerankBody(input []byte) (teiRerank, error) {
	var doc searchedDoc
	if err := json.Unmarshal(input, &doc); err != nil {
		return teiRerank{}, fmt.Errorf("retriever output is not a JSON object: %v", err)
	}
	docs := doc.RetrievedDocs
	if docs == nil {
		docs = doc.Texts
	}
	body := teiRerank{Texts: make([]string, 0, len(docs))}
	for i, raw := range docs {
		text, err := docText(raw)
		if err != nil {
			return teiRerank{}, fmt.Errorf("document %d: %v", i, err)
		}
		body.Texts = append(body.Texts, text)
	}
	for _, q := range []string{doc.InitialQuery, doc.Query, doc.Text} {
		if q != "" {
			body.Query = q
			break
		}
	}
	if body.Query == "" && len(body.Texts) > 0 {
		return teiRerank{}, fmt.Errorf("retriever output has documents but no question (initial_query, query or text)")
	}
	return body, nil
}

// docText returns the text of one retrieved document: a string, or an
// object's "text" string.
func docText(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var obj struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Text == nil {
		return "", fmt.Errorf("expected a string or an object with a \"text\" string, got %.60s", raw)
	}
	return *obj.Text, nil
}

func write(body teiRerank) megaflow.Status {
	out, err := json.Marshal(body)
	if err != nil {
		return megaflow.Failf(500, "retriever_to_rerank: encode output: %v", err)
	}
	megaflow.Write(out)
	return megaflow.OK
}

func main() {}
