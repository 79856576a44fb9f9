package mock

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/valyala/fasthttp"
)

// embedRequest is the body of POST /embed in Hugging Face Text Embeddings
// Inference (TEI), where inputs is one string or an array of strings.
type embedRequest struct {
	Inputs json.RawMessage `json:"inputs"`
}

// embedHandler serves TEI's POST /embed, which returns one vector per input
// as a JSON array of arrays. Each vector is unit length and depends only on
// its input text, so equal texts get equal vectors.
func embedHandler(dim int) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() || string(ctx.Path()) != "/embed" {
			notFound(ctx, "POST /embed")
			return
		}
		var req embedRequest
		if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || len(req.Inputs) == 0 {
			unprocessable(ctx, `invalid request body: expected {"inputs": "text"} or {"inputs": ["text", ...]}`)
			return
		}
		texts, ok := stringOrStrings(req.Inputs)
		if !ok {
			unprocessable(ctx, `invalid "inputs": expected a string or an array of strings`)
			return
		}
		out := make([]byte, 0, len(texts)*dim*12+2)
		out = append(out, '[')
		for i, text := range texts {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendVector(out, text, dim)
		}
		out = append(out, ']')
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	}
}

// appendVector appends a JSON array of dim float32 values derived from text.
func appendVector(dst []byte, text string, dim int) []byte {
	seed := hashString(text)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	values := make([]float64, dim)
	var norm float64
	for i := range values {
		values[i] = rng.Float64()*2 - 1
		norm += values[i] * values[i]
	}
	norm = math.Sqrt(norm)
	dst = append(dst, '[')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendFloat(dst, v/norm, 'g', -1, 32)
	}
	return append(dst, ']')
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// stringOrStrings decodes a JSON string or array of strings.
func stringOrStrings(raw json.RawMessage) ([]string, bool) {
	var single string
	if err := json.Unmarshal(raw, &single); err == nil {
		return []string{single}, true
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil && len(many) > 0 {
		return many, true
	}
	return nil, false
}

// writeJSON sends v as a JSON body with status code status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = fasthttp.StatusInternalServerError
		body = []byte(`{"error":"encoding the response failed"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// unprocessable sends a 422 response with a TEI-style error body.
func unprocessable(ctx *fasthttp.RequestCtx, msg string) {
	writeJSON(ctx, fasthttp.StatusUnprocessableEntity, map[string]string{"error": msg, "error_type": "Validation"})
}

func notFound(ctx *fasthttp.RequestCtx, route string) {
	writeJSON(ctx, fasthttp.StatusNotFound, map[string]string{
		"error": "not found: " + string(ctx.Method()) + " " + string(ctx.Path()) + "; this mock serves " + route + " and GET /health",
	})
}
