// Command rerank_to_llm is a megaflow plugin that turns reranked documents
// and the user's question into an OpenAI chat completion request whose
// system message carries the documents as context: the last step of
// ChatQnA before the LLM.
//
// As a response hook on the rerank node it reads an OPEA reranking
// microservice's output: {"query": ..., "documents": [...]} (also
// "initial_query" or "text" for the question, and "reranked_docs" or
// "retrieved_docs" for the documents; a document is a string or an object
// with "text"). As an aggregate hook on the LLM node it reads two inputs:
// a TEI /rerank output, [{"index": i, "score": s}, ...], and the request
// that was sent to the reranker ({"query": ..., "texts": [...]}) or the
// retriever's output; it keeps the top_n documents by score. An empty
// rerank output, [], which retriever_to_rerank sends when the retriever
// found nothing, gives a prompt without documents.
//
// The number of documents kept is the client's top_n: from the "params"
// input (the request's parameters, {"rerank": {"top_n": N}, ...}) when the
// node lists "params" in after, else from the reranker request's "top_n".
// Without either, the configured top_n applies. A retriever output's
// "top_n" (OPEA's SearchedDoc) is ignored, because it is the retriever's
// default of 1 and not the client's choice.
//
// Config:
//
//	model      = "Intel/neural-chat-7b-v3-3"
//	top_n      = 1        # documents kept when the input has no top_n
//	stream     = true
//	max_tokens = 1024     # left out of the request when 0
//	system     = "... {context} ..."  # system message; {context} is replaced by the documents
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

const defaultSystem = "Answer the user's question using the search results below. " +
	"If they do not contain the answer, say that you do not know.\n\nSearch results:\n{context}"

var cfg = struct {
	Model     string `json:"model"`
	TopN      int    `json:"top_n"`
	Stream    *bool  `json:"stream"`
	MaxTokens int    `json:"max_tokens"`
	System    string `json:"system"`
}{TopN: 1, System: defaultSystem}

func init() {
	megaflow.OnInit(func(raw []byte) error {
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &cfg); err != nil {
				return fmt.Errorf("rerank_to_llm: invalid config: %v", err)
			}
		}
		if cfg.TopN < 1 {
			return fmt.Errorf("rerank_to_llm: top_n is %d; set it to 1 or more", cfg.TopN)
		}
		return nil
	})
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		var doc rerankedDoc
		if err := json.Unmarshal(output, &doc); err != nil {
			return megaflow.Failf(502, "rerank_to_llm: reranker output is not a JSON object: %v", err)
		}
		return write(doc.question(), doc.texts())
	})
	megaflow.OnAggregate(aggregate)
}

// rerankedDoc accepts the field names of OPEA's reranking and retrieval
// outputs and of TEI's /rerank request.
type rerankedDoc struct {
	Query        string            `json:"query"`
	InitialQuery string            `json:"initial_query"`
	Text         string            `json:"text"`
	Documents    []json.RawMessage `json:"documents"`
	Reranked     []json.RawMessage `json:"reranked_docs"`
	Retrieved    []json.RawMessage `json:"retrieved_docs"`
	Texts        []json.RawMessage `json:"texts"`
	TopN         *float64          `json:"top_n"`
}

// topN returns how many documents to keep: the input's top_n unless the
// input is a retriever's SearchedDoc, and else the configured one. The
// input's top_n comes from the client, so an invalid one is the client's
// error.
func (d *rerankedDoc) topN() (int, error) {
	if d.TopN == nil || d.Retrieved != nil {
		return cfg.TopN, nil
	}
	return checkTopN(*d.TopN)
}

// checkTopN returns n as a count of documents, or an error when it is not
// a whole number of 1 or more.
func checkTopN(n float64) (int, error) {
	if n < 1 || n != math.Trunc(n) || n > math.MaxInt32 {
		return 0, fmt.Errorf("top_n is %v; set it to a whole number of 1 or more", n)
	}
	return int(n), nil
}

func (d *rerankedDoc) question() string {
	for _, q := range []string{d.Query, d.InitialQuery, d.Text} {
		if q != "" {
			return q
		}
	}
	return ""
}

func (d *rerankedDoc) texts() []string {
	for _, list := range [][]json.RawMessage{d.Documents, d.Reranked, d.Retrieved, d.Texts} {
		if len(list) == 0 {
			continue
		}
		texts := make([]string, 0, len(list))
		for _, raw := range list {
			texts = append(texts, docText(raw))
		}
		return texts
	}
	return nil
}

func docText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.Text
}

type score struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// params is the part of the request's parameters that this plugin reads.
type params struct {
	Rerank struct {
		TopN *float64 `json:"top_n"`
	} `json:"rerank"`
}

func aggregate(inputs []megaflow.Input) megaflow.Status {
	var scores []score
	var doc rerankedDoc
	var req params
	haveDoc := false
	for _, in := range inputs {
		data := bytes.TrimSpace(in.Data)
		switch {
		case string(in.Name) == "params":
			if err := json.Unmarshal(data, &req); err != nil {
				return megaflow.Failf(400, "rerank_to_llm: request parameters are not a JSON object: %v", err)
			}
		case len(data) > 0 && data[0] == '[':
			if err := json.Unmarshal(data, &scores); err != nil {
				return megaflow.Failf(502, "rerank_to_llm: input %q is not a TEI rerank output: %v", in.Name, err)
			}
		case len(data) > 0 && data[0] == '{':
			if err := json.Unmarshal(data, &doc); err != nil {
				return megaflow.Failf(502, "rerank_to_llm: input %q: %v", in.Name, err)
			}
			haveDoc = true
		}
	}
	if !haveDoc {
		return megaflow.Fail(502, "rerank_to_llm: no input carries the question and documents (a JSON object)")
	}
	texts := doc.texts()
	if scores == nil {
		return write(doc.question(), texts)
	}
	topN, err := doc.topN()
	if req.Rerank.TopN != nil {
		topN, err = checkTopN(*req.Rerank.TopN)
	}
	if err != nil {
		return megaflow.Failf(400, "rerank_to_llm: %v", err)
	}
	sort.SliceStable(scores, func(i, j int) bool { return scores[i].Score > scores[j].Score })
	var top []string
	for _, s := range scores {
		if len(top) == topN {
			break
		}
		if s.Index < 0 || s.Index >= len(texts) {
			return megaflow.Failf(502, "rerank_to_llm: rerank index %d is outside the %d documents", s.Index, len(texts))
		}
		top = append(top, texts[s.Index])
	}
	return write(doc.question(), top)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model     string    `json:"model,omitempty"`
	Messages  []message `json:"messages"`
	Stream    bool      `json:"stream"`
	MaxTokens int       `json:"max_tokens,omitempty"`
}

func write(question string, docs []string) megaflow.Status {
	if question == "" {
		return megaflow.Fail(502, "rerank_to_llm: the input has no question (query, initial_query or text)")
	}
	req := chatRequest{
		Model: cfg.Model,
		Messages: []message{
			{Role: "system", Content: strings.ReplaceAll(cfg.System, "{context}", strings.Join(docs, "\n\n"))},
			{Role: "user", Content: question},
		},
		Stream:    cfg.Stream == nil || *cfg.Stream,
		MaxTokens: cfg.MaxTokens,
	}
	body, err := json.Marshal(req)
	if err != nil {
		return megaflow.Failf(500, "rerank_to_llm: encode output: %v", err)
	}
	megaflow.Write(body)
	return megaflow.OK
}

func main() {}
