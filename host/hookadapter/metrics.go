package hookadapter

import (
	"errors"
	"strconv"
	"sync/atomic"

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
