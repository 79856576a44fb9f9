package runtime

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics live in the default set of VictoriaMetrics/metrics and are
// exposed by the admin listener's /metrics. Every metric object is created
// when a snapshot, route or upstream is built, never per request. Metric
// names stay the same across reloads, so counters keep counting.
//
// Histograms are Prometheus "le" histograms in seconds, because stock
// Prometheus cannot compute quantiles from VictoriaMetrics' vmrange
// buckets. The four megaservice_* families keep the names OPEA exports.

var (
	requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	tokenBuckets   = []float64{.001, .0025, .005, .01, .02, .04, .08, .16, .32, .64, 1.28, 2.56, 5, 10, 30}
)

// megaservice holds the process-wide families named as in OPEA.
var megaservice = struct {
	firstToken     *metrics.PrometheusHistogram
	interToken     *metrics.PrometheusHistogram
	requestLatency *metrics.PrometheusHistogram
	pending        *metrics.Gauge
	tokens         *metrics.Counter
	inFlight       *metrics.Gauge
}{
	firstToken:     metrics.GetOrCreatePrometheusHistogramExt("megaservice_first_token_latency", tokenBuckets),
	interToken:     metrics.GetOrCreatePrometheusHistogramExt("megaservice_inter_token_latency", tokenBuckets),
	requestLatency: metrics.GetOrCreatePrometheusHistogramExt("megaservice_request_latency", requestBuckets),
	pending:        metrics.GetOrCreateGauge("megaservice_request_pending", nil),
	tokens:         metrics.GetOrCreateCounter("megaflow_stream_tokens_total"),
	inFlight:       metrics.GetOrCreateGauge("megaflow_requests_in_flight", nil),
}

func init() {
	// TYPE lines make the exposition parseable by strict Prometheus parsers.
	metrics.ExposeMetadata(true)
}

// routeMetrics counts the requests of one route and method.
type routeMetrics struct {
	labels  string // route="...",method="..."
	latency *metrics.PrometheusHistogram
	// byStatus holds one counter per status code, created on first use;
	// later requests with that status only load the pointer.
	byStatus [600]atomic.Pointer[metrics.Counter]
}

func newRouteMetrics(route, method string) *routeMetrics {
	labels := "route=" + strconv.Quote(route) + ",method=" + strconv.Quote(method)
	return &routeMetrics{
		labels:  labels,
		latency: metrics.GetOrCreatePrometheusHistogramExt("megaflow_request_duration_seconds{"+labels+"}", requestBuckets),
	}
}

// unmatchedRoute counts requests that matched no route or method.
var unmatchedRoute = newRouteMetrics("unmatched", "any")

func (m *routeMetrics) count(status int) {
	if status < 100 || status >= len(m.byStatus) {
		status = 599
	}
	c := m.byStatus[status].Load()
	if c == nil {
		c = metrics.GetOrCreateCounter(fmt.Sprintf("megaflow_requests_total{%s,status=\"%d\"}", m.labels, status))
		m.byStatus[status].Store(c)
	}
	c.Inc()
}

// serviceMetrics counts the calls a flow node makes to its service: one
// observation per node execution, retries included in its duration.
type serviceMetrics struct {
	ok, failed, rejected *metrics.Counter
	retries              *metrics.Counter
	latency              *metrics.PrometheusHistogram
}

func newServiceMetrics(service string) *serviceMetrics {
	l := "service=" + strconv.Quote(service)
	return &serviceMetrics{
		ok:       metrics.GetOrCreateCounter(`megaflow_service_calls_total{` + l + `,outcome="ok"}`),
		failed:   metrics.GetOrCreateCounter(`megaflow_service_calls_total{` + l + `,outcome="failed"}`),
		rejected: metrics.GetOrCreateCounter(`megaflow_service_calls_total{` + l + `,outcome="rejected"}`),
		retries:  metrics.GetOrCreateCounter(`megaflow_service_retries_total{` + l + `}`),
		latency:  metrics.GetOrCreatePrometheusHistogramExt(`megaflow_service_duration_seconds{`+l+`}`, requestBuckets),
	}
}

// observe records one node execution: its duration, its outcome (a 4xx
// from the service is "rejected", any other error "failed") and the
// retries it took.
func (m *serviceMetrics) observe(took float64, err error, attempts int) {
	m.latency.Update(took)
	if attempts > 1 {
		m.retries.Add(attempts - 1)
	}
	switch {
	case err == nil:
		m.ok.Inc()
	case isClientError(err):
		m.rejected.Inc()
	default:
		m.failed.Inc()
	}
}

func isClientError(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Status >= 400 && e.Status < 500
}
