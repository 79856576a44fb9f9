package config

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/host/hookadapter"
	"github.com/megaflow/megaflow/runtime"
)

// hookOf maps a node's plugin key to the host's hook kind.
var hookOf = map[string]host.Hook{
	"request":   host.HookRequest,
	"response":  host.HookResponse,
	"events":    host.HookEvent,
	"aggregate": host.HookAggregate,
	"route":     host.HookRoute,
}

// usedPlugins returns the names of the plugins some node refers to, sorted.
func usedPlugins(f *File) []string {
	used := map[string]bool{}
	for _, fl := range f.Flows {
		for i := range fl.Nodes {
			for _, key := range hookKeys {
				if p := fl.Nodes[i].hook(key); p != "" {
					used[p] = true
				}
			}
		}
	}
	return sortedKeys(used)
}

// loadPlugins loads every plugin a node uses into one host engine, which
// the returned closer closes. Plugins no node uses are only checked by
// Load, so they start no instances. Each failure is added to out at the
// plugin's path key.
func loadPlugins(f *File, out *problems) (map[string]*host.Plugin, io.Closer, error) {
	names := usedPlugins(f)
	if len(names) == 0 {
		return nil, nil, nil
	}
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.EngineOptions{Logger: slog.Default(), CacheDir: wasmCacheDir()})
	if err != nil {
		return nil, nil, err
	}
	closer := closerFunc(func() error { return engine.Close(context.Background()) })
	loaded := map[string]*host.Plugin{}
	for _, name := range names {
		p := f.Plugins[name]
		// NOTE: the host applies Timeout to each instance's init hook too,
		// so a timeout of tens of milliseconds can fail a Go-built plugin's
		// start on a loaded machine, as seen with 50ms on 2 busy cores.
		opts := host.PluginOptions{
			MaxMemory: uint64(p.MaxMemory.Bytes),
			Timeout:   p.Timeout.Duration,
			Instances: p.Instances,
		}
		// An absent config table reaches the plugin as {}, so its init hook
		// always gets a JSON object.
		opts.Config = []byte("{}")
		if p.Config != nil {
			if opts.Config, err = json.Marshal(p.Config); err != nil {
				out.add(f.position("plugins", name, "config"), "plugin %q: config cannot be sent as JSON: %v; remove nan and inf values", name, err)
				continue
			}
		}
		plugin, err := engine.Load(ctx, name, p.resolved, opts)
		if err != nil {
			out.add(f.position("plugins", name, "path"), "%v", err)
			continue
		}
		loaded[name] = plugin
	}
	return loaded, closer, nil
}

// attachHooks sets the hooks of a node spec from its plugins, reporting a
// plugin that lacks the hook the node uses it for.
func attachHooks(f *File, flow string, i int, n *Node, spec *runtime.NodeSpec, plugins map[string]*host.Plugin, out *problems) {
	adapters := map[string]*hookadapter.Hooks{}
	for _, key := range hookKeys {
		name := n.hook(key)
		plugin, ok := plugins[name]
		if name == "" || !ok {
			continue // no hook, or a plugin that failed to load and is reported
		}
		if !plugin.Has(hookOf[key]) {
			out.add(f.position(nodePath(flow, i, key)...), "%s: %s plugin %q has no %s hook; it implements %s",
				nodeLabel(flow, i, *n), key, name, hookOf[key], describeHooks(plugin))
			continue
		}
		a := adapters[name]
		if a == nil {
			a = hookadapter.New(plugin, hookadapter.Options{Node: n.NodeName(), WrapError: pluginError})
			adapters[name] = a
		}
		switch key {
		case "request":
			spec.Request = a
		case "response":
			spec.Response = a
		case "events":
			spec.Events = a
		case "aggregate":
			spec.Aggregate = a
		case "route":
			spec.Route = a
		}
	}
}

func describeHooks(p *host.Plugin) string {
	var names []string
	for _, key := range hookKeys {
		if p.Has(hookOf[key]) {
			names = append(names, key)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// pluginError turns a plugin failure into the error the client gets: the
// status the host chose, with the plugin and node named.
func pluginError(node string, err *host.Error) error {
	return &runtime.Error{
		Status:  err.Status,
		Message: fmt.Sprintf("plugin %s hook failed: %s", err.Hook, err.Message),
		Plugin:  err.Plugin,
		Node:    node,
		Err:     err,
	}
}

// wasmCacheDir returns where compiled plugins are cached across restarts
// and reloads: $MEGAFLOW_WASM_CACHE, else megaflow/wasm under the user's
// cache directory (XDG_CACHE_HOME or ~/.cache on Linux). Empty, when
// neither is usable, compiles plugins in memory only. The cache makes a Go
// plugin's load about 20 times faster (0.8 s to 46 ms measured with the
// host benchmarks).
func wasmCacheDir() string {
	if dir := os.Getenv("MEGAFLOW_WASM_CACHE"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(base, "megaflow", "wasm")
	if os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	return dir
}
