package host_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/megaflow/megaflow/host"
)

// The reference guest wraps a response in brackets; see
// testdata/wat/reference.wat.
func Example() {
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.EngineOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer engine.Close(ctx)

	plugin, err := engine.Load(ctx, "reference", "testdata/wat/reference.wasm", host.PluginOptions{Instances: 1})
	if err != nil {
		panic(err)
	}
	out, changed, err := plugin.Response(ctx, []byte("hello"), nil)
	fmt.Println(string(out), changed, err)

	// An empty body makes the guest's request hook fail with 400.
	var request host.RequestOutput
	err = plugin.Request(ctx, nil, nil, &request)
	fmt.Println(err)
	// Output:
	// [hello] true <nil>
	// plugin "reference": request hook: failed: empty body
}
