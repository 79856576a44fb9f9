// Command noop is a megaflow request plugin that leaves every request as
// it is. The plugin benchmark scenario runs it to measure the cost of one
// plugin call per request. Build it with "make bench-plugins", which writes
// bench/out/plugins/noop.wasm.
package main

import megaflow "github.com/megaflow/megaflow/guest-sdk/go"

func init() {
	megaflow.OnRequest(func(*megaflow.Request) megaflow.Status { return megaflow.Unchanged })
}

func main() {}
