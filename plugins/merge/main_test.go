package main

import (
	"strings"
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

var inputs = []host.Input{
	{Name: "retriever", ContentType: []byte("application/json"), Data: []byte(`{"docs":["a"]}`)},
	{Name: "web", ContentType: []byte("text/plain"), Data: []byte(`plain "text"`)},
	{Name: "empty"},
}

func TestMergeObject(t *testing.T) {
	p := plugintest.Load(t, ``)
	got, err := p.Aggregate(plugintest.Ctx(t), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(got), `{"retriever":{"docs":["a"]},"web":"plain \"text\"","empty":""}`)
}

func TestMergeList(t *testing.T) {
	p := plugintest.Load(t, `{"mode":"list"}`)
	got, err := p.Aggregate(plugintest.Ctx(t), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(got), `[{"docs":["a"]},"plain \"text\"",""]`)
}

func TestMergeNoInputs(t *testing.T) {
	p := plugintest.Load(t, ``)
	got, err := p.Aggregate(plugintest.Ctx(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.EqualJSON(t, string(got), `{}`)
}

func TestMergeRejectsUnknownMode(t *testing.T) {
	if err := plugintest.LoadError(t, `{"mode":"zip"}`); !strings.Contains(err.Error(), `"zip"`) {
		t.Errorf("error %q does not name the mode", err)
	}
}
