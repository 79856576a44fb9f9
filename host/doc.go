// Package host runs megaflow plugins: WebAssembly modules that implement
// plugin ABI version 1 (docs/ABI.md), executed by wazero in a sandbox with
// no filesystem, network, environment or arguments.
//
// An Engine compiles each plugin once, sharing one compilation cache, and
// a Plugin keeps a bounded pool of instances started and initialized
// before its first call. Each hook method (Request, Response, Event,
// Aggregate, Route) takes a free instance, waiting on the caller's context
// when none is free, copies the input into the guest, calls the guest's
// export and appends the guest's output to a caller-owned buffer. A call
// without a timeout allocates nothing on the host.
//
//	engine, err := host.NewEngine(ctx, host.EngineOptions{CacheDir: "/var/cache/megaflow"})
//	...
//	plugin, err := engine.Load(ctx, "to_tei", "plugins/build/to_tei.wasm", host.PluginOptions{
//		Timeout: 50 * time.Millisecond,
//		Config:  []byte(`{"field":"messages"}`),
//	})
//	...
//	var out host.RequestOutput
//	err = plugin.Request(ctx, body, headers, &out)
//
// A failing call returns an *Error. Its Kind separates a failure the guest
// chose (KindFailed, with its HTTP status and message) from a trap, a
// timeout, memory exhaustion or an ABI violation. After those the instance
// is closed and a fresh one takes its place. Closing the Engine, or a
// Plugin, closes every instance once its call returns.
//
// The package depends on wazero only; host/hookadapter adapts a Plugin to
// the node hook interfaces of the runtime package.
package host
