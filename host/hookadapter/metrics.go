package hookadapter

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/megaflow/megaflow/host"
)

// Outcomes of a plugin call, the "outcome" label of
// megaflow_plugin_calls_total.
var outcomes = [...]string{
	"ok",
	host.KindFailed:      "failed",
	host.KindTrap:        "trap",
	host.KindTimeout:     "timeout",
	host.KindOutOfMemory: "out_of_memory",
	host.KindProtocol:    "abi_violation",
	host.KindUnavailable: "unavailable",
}

// hookIndex numbers the hooks for the counter table.
func hookIndex(hook host.Hook) int {
	switch hook {
	case host.HookRequest:
		return 0
	case host.HookResponse:
		return 1
	case host.HookEvent:
		return 2
	case host.HookAggregate:
		return 3
	}
	return 4
}

var hookOrder = [...]host.Hook{host.HookRequest, host.HookResponse, host.HookEvent, host.HookAggregate, host.HookRoute}

// callMetrics counts one node's calls of one plugin by hook and outcome in
// megaflow_plugin_calls_total{plugin, node, hook, outcome}. A counter is
// registered on its first use, so /metrics lists only outcomes that
// happened; after that, counting costs one atomic add.
type callMetrics struct {
	labels   string
	counters [len(hookOrder)][len(outcomes)]atomic.Pointer[metrics.Counter]
	// latency holds megaflow_plugin_call_duration_seconds per hook,
	// registered on first use like the counters.
	latency [len(hookOrder)]atomic.Pointer[metrics.PrometheusHistogram]
}

// latencyBuckets suit calls from a microsecond (a no-op hook) to the
// longest plugin timeouts, in seconds.
var latencyBuckets = []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// observe records one call's duration.
func (m *callMetrics) observe(hook host.Hook, took time.Duration) {
	h := hookIndex(hook)
	hist := m.latency[h].Load()
	if hist == nil {
		hist = metrics.GetOrCreatePrometheusHistogramExt(`megaflow_plugin_call_duration_seconds{`+m.labels+
			`,hook="`+hookOrder[h].String()+`"}`, latencyBuckets)
		m.latency[h].Store(hist)
	}
	hist.Update(took.Seconds())
}

func newCallMetrics(plugin, node string) *callMetrics {
	return &callMetrics{labels: "plugin=" + strconv.Quote(plugin) + ",node=" + strconv.Quote(node)}
}

// count records the outcome of one call that returned err.
func (m *callMetrics) count(hook host.Hook, err error) {
	outcome := 0
	if err != nil {
		outcome = int(host.KindTrap)
		var e *host.Error
		if errors.As(err, &e) && int(e.Kind) < len(outcomes) {
			outcome = int(e.Kind)
		}
	}
	h := hookIndex(hook)
	c := m.counters[h][outcome].Load()
	if c == nil {
		c = metrics.GetOrCreateCounter(`megaflow_plugin_calls_total{` + m.labels +
			`,hook="` + hookOrder[h].String() + `",outcome="` + outcomes[outcome] + `"}`)
		m.counters[h][outcome].Store(c)
	}
	c.Inc()
}
