package mock

import (
	"encoding/json"
	"sort"

	"github.com/valyala/fasthttp"
)

// rerankRequest is the body of TEI's POST /rerank. As a convenience for
// flows without a shaping plugin, the retriever's retrieved_docs stand in
// for texts when texts is missing.
type rerankRequest struct {
	Query         string         `json:"query"`
	Texts         []string       `json:"texts"`
	ReturnText    bool           `json:"return_text"`
	RetrievedDocs []retrievedDoc `json:"retrieved_docs"`
	InitialQuery  string         `json:"initial_query"`
}

type rank struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
	Text  string  `json:"text,omitempty"`
}

// rerank serves TEI's POST /rerank: one score in [0, 1) per text, highest
// first. A score depends only on the query and the text.
func rerank(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || string(ctx.Path()) != "/rerank" {
		notFound(ctx, "POST /rerank")
		return
	}
	var req rerankRequest
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		unprocessable(ctx, `invalid request body: expected {"query": "...", "texts": ["...", ...]}`)
		return
	}
	if req.Query == "" {
		req.Query = req.InitialQuery
	}
	if len(req.Texts) == 0 {
		for _, d := range req.RetrievedDocs {
			req.Texts = append(req.Texts, d.Text)
		}
	}
	if req.Query == "" || len(req.Texts) == 0 {
		unprocessable(ctx, `invalid request body: "query" and a non-empty "texts" are required`)
		return
	}
	ranks := make([]rank, len(req.Texts))
	for i, text := range req.Texts {
		ranks[i] = rank{Index: i, Score: float64(hashString(req.Query+"\x00"+text)>>11) / (1 << 53)}
		if req.ReturnText {
			ranks[i].Text = text
		}
	}
	sort.SliceStable(ranks, func(a, b int) bool { return ranks[a].Score > ranks[b].Score })
	writeJSON(ctx, fasthttp.StatusOK, ranks)
}
