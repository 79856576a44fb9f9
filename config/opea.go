package config

import (
	"slices"
	"strconv"

	"github.com/megaflow/megaflow/runtime"
)

// The keys that ease a move from OPEA GenAIComps: a route's client-facing
// API and stream format, and how a node merges the outputs of several
// predecessors.

var (
	routeAPIs      = []string{"openai"}
	streamFormats  = []string{"openai", "opea"}
	aggregateModes = []string{"keyed", "merge"}
)

// opea checks the route api, stream_format and aggregate_mode keys.
func (v *validator) opea() {
	for i, r := range v.f.Routes {
		base := []string{"routes", strconv.Itoa(i)}
		owner := routeLabel(i, r.Path)
		if r.API != "" && !slices.Contains(routeAPIs, r.API) {
			v.add(appendPath(base, "api"), "%s: api %q is unknown%s, or leave api out to pass bodies unchanged", owner, r.API, oneOf(r.API, routeAPIs))
		}
		if !slices.Contains(streamFormats, r.StreamFormat) {
			v.add(appendPath(base, "stream_format"), "%s: stream_format %q is unknown%s", owner, r.StreamFormat, oneOf(r.StreamFormat, streamFormats))
		} else if r.API == "" && v.pos.defined(appendPath(base, "stream_format")) {
			v.add(appendPath(base, "stream_format"), "%s: stream_format applies only to a route with an api; set api = \"openai\" or remove stream_format", owner)
		}
	}
	for _, name := range sortedKeys(v.f.Flows) {
		fl := v.f.Flows[name]
		if !slices.Contains(aggregateModes, fl.AggregateMode) {
			v.add([]string{"flows", name, "aggregate_mode"}, "flow %q: aggregate_mode %q is unknown%s", name, fl.AggregateMode, oneOf(fl.AggregateMode, aggregateModes))
		}
		for i, n := range fl.Nodes {
			path := nodePath(name, i, "aggregate_mode")
			switch {
			case n.AggregateMode != "" && !slices.Contains(aggregateModes, n.AggregateMode):
				v.add(path, "%s: aggregate_mode %q is unknown%s", nodeLabel(name, i, n), n.AggregateMode, oneOf(n.AggregateMode, aggregateModes))
			case n.AggregateMode == "merge" && n.Aggregate != "":
				v.add(path, "%s: aggregate_mode = \"merge\" and aggregate plugin %q both combine the predecessors' outputs; keep one", nodeLabel(name, i, n), n.Aggregate)
			}
		}
	}
}

// routeAPI returns the RouteAPI a route's api key names, nil for none.
// Load has checked the names.
func routeAPI(r Route) runtime.RouteAPI {
	if r.API != "openai" {
		return nil
	}
	format, _ := runtime.ParseStreamFormat(r.StreamFormat)
	return &runtime.OpenAIChat{Stream: format}
}

// attachOPEA gives each node of spec the request parameters of its
// service type and, where aggregate_mode is "merge" and no aggregate
// plugin is set, the key-by-key merge of its predecessors' outputs.
func attachOPEA(fl Flow, spec *runtime.FlowSpec) {
	for i := range spec.Nodes {
		ns := &spec.Nodes[i]
		if ns.Service != nil {
			ns.Params = runtime.ParamsFor(ns.Service.Type)
		}
		mode := fl.Nodes[i].AggregateMode
		if mode == "" {
			mode = fl.AggregateMode
		}
		if mode == "merge" && ns.Aggregate == nil && ns.AggregateName == "" {
			ns.Aggregate = runtime.MergeObjects
		}
	}
}
