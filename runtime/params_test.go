package runtime

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestParamsForTypes(t *testing.T) {
	params := []byte(`{"llm":{"stream":false,"max_tokens":1024},"retriever":{"k":4},"rerank":{"top_n":1}}`)
	cases := []struct {
		typ        ServiceType
		input      string
		want       string
		noInjector bool
	}{
		{typ: TypeLLM, input: `{"messages":[]}`, want: `{"messages":[],"stream":false,"max_tokens":1024}`},
		{typ: TypeLVM, input: `{}`, want: `{"stream":false,"max_tokens":1024}`},
		{typ: TypeRetriever, input: `{"text":"q","k":2}`, want: `{"text":"q","k":2}`},
		{typ: TypeRetriever, input: ` { "text" : "q" } `, want: `{"text":"q","k":4}`},
		{typ: TypeRerank, input: `{"query":"q","texts":["a,b}"]}`, want: `{"query":"q","texts":["a,b}"],"top_n":1}`},
		{typ: TypeEmbedding, noInjector: true},
		{typ: TypeGuardrail, noInjector: true},
		{typ: TypeRetriever, input: `[[0.1,0.2]]`, want: `[[0.1,0.2]]`},
		{typ: TypeLLM, input: `not json`, want: `not json`},
		// stream follows the request even where the input has one.
		{typ: TypeLLM, input: `{"stream":true,"max_tokens":64}`, want: `{"max_tokens":64,"stream":false}`},
	}
	for _, c := range cases {
		t.Run(c.typ.String()+" "+c.input, func(t *testing.T) {
			inject := ParamsFor(c.typ)
			if c.noInjector {
				if inject != nil {
					t.Fatal("got an injector for a type that takes no parameters")
				}
				return
			}
			out, err := inject([]byte(c.input), params, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Errorf("got  %s\nwant %s", out, c.want)
			}
		})
	}
}

func TestParamsKeepInputWithoutGroup(t *testing.T) {
	out, err := ParamsFor(TypeRerank)([]byte(`{"a":1}`), []byte(`{"llm":{"stream":true}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"a":1}` {
		t.Errorf("got %s", out)
	}
}

// TestParamsReachNodesByType runs retriever → rerank → llm behind an
// OpenAIChat route and checks which parameters each service received.
func TestParamsReachNodesByType(t *testing.T) {
	seen := map[string]chan string{}
	var nodes []NodeSpec
	var services []*MicroService
	for _, n := range []struct {
		name string
		typ  ServiceType
	}{{"retriever", TypeRetriever}, {"rerank", TypeRerank}, {"llm", TypeLLM}} {
		seen[n.name] = make(chan string, 1)
		svc, up := remote(t, n.name, startServer(t, recordingEcho(seen[n.name], "application/json")), func(s *MicroService) { s.Type = n.typ })
		spec := NodeSpec{Service: svc, Exec: up, Params: ParamsFor(n.typ)}
		if len(nodes) > 0 {
			spec.After = []string{nodes[len(nodes)-1].Service.Name}
		}
		nodes = append(nodes, spec)
		services = append(services, svc)
	}
	p, err := CompilePlan(FlowSpec{Name: "rag", Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/v1/chatqna", Plan: p, API: &OpenAIChat{}}}, services)
	if err != nil {
		t.Fatal(err)
	}
	base := startMegaflow(t, snap)
	resp, err := httpClient.Post(base+"/v1/chatqna", "application/json",
		strings.NewReader(`{"messages":"q","k":8,"top_n":2,"max_tokens":17,"temperature":0.2}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	got := map[string]map[string]any{}
	for name, ch := range seen {
		var m map[string]any
		if err := json.Unmarshal([]byte(<-ch), &m); err != nil {
			t.Fatalf("%s got a body that is not an object: %v", name, err)
		}
		got[name] = m
	}
	checks := []struct {
		node, key string
		want      any
	}{
		{"retriever", "text", "q"},
		{"retriever", "k", 8.0},
		{"retriever", "fetch_k", 20.0},
		{"rerank", "top_n", 2.0},
		{"llm", "max_tokens", 17.0},
		{"llm", "temperature", 0.2},
		{"llm", "stream", false},
	}
	for _, c := range checks {
		if v := got[c.node][c.key]; v != c.want {
			t.Errorf("%s received %s = %v, want %v", c.node, c.key, v, c.want)
		}
	}
	if _, ok := got["retriever"]["max_tokens"]; ok {
		t.Error("the retriever received the LLM's max_tokens")
	}
	if _, ok := got["rerank"]["top_n"]; !ok {
		t.Error("the rerank node received no top_n")
	}
}

// requestRecorder is a RequestShaper that keeps the input it was given,
// as OPEA's align_inputs receives llm_parameters_dict.
type requestRecorder struct{ seen chan string }

func (r *requestRecorder) ShapeRequest(_ context.Context, call *Call) error {
	r.seen <- string(call.Input)
	return nil
}

func TestParamsReachRequestHook(t *testing.T) {
	hook := &requestRecorder{seen: make(chan string, 1)}
	svc, up := remote(t, "llm", startServer(t, fixedReply(`{"text":"ok"}`)), func(s *MicroService) { s.Type = TypeLLM })
	p, err := CompilePlan(FlowSpec{Name: "chat", Nodes: []NodeSpec{{Service: svc, Exec: up, Params: ParamsFor(TypeLLM), Request: hook}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/v1/chat/completions", Plan: p, API: &OpenAIChat{}}}, []*MicroService{svc})
	if err != nil {
		t.Fatal(err)
	}
	base := startMegaflow(t, snap)
	resp, err := httpClient.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":"q","max_tokens":9}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var in map[string]any
	if err := json.Unmarshal([]byte(<-hook.seen), &in); err != nil {
		t.Fatal(err)
	}
	if in["max_tokens"] != 9.0 {
		t.Errorf("the request hook saw max_tokens = %v, want 9", in["max_tokens"])
	}
	if in["text"] != "q" {
		t.Errorf("the request hook saw text = %v, want q", in["text"])
	}
}
