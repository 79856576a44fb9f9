package runtime

import (
	"bufio"
	"bytes"
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// metricHelp is the HELP text of the families that megaflow registers in
// VictoriaMetrics/metrics, which writes HELP lines without text.
// docs/metrics.md describes these and every other family.
var metricHelp = map[string]string{
	"megaservice_first_token_latency":       "Seconds from the request's arrival to the first token streamed to the client (OPEA's name).",
	"megaservice_inter_token_latency":       "Seconds between consecutive tokens streamed to the client (OPEA's name).",
	"megaservice_request_latency":           "Seconds from a request's arrival to its last response byte, streams included (OPEA's name).",
	"megaservice_request_pending":           "Requests received and not yet answered, streams included (OPEA's name).",
	"megaflow_requests_in_flight":           "Requests whose flow is running or whose stream is being written, counted against server.max_concurrent_requests.",
	"megaflow_requests_total":               "Requests answered, by route, method and response status.",
	"megaflow_request_duration_seconds":     "Seconds from a request's arrival to its last response byte, by route and method.",
	"megaflow_stream_tokens_total":          "Tokens streamed to clients.",
	"megaflow_service_calls_total":          "Node executions that call a service, by service and outcome: ok, rejected (the service answered 4xx) or failed.",
	"megaflow_service_duration_seconds":     "Seconds a node that calls the service took, hooks and retries included, by service.",
	"megaflow_service_retries_total":        "Extra attempts made after a failed call, by service.",
	"megaflow_plugin_calls_total":           "Plugin hook calls, by plugin, node, hook and outcome.",
	"megaflow_plugin_call_duration_seconds": "Seconds a plugin hook call took, waiting for a free instance included, by plugin, node and hook.",
}

var helpPrefix = []byte("# HELP ")

// writeMetrics writes every metric in Prometheus text format, with the
// HELP text of metricHelp in place of the empty HELP lines.
func writeMetrics(w io.Writer) error {
	var raw bytes.Buffer
	metrics.WritePrometheus(&raw, true)
	out := bufio.NewWriter(w)
	sc := bufio.NewScanner(&raw)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		out.Write(line)
		if name, ok := bytes.CutPrefix(line, helpPrefix); ok {
			if help := metricHelp[string(name)]; help != "" {
				out.WriteByte(' ')
				out.WriteString(help)
			}
		}
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return out.Flush()
}
