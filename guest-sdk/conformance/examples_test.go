package conformance_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/megaflow/megaflow/host"
)

// example is one SDK's example plugin. Every example implements the same
// small plugin (see each SDK's README.md): its response and event hooks
// upper-case ASCII letters, so one test checks them all.
type example struct {
	lang string
	path string // relative to this directory
}

var examples = []*example{
	{lang: "rust", path: "../rust/examples/upper/upper.wasm"},
	{lang: "c", path: "../c/examples/upper/upper.wasm"},
	{lang: "assemblyscript", path: "../assemblyscript/examples/upper/upper.wasm"},
}

func TestExamples(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex.lang, func(t *testing.T) {
			if _, err := os.Stat(ex.path); err != nil {
				t.Fatalf("example module missing (run make sdk to build it): %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e := newEngine(t)
			p, err := e.Load(ctx, "upper-"+ex.lang, ex.path, host.PluginOptions{Instances: 1})
			if err != nil {
				t.Fatal(err)
			}
			if want := host.HookResponse | host.HookEvent; p.Hooks() != want {
				t.Errorf("Hooks() = %#x; want %#x", p.Hooks(), want)
			}

			got, changed, err := p.Response(ctx, []byte("Hello, café"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !changed || string(got) != "HELLO, CAFé" {
				t.Errorf("Response = %q, %v; want \"HELLO, CAFé\", true", got, changed)
			}

			got, err = p.Event(ctx, []byte("data: hi\n\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "DATA: HI\n\n" {
				t.Errorf("Event = %q; want \"DATA: HI\\n\\n\"", got)
			}
		})
	}
}
