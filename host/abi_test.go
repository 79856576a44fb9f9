package host_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/megaflow/megaflow/host"
)

// referenceGuests are the two implementations of the reference behaviour:
// one hand-written in WAT, one written with the Go SDK. Every ABI test runs
// against both, which shows the ABI does not depend on Go.
func referenceGuests() map[string]string {
	return map[string]string{
		"wat": "testdata/wat/reference.wasm",
		"go":  guests["reference"],
	}
}

func forEachReference(t *testing.T, opts host.PluginOptions, test func(t *testing.T, p *host.Plugin)) {
	for lang, path := range referenceGuests() {
		t.Run(lang, func(t *testing.T) {
			e := newEngine(t)
			test(t, load(t, e, "reference-"+lang, path, opts))
		})
	}
}

func TestReferenceHooks(t *testing.T) {
	forEachReference(t, host.PluginOptions{Instances: 1}, func(t *testing.T, p *host.Plugin) {
		want := host.HookRequest | host.HookResponse | host.HookEvent | host.HookAggregate | host.HookRoute
		if p.Hooks() != want {
			t.Errorf("Hooks() = %#x, want %#x", p.Hooks(), want)
		}
	})
}

func TestRequestHook(t *testing.T) {
	forEachReference(t, host.PluginOptions{}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		headers := host.AppendHeader(nil, []byte("Content-Type"), []byte("application/json"))
		headers = host.AppendHeader(headers, []byte("x-empty"), nil)
		var out host.RequestOutput

		t.Run("replace body", func(t *testing.T) {
			if err := p.Request(ctx, []byte("hello"), headers, &out); err != nil {
				t.Fatal(err)
			}
			if !out.Changed || out.Status != 0 {
				t.Errorf("Changed, Status = %v, %d; want true, 0", out.Changed, out.Status)
			}
			if want := append([]byte("hello"), headers...); !bytes.Equal(out.Body, want) {
				t.Errorf("Body = %q, want %q", out.Body, want)
			}
			if len(out.Headers) != 1 || string(out.Headers[0].Name) != "x-abi" || string(out.Headers[0].Value) != "v1" || out.Headers[0].Delete {
				t.Errorf("Headers = %+v, want one edit setting x-abi to v1", out.Headers)
			}
		})
		t.Run("short circuit", func(t *testing.T) {
			if err := p.Request(ctx, []byte("stop"), nil, &out); err != nil {
				t.Fatal(err)
			}
			if out.Status != 203 || string(out.Body) != "short" || out.Changed {
				t.Errorf("Status, Body, Changed = %d, %q, %v; want 203, \"short\", false", out.Status, out.Body, out.Changed)
			}
		})
		t.Run("failure status", func(t *testing.T) {
			err := p.Request(ctx, nil, headers, &out)
			e := hostError(t, err)
			if e.Kind != host.KindFailed || e.Status != 400 || e.Message != "empty body" {
				t.Errorf("error = %+v; want KindFailed, 400, \"empty body\"", e)
			}
			if e.Hook != host.HookRequest || !strings.HasPrefix(e.Plugin, "reference-") {
				t.Errorf("error names hook %s and plugin %q", e.Hook, e.Plugin)
			}
			if len(out.Body) != 0 || len(out.Headers) != 0 {
				t.Errorf("output after failure = %q, %+v; want empty", out.Body, out.Headers)
			}
		})
	})
}

func TestResponseHook(t *testing.T) {
	forEachReference(t, host.PluginOptions{}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		got, changed, err := p.Response(ctx, []byte("abc"), []byte("prefix:"))
		if err != nil {
			t.Fatal(err)
		}
		if !changed || string(got) != "prefix:[abc]" {
			t.Errorf("Response(abc) = %q, %v; want \"prefix:[abc]\", true", got, changed)
		}

		got, changed, err = p.Response(ctx, nil, []byte("prefix:"))
		if err != nil {
			t.Fatal(err)
		}
		if changed || string(got) != "prefix:" {
			t.Errorf("Response(empty) = %q, %v; want \"prefix:\", false", got, changed)
		}

		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		got, _, err = p.Response(ctx, big, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(big)+2 || got[0] != '[' || !bytes.Equal(got[1:len(got)-1], big) {
			t.Errorf("Response(1 MiB) returned %d bytes, want the input in brackets", len(got))
		}
	})
}

func TestEventHook(t *testing.T) {
	forEachReference(t, host.PluginOptions{}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		cases := []struct{ event, want string }{
			{"abc", "[abc]"},
			{"keep me", "keep me"},
			{"drop me", ""},
		}
		for _, c := range cases {
			got, err := p.Event(ctx, []byte(c.event), []byte(">"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != ">"+c.want {
				t.Errorf("Event(%q) = %q, want %q", c.event, got, ">"+c.want)
			}
		}
	})
}

func TestAggregateHook(t *testing.T) {
	forEachReference(t, host.PluginOptions{}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		inputs := []host.Input{
			{Name: "retriever", ContentType: []byte("application/json"), Data: []byte(`{"a":1}`)},
			{Name: "web", Data: []byte("plain")},
			{Name: "empty"},
		}
		got, err := p.Aggregate(ctx, inputs, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := `retriever:application/json={"a":1};web:=plain;empty:=;`; string(got) != want {
			t.Errorf("Aggregate = %q, want %q", got, want)
		}

		many := make([]host.Input, 16)
		for i := range many {
			many[i] = host.Input{Name: "n", Data: []byte{byte('a' + i)}}
		}
		got, err = p.Aggregate(ctx, many, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(got), ";") != 16 {
			t.Errorf("Aggregate of 16 inputs = %q, want 16 entries", got)
		}

		_, err = p.Aggregate(ctx, nil, nil)
		if e := hostError(t, err); e.Kind != host.KindFailed || e.Status != 422 || e.Message != "no inputs" {
			t.Errorf("Aggregate(none) error = %+v; want KindFailed, 422, \"no inputs\"", e)
		}
	})
}

func TestRouteHook(t *testing.T) {
	forEachReference(t, host.PluginOptions{}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		successors := []string{"rerank", "llm", "web"}
		selected := []bool{true, true, true}

		if err := p.Route(ctx, []byte("llm"), successors, selected); err != nil {
			t.Fatal(err)
		}
		if want := []bool{false, true, false}; !equalBools(selected, want) {
			t.Errorf("Route(llm) selected %v, want %v", selected, want)
		}

		if err := p.Route(ctx, nil, successors, selected); err != nil {
			t.Fatal(err)
		}
		if want := []bool{true, true, true}; !equalBools(selected, want) {
			t.Errorf("Route(empty) selected %v, want %v", selected, want)
		}

		err := p.Route(ctx, []byte("nowhere"), successors, selected)
		if e := hostError(t, err); e.Kind != host.KindFailed || e.Status != 404 {
			t.Errorf("Route(nowhere) error = %+v; want KindFailed, 404", e)
		}
	})
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestInitConfig(t *testing.T) {
	for lang, path := range referenceGuests() {
		t.Run(lang, func(t *testing.T) {
			e := newEngine(t)
			_, err := e.Load(testContext(t), "picky", path, host.PluginOptions{Config: []byte("x: not JSON")})
			if err == nil {
				t.Fatal("Load with a config the init hook rejects succeeded")
			}
			for _, want := range []string{`"picky"`, "bad config"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			load(t, e, "fine", path, host.PluginOptions{Config: []byte(`{"ok":true}`)})
		})
	}
}

func TestGuestLogs(t *testing.T) {
	for lang, path := range referenceGuests() {
		t.Run(lang, func(t *testing.T) {
			var logs logBuffer
			e := newEngine(t)
			load(t, e, "talker", path, host.PluginOptions{Instances: 1, Logger: slogTo(&logs)})
			if got := logs.String(); !strings.Contains(got, "reference guest started") || !strings.Contains(got, "plugin=talker") {
				t.Errorf("log = %q, want the init message with plugin=talker", got)
			}
		})
	}
}

// TestConcurrentCalls runs many goroutines through a pool of two
// instances and checks that every call gets its own result.
func TestConcurrentCalls(t *testing.T) {
	forEachReference(t, host.PluginOptions{Instances: 2}, func(t *testing.T, p *host.Plugin) {
		ctx := testContext(t)
		errs := make(chan error, 8)
		for g := range 8 {
			go func() {
				var dst []byte
				for i := range 200 {
					in := []byte(fmt.Sprintf("g%d-call%d", g, i))
					out, _, err := p.Response(ctx, in, dst[:0])
					if err != nil {
						errs <- err
						return
					}
					if want := "[" + string(in) + "]"; string(out) != want {
						errs <- fmt.Errorf("Response(%s) = %q, want %q", in, out, want)
						return
					}
					dst = out
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if s := p.Stats(); s.Calls != 1600 || s.Instances != 2 {
			t.Errorf("Stats = %+v; want 1600 calls on 2 instances", s)
		}
	})
}
