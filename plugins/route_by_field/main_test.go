package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestRouteByField(t *testing.T) {
	p := plugintest.Load(t, `{"field":"retrieved_docs","if_empty":["llm"],"cases":{"none":[]},"default":["rerank","llm"]}`)
	successors := []string{"rerank", "llm", "audit"}
	cases := []struct {
		output string
		want   []bool
	}{
		{`{"retrieved_docs":[{"text":"a"}]}`, []bool{true, true, false}},
		{`{"retrieved_docs":[]}`, []bool{false, true, false}},
		{`{"retrieved_docs":null}`, []bool{false, true, false}},
		{`{"other":1}`, []bool{false, true, false}},
		{`not json`, []bool{false, true, false}},
		{`{"retrieved_docs":"none"}`, []bool{false, false, false}},
	}
	for _, c := range cases {
		selected := []bool{true, true, true}
		if err := p.Route(plugintest.Ctx(t), []byte(c.output), successors, selected); err != nil {
			t.Fatalf("output %s: %v", c.output, err)
		}
		if fmt.Sprint(selected) != fmt.Sprint(c.want) {
			t.Errorf("output %s selected %v, want %v", c.output, selected, c.want)
		}
	}
}

func TestRouteUnconfiguredRuleRunsAll(t *testing.T) {
	p := plugintest.Load(t, `{"field":"kind","cases":{"math":["calculator"]}}`)
	successors := []string{"calculator", "llm"}
	selected := []bool{false, false}
	if err := p.Route(plugintest.Ctx(t), []byte(`{"kind":"poetry"}`), successors, selected); err != nil {
		t.Fatal(err)
	}
	if !selected[0] || !selected[1] {
		t.Errorf("selected %v, want every successor", selected)
	}
	if err := p.Route(plugintest.Ctx(t), []byte(`{"kind":"math"}`), successors, selected); err != nil {
		t.Fatal(err)
	}
	if !selected[0] || selected[1] {
		t.Errorf("selected %v, want only calculator", selected)
	}
}

func TestRouteUnknownSuccessor(t *testing.T) {
	p := plugintest.Load(t, `{"field":"x","default":["missing"]}`)
	err := p.Route(plugintest.Ctx(t), []byte(`{"x":1}`), []string{"llm"}, []bool{true})
	if e := plugintest.HostError(t, err); e.Kind != host.KindFailed || !strings.Contains(e.Message, `"missing"`) {
		t.Errorf("error = %v, want a failure naming the unknown successor", err)
	}
}

func TestRouteRequiresField(t *testing.T) {
	if err := plugintest.LoadError(t, `{}`); !strings.Contains(err.Error(), "no field") {
		t.Errorf("error %q does not name the missing field", err)
	}
}
