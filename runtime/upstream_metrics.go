package runtime

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// The state of upstreams (breaker state and transitions, health, pooled
// connections) is read when /metrics is scraped, from the upstreams of the
// snapshots being served, rather than updated on every call.

// liveUpstreams maps a service name to the upstream that serves it now. A
// reload registers the new snapshot's upstreams before the old ones close,
// so the latest registration wins and closing only removes itself.
var liveUpstreams = struct {
	sync.Mutex
	byName map[string]*Upstream
}{byName: map[string]*Upstream{}}

func init() {
	metrics.RegisterMetricsWriter(writeUpstreamMetrics)
	metrics.RegisterMetricsWriter(writeReplicaCalls)
}

// registerUpstreams makes the snapshot's upstreams the ones /metrics
// reports.
func (s *Snapshot) registerUpstreams() {
	liveUpstreams.Lock()
	defer liveUpstreams.Unlock()
	for _, p := range s.plans() {
		for i := range p.nodes {
			if up, ok := p.nodes[i].Exec.(*Upstream); ok {
				liveUpstreams.byName[up.svc.Name] = up
			}
		}
	}
}

// unregisterUpstreams removes the snapshot's upstreams unless a newer
// snapshot registered its own under the same name.
func (s *Snapshot) unregisterUpstreams() {
	liveUpstreams.Lock()
	defer liveUpstreams.Unlock()
	for _, p := range s.plans() {
		for i := range p.nodes {
			if up, ok := p.nodes[i].Exec.(*Upstream); ok && liveUpstreams.byName[up.svc.Name] == up {
				delete(liveUpstreams.byName, up.svc.Name)
			}
		}
	}
}

// writeUpstreamMetrics writes the per-replica gauges and counters in
// Prometheus text format, each family with its TYPE line.
func writeUpstreamMetrics(w io.Writer) {
	liveUpstreams.Lock()
	names := make([]string, 0, len(liveUpstreams.byName))
	for name := range liveUpstreams.byName {
		names = append(names, name)
	}
	ups := make([]*Upstream, 0, len(names))
	sort.Strings(names)
	for _, name := range names {
		ups = append(ups, liveUpstreams.byName[name])
	}
	liveUpstreams.Unlock()
	if len(ups) == 0 {
		return
	}

	type series struct {
		labels string
		status ReplicaStatus
		open   int
	}
	var all []series
	for _, up := range ups {
		list := up.list()
		for i, st := range up.Replicas() {
			open := 0
			if i < len(list) && list[i].url == st.URL {
				open = list[i].client.ConnsCount()
			}
			labels := "service=" + strconv.Quote(up.svc.Name) + ",replica=" + strconv.Quote(st.URL)
			all = append(all, series{labels: labels, status: st, open: open})
		}
	}
	family := func(name, typ, help string, value func(series) string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range all {
			fmt.Fprintf(w, "%s{%s} %s\n", name, s.labels, value(s))
		}
	}
	family("megaflow_breaker_state", "gauge", "Circuit breaker state per replica: 0 closed, 1 half-open, 2 open.",
		func(s series) string { return strconv.Itoa(int(s.status.Breaker)) })
	family("megaflow_breaker_transitions_total", "counter", "Circuit breaker state changes per replica.",
		func(s series) string { return strconv.FormatUint(s.status.BreakerTransitions, 10) })
	family("megaflow_upstream_healthy", "gauge", "1 when the replica passes its active health checks (always 1 when they are off).",
		func(s series) string { return boolMetric(s.status.Healthy) })
	family("megaflow_upstream_outstanding", "gauge", "Calls in progress per replica.",
		func(s series) string { return strconv.FormatInt(s.status.Outstanding, 10) })
	family("megaflow_upstream_connections_open", "gauge", "Open pooled connections per replica, busy or idle.",
		func(s series) string { return strconv.Itoa(s.open) })
	// fasthttp counts open connections only; the idle ones are those not
	// carrying a call, an estimate since both figures move independently.
	family("megaflow_upstream_connections_idle", "gauge", "Open pooled connections per replica not carrying a call (estimated).",
		func(s series) string { return strconv.FormatInt(max(0, int64(s.open)-s.status.Outstanding), 10) })
}

func boolMetric(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// replicaCounters counts one replica's calls by outcome (indexed by
// callOutcome). Upstreams of consecutive snapshots that name the same
// service and address share one, so the series continues across reloads.
// The last of them to close drops it, so an address that came and went
// (a built-in service's port, a removed replica) leaves no series behind.
type replicaCounters struct {
	refs      int // guarded by replicaCounterSet
	byOutcome [3]atomic.Uint64
}

var replicaCounterSet = struct {
	sync.Mutex
	byKey map[[2]string]*replicaCounters
}{byKey: map[[2]string]*replicaCounters{}}

// replicaOutcomes labels byOutcome's entries.
var replicaOutcomes = [3]string{outcomeSuccess: "success", outcomeFailure: "failure", outcomeIgnored: "canceled"}

func acquireReplicaCounters(service, url string) *replicaCounters {
	replicaCounterSet.Lock()
	defer replicaCounterSet.Unlock()
	key := [2]string{service, url}
	c := replicaCounterSet.byKey[key]
	if c == nil {
		c = &replicaCounters{}
		replicaCounterSet.byKey[key] = c
	}
	c.refs++
	return c
}

func releaseReplicaCounters(service, url string) {
	replicaCounterSet.Lock()
	defer replicaCounterSet.Unlock()
	key := [2]string{service, url}
	if c := replicaCounterSet.byKey[key]; c != nil {
		if c.refs--; c.refs <= 0 {
			delete(replicaCounterSet.byKey, key)
		}
	}
}

// writeReplicaCalls writes megaflow_replica_calls_total.
func writeReplicaCalls(w io.Writer) {
	replicaCounterSet.Lock()
	keys := make([][2]string, 0, len(replicaCounterSet.byKey))
	for k := range replicaCounterSet.byKey {
		keys = append(keys, k)
	}
	counters := make([]*replicaCounters, len(keys))
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for i, k := range keys {
		counters[i] = replicaCounterSet.byKey[k]
	}
	replicaCounterSet.Unlock()
	if len(keys) == 0 {
		return
	}
	fmt.Fprint(w, "# HELP megaflow_replica_calls_total Calls to each replica by outcome.\n# TYPE megaflow_replica_calls_total counter\n")
	for i, k := range keys {
		for o, name := range replicaOutcomes {
			fmt.Fprintf(w, "megaflow_replica_calls_total{service=%s,replica=%s,outcome=%q} %d\n",
				strconv.Quote(k[0]), strconv.Quote(k[1]), name, counters[i].byOutcome[o].Load())
		}
	}
}
