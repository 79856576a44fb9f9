package load

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result contains every figure of one run. Latencies are in milliseconds and
// rates per second. It is the schema of "megaflow bench --json".
type Result struct {
	Target      string    `json:"target"`
	Method      string    `json:"method"`
	Mode        string    `json:"mode"` // "closed" or "open"
	Connections int       `json:"connections"`
	Rate        float64   `json:"rate_per_second,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	// WarmupSeconds is the configured warmup, left out of every figure.
	WarmupSeconds float64 `json:"warmup_seconds"`
	// ElapsedSeconds runs from the end of the warmup until the last
	// measured response arrived.
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	// Requests counts measured requests that received a response, whatever
	// its status code.
	Requests int64 `json:"requests"`
	// Succeeded counts responses with a status code below 400.
	Succeeded int64 `json:"succeeded"`
	// Unsent counts open-loop requests scheduled inside the measured window
	// that were never sent because every connection stayed busy until the
	// window ended. A value above zero means the target did not sustain
	// the rate.
	Unsent int64 `json:"unsent"`
	// Throughput is Requests divided by ElapsedSeconds.
	Throughput float64 `json:"throughput_rps"`
	// BytesRead is the sum of the response body sizes.
	BytesRead int64  `json:"bytes_read"`
	Errors    Errors `json:"errors"`
	// Latency covers every measured request that received a response, from
	// its scheduled send time (open loop) or actual send time (closed
	// loop) until the last byte of the response.
	Latency  Summary     `json:"latency"`
	SSE      *SSESummary `json:"sse,omitempty"`
	Timeline []Sample    `json:"timeline"`
}

// Errors counts failed requests by kind.
type Errors struct {
	// Total is the sum of Connect, Timeout, Closed, Other and every Status.
	Total int64 `json:"total"`
	// Connect counts failures to open a connection.
	Connect int64 `json:"connect"`
	// Timeout counts requests without a complete response before the
	// per-request timeout.
	Timeout int64 `json:"timeout"`
	// Closed counts connections closed or reset by the server mid-request.
	Closed int64 `json:"closed"`
	// Other counts every other transport or protocol error.
	Other int64 `json:"other"`
	// Status counts responses by status code, for codes 400 and above.
	Status map[int]int64 `json:"status"`
	// Samples contains the first error message seen for each kind.
	Samples map[string]string `json:"samples,omitempty"`
}

// Summary describes one latency distribution, in milliseconds.
type Summary struct {
	Count    int64   `json:"count"`
	MinMs    float64 `json:"min_ms"`
	MeanMs   float64 `json:"mean_ms"`
	StdDevMs float64 `json:"stddev_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p99_9_ms"`
	MaxMs    float64 `json:"max_ms"`
	// Percentiles samples the distribution at 51 points evenly spaced on a
	// "number of nines" scale from 0 to 99.999, then the maximum.
	Percentiles []Percentile `json:"percentiles"`
}

// Percentile is one point of a latency distribution.
type Percentile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// Sample covers one interval of the measured window.
type Sample struct {
	// Seconds is the end of the interval, from the end of the warmup.
	Seconds    float64 `json:"seconds"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput_rps"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
}

// SSESummary contains the streaming figures of an SSE run. A token is one
// "data:" event other than "data: [DONE]", which is one token for
// OpenAI-style chat completion streams.
type SSESummary struct {
	// Streams counts responses read as event streams.
	Streams int64 `json:"streams"`
	Tokens  int64 `json:"tokens"`
	// TokensPerSecond is Tokens divided by the elapsed time: the output
	// rate of the whole run across all streams.
	TokensPerSecond float64 `json:"tokens_per_second"`
	// StreamTokensPerSecond is the mean over streams with at least two
	// tokens of (tokens-1) divided by the time from first to last token.
	StreamTokensPerSecond float64 `json:"stream_tokens_per_second"`
	// TTFT is the time to first token, from the scheduled send time.
	TTFT Summary `json:"ttft"`
	// ITL is the inter-token latency, the gap between consecutive tokens.
	ITL Summary `json:"itl"`
}

// Histogram geometry: microseconds from 1 µs to 1 hour with 3 significant
// digits, so each recorded value is within 0.1 % of the true one.
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histDigits    = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
}

// recordDuration adds d to h, clamped to the histogram's range.
func recordDuration(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	us = min(max(us, histMinMicros), histMaxMicros)
	_ = h.RecordValue(us) // cannot fail: us is inside the range
}

func microsToMs(us int64) float64 { return float64(us) / 1000 }

// percentileNines are the points of Summary.Percentiles: 100·(1−10^−x) for
// x from 0 to 5 in steps of 0.1.
var percentileNines = func() []float64 {
	points := make([]float64, 0, 51)
	for i := 0; i <= 50; i++ {
		points = append(points, 100*(1-math.Pow(10, -float64(i)/10)))
	}
	return points
}()

func summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	s := Summary{
		Count:    h.TotalCount(),
		MinMs:    microsToMs(h.Min()),
		MeanMs:   h.Mean() / 1000,
		StdDevMs: h.StdDev() / 1000,
		P50Ms:    microsToMs(h.ValueAtPercentile(50)),
		P90Ms:    microsToMs(h.ValueAtPercentile(90)),
		P99Ms:    microsToMs(h.ValueAtPercentile(99)),
		P999Ms:   microsToMs(h.ValueAtPercentile(99.9)),
		MaxMs:    microsToMs(h.Max()),
	}
	values := h.ValueAtPercentilesSlice(percentileNines)
	s.Percentiles = make([]Percentile, 0, len(values)+1)
	for i, v := range values {
		s.Percentiles = append(s.Percentiles, Percentile{Percentile: percentileNines[i], Ms: microsToMs(v)})
	}
	s.Percentiles = append(s.Percentiles, Percentile{Percentile: 100, Ms: s.MaxMs})
	return s
}
