// Package opea re-creates the scenarios of OPEA GenAIComps' orchestrator
// tests (tests/cores/mega) on megaflow: the same microservices, inputs and
// observable results, with real TOML files, real HTTP services on
// 127.0.0.1 and the real megaflow server. Where megaflow differs on
// purpose, the test shows the setting that restores OPEA's behaviour, or
// the difference that docs/migrating-from-opea.md explains.
//
// NOTE: OPEA's streaming scenario, where a node after a streaming LLM
// receives the stream cut into sentences, is not re-created here; the
// stream_sentences node setting has its own tests in runtime.
package opea

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/megaflow/megaflow/config"
	"github.com/megaflow/megaflow/runtime"
)

// startService serves h on a fresh 127.0.0.1 port until the test ends and
// returns its base URL.
func startService(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// textDoc is OPEA's TextDoc, the body of its test microservices.
type textDoc struct {
	Text                string   `json:"text"`
	DownstreamBlackList []string `json:"downstream_black_list,omitempty"`
}

// addText is an OPEA test microservice: it appends suffix to the request's
// text after delay and returns {"text": ...}.
func addText(t *testing.T, suffix string, delay time.Duration) string {
	return addTextTracked(t, suffix, delay, nil, "")
}

// overlap counts calls in flight per key and keeps the maximum, to show
// which calls ran at the same time.
type overlap struct {
	mu       sync.Mutex
	inFlight map[string]int
	max      map[string]int
}

func newOverlap() *overlap {
	return &overlap{inFlight: map[string]int{}, max: map[string]int{}}
}

func (o *overlap) enter(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inFlight[key]++
	o.max[key] = max(o.max[key], o.inFlight[key])
}

func (o *overlap) leave(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inFlight[key]--
}

func (o *overlap) maxOf(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.max[key]
}

// addTextTracked is addText that also records its calls in o, under
// group plus the request's text, while it sleeps.
func addTextTracked(t *testing.T, suffix string, delay time.Duration, o *overlap, group string) string {
	return startService(t, func(ctx *fasthttp.RequestCtx) {
		var in textDoc
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil {
			ctx.Error(`{"detail":"invalid TextDoc"}`, 422)
			return
		}
		if o != nil {
			o.enter(group)
			o.enter(group + in.Text)
			defer o.leave(group)
			defer o.leave(group + in.Text)
		}
		time.Sleep(delay)
		out, _ := json.Marshal(textDoc{Text: in.Text + suffix})
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
	})
}

// serve loads src as a configuration file, serves it on a free loopback
// port and returns the base URL.
func serve(t *testing.T, src string) string {
	t.Helper()
	f, err := config.Parse("scenario.toml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f.Admin.Listen = ""
	snap, err := config.Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", snap.Settings().Listen)
	if err != nil {
		snap.Close()
		t.Fatal(err)
	}
	srv := runtime.NewServer(snap, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln) //nolint:errcheck // returns when Shutdown closes the listener
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		snap.Close()
	})
	return "http://" + ln.Addr().String()
}

var client = &http.Client{Timeout: 20 * time.Second}

// reply is one response: status, headers and whole body.
type reply struct {
	status int
	header http.Header
	body   string
}

// post sends body with the debug header that makes megaflow report which
// nodes ran.
func post(t *testing.T, url, body string) reply {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Megaflow-Debug", "graph")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(data)}
}

// ran returns the nodes that ran, from megaflow's X-Megaflow-Graph header:
// the counterpart of the keys of OPEA's result_dict.
func (r reply) ran(t *testing.T) []string {
	t.Helper()
	var g struct {
		Nodes []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(r.header.Get("X-Megaflow-Graph")), &g); err != nil {
		t.Fatalf("X-Megaflow-Graph %q: %v", r.header.Get("X-Megaflow-Graph"), err)
	}
	var names []string
	for _, n := range g.Nodes {
		if n.State == "ran" {
			names = append(names, n.Name)
		}
	}
	return names
}

func services(urls map[string]string) string {
	var b strings.Builder
	for _, name := range []string{"s1", "s2", "s3", "s4", "join"} {
		if url, ok := urls[name]; ok {
			fmt.Fprintf(&b, "[services.%s]\nurl = %q\n", name, url+"/v1/add")
		}
	}
	return b.String()
}

// TestChain re-creates test_service_orchestrator.py: s1 → s2.
func TestChain(t *testing.T) {
	base := serve(t, services(map[string]string{
		"s1": addText(t, "opea ", 0),
		"s2": addText(t, "project!", 0),
	})+`
[flows.f]
chain = "s1 >> s2"

[[routes]]
path = "/v1/add"
flow = "f"
`)
	r := post(t, base+"/v1/add", `{"text":"hello, "}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.body != `{"text":"hello, opea project!"}` {
		t.Errorf("body %s", r.body)
	}
	if got := strings.Join(r.ran(t), ","); got != "s1,s2" {
		t.Errorf("ran %s, want s1,s2", got)
	}
}

// TestParallelBranchesConcurrently re-creates test_aio.py: s1 → (s2, s3)
// with every service slow, under two concurrent requests. OPEA reads both
// leaves from its result_dict; here a join node (the built-in echo
// service) returns both, keyed by branch. OPEA checks the total time;
// this test checks instead that the calls overlapped, which holds on a
// loaded machine too.
func TestParallelBranchesConcurrently(t *testing.T) {
	const delay = 300 * time.Millisecond
	calls := newOverlap()
	base := serve(t, services(map[string]string{
		"s1": addTextTracked(t, "opea", delay, calls, "s1"),
		"s2": addTextTracked(t, " project1!", delay, calls, "branch"),
		"s3": addTextTracked(t, " project2!", delay, calls, "branch"),
	})+`
[services.join]
builtin = "echo"

[flows.f]
chain = "s1 >> (s2, s3) >> join"

[[routes]]
path = "/v1/add"
flow = "f"
`)
	start := time.Now()
	var wg sync.WaitGroup
	replies := make([]reply, 2)
	for i, text := range []string{"hello, ", "hi, "} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = post(t, base+"/v1/add", `{"text":"`+text+`"}`)
		}()
	}
	wg.Wait()
	t.Logf("two concurrent requests took %v with %v per service", time.Since(start), delay)

	for i, text := range []string{"hello, ", "hi, "} {
		r := replies[i]
		want := `{"s2":{"text":"` + text + `opea project1!"},"s3":{"text":"` + text + `opea project2!"}}`
		if r.body != want {
			t.Errorf("request %q: body %s, want %s", text, r.body, want)
		}
		if got := len(r.ran(t)); got != 4 {
			t.Errorf("request %q: %d nodes ran, want 4", text, got)
		}
		if got := calls.maxOf("branch" + text + "opea"); got != 2 {
			t.Errorf("request %q: at most %d of its branches ran at once, want 2", text, got)
		}
	}
	if got := calls.maxOf("s1"); got != 2 {
		t.Errorf("at most %d s1 calls ran at once, want 2: the requests did not overlap", got)
	}
}

// TestDownstreamBlackList re-creates test_runtime_graph.py: s1 → s2 and
// s1 → s3, where s1's output lists regular expressions of successors to
// skip. OPEA counts the entries of result_dict: 3, 1 and 2.
func TestDownstreamBlackList(t *testing.T) {
	s1 := startService(t, func(ctx *fasthttp.RequestCtx) {
		var in textDoc
		json.Unmarshal(ctx.PostBody(), &in)
		out := textDoc{Text: in.Text + "OPEA Project!"}
		switch {
		case strings.Contains(in.Text, "Hi"):
			out.DownstreamBlackList = []string{}
		case strings.Contains(in.Text, "Bye"):
			out.DownstreamBlackList = []string{".*"}
		default:
			out.DownstreamBlackList = []string{"s2"}
		}
		body, _ := json.Marshal(out)
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
	base := serve(t, services(map[string]string{
		"s1": s1,
		"s2": addText(t, "add s2!", 0),
		"s3": addText(t, "add s3!", 0),
	})+`
[flows.f]
output = "s3"

  [[flows.f.nodes]]
  service = "s1"

  [[flows.f.nodes]]
  service = "s2"
  after = ["s1"]

  [[flows.f.nodes]]
  service = "s3"
  after = ["s1"]

[[routes]]
path = "/v1/add"
flow = "f"
`)
	cases := []struct {
		text, ran, body string
	}{
		{"Hi!", "s1,s2,s3", `{"text":"Hi!OPEA Project!add s3!"}`},
		// Every successor skipped: the response is s1's, the last node that
		// ran on the way to the output, as OPEA returns its last leaf.
		{"Bye!", "s1", `{"text":"Bye!OPEA Project!","downstream_black_list":[".*"]}`},
		{"Other!", "s1,s3", `{"text":"Other!OPEA Project!add s3!"}`},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			r := post(t, base+"/v1/add", `{"text":"`+c.text+`"}`)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := strings.Join(r.ran(t), ","); got != c.ran {
				t.Errorf("ran %s, want %s", got, c.ran)
			}
			if r.body != c.body {
				t.Errorf("body %s, want %s", r.body, c.body)
			}
		})
	}
}

// TestRetrieverRerankParameters re-creates
// test_service_orchestrator_with_retriever_rerank_fake.py: a retriever
// that reports the k it received and a reranker whose output keeps top_n
// characters. OPEA passes k and top_n through align_inputs and
// align_outputs hooks. megaflow's OpenAI route adds them to the input of
// the nodes of those types, so the services read them there.
func TestRetrieverRerankParameters(t *testing.T) {
	retriever := startService(t, func(ctx *fasthttp.RequestCtx) {
		var in struct {
			Text string `json:"text"`
			K    int    `json:"k"`
		}
		json.Unmarshal(ctx.PostBody(), &in)
		body, _ := json.Marshal(textDoc{Text: fmt.Sprintf("%sopea top_k %d", in.Text, in.K)})
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
	rerank := startService(t, func(ctx *fasthttp.RequestCtx) {
		var in struct {
			Text string `json:"text"`
			TopN int    `json:"top_n"`
		}
		json.Unmarshal(ctx.PostBody(), &in)
		text := in.Text + "project!"
		body, _ := json.Marshal(textDoc{Text: text[:min(in.TopN, len(text))]})
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	})
	base := serve(t, fmt.Sprintf(`
[services.s1]
type = "retriever"
url = "%s/v1/add"

[services.s2]
type = "rerank"
url = "%s/v1/add"

[flows.f]
chain = "s1 >> s2"

[[routes]]
path = "/v1/chat/completions"
flow = "f"
api = "openai"
`, retriever, rerank))

	r := post(t, base+"/v1/chat/completions", `{"messages":"hello, ","k":8,"top_n":20}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(r.body), &c); err != nil || len(c.Choices) != 1 {
		t.Fatalf("body %s: %v", r.body, err)
	}
	text := c.Choices[0].Message.Content
	if len(text) != 20 {
		t.Errorf("text %q has %d characters; the reranker did not get top_n = 20", text, len(text))
	}
	if !strings.Contains(text, "8") {
		t.Errorf("text %q lacks 8; the retriever did not get k = 8", text)
	}
}

// TestLLMParametersByType checks OPEA's rule that llm and lvm nodes, and
// only they, receive the LLM parameters.
func TestLLMParametersByType(t *testing.T) {
	bodies := map[string]chan string{"guard": make(chan string, 1), "lvm": make(chan string, 1)}
	record := func(name string) string {
		return startService(t, func(ctx *fasthttp.RequestCtx) {
			bodies[name] <- string(ctx.PostBody())
			ctx.SetContentType("application/json")
			ctx.SetBody(ctx.PostBody())
		})
	}
	base := serve(t, fmt.Sprintf(`
[services.guard]
type = "guardrail"
url = "%s/v1/guardrails"

[services.lvm]
type = "lvm"
url = "%s/v1/lvm"

[flows.f]
chain = "guard >> lvm"

[[routes]]
path = "/v1/chat/completions"
flow = "f"
api = "openai"
`, record("guard"), record("lvm")))

	r := post(t, base+"/v1/chat/completions", `{"messages":"describe it","temperature":0.3}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var guard, lvm map[string]any
	json.Unmarshal([]byte(<-bodies["guard"]), &guard)
	json.Unmarshal([]byte(<-bodies["lvm"]), &lvm)
	if _, ok := guard["max_tokens"]; ok {
		t.Errorf("the guardrail received LLM parameters: %v", guard)
	}
	want := map[string]any{"text": "describe it", "temperature": 0.3, "max_tokens": 1024.0, "top_k": 10.0, "stream": false}
	for k, v := range want {
		if lvm[k] != v {
			t.Errorf("lvm received %s = %v, want %v", k, lvm[k], v)
		}
	}
}

// TestFanInMerge shows the one default megaflow changes: OPEA merges the
// outputs of several predecessors into one dict, so equal keys collide
// and the later predecessor's value wins. megaflow keys them by
// predecessor name unless aggregate_mode = "merge" restores OPEA's merge.
func TestFanInMerge(t *testing.T) {
	urls := map[string]string{
		"s1": addText(t, "opea ", 0),
		"s2": addText(t, "project1!", 0),
		"s3": addText(t, "project2!", 0),
	}
	cases := []struct {
		mode, want string
	}{
		{"keyed", `{"s2":{"text":"hello, opea project1!"},"s3":{"text":"hello, opea project2!"}}`},
		{"merge", `{"text":"hello, opea project2!"}`},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			base := serve(t, services(urls)+`
[services.join]
builtin = "echo"

[flows.f]
chain = "s1 >> (s2, s3) >> join"
aggregate_mode = "`+c.mode+`"

[[routes]]
path = "/v1/add"
flow = "f"
`)
			r := post(t, base+"/v1/add", `{"text":"hello, "}`)
			if r.body != c.want {
				t.Errorf("body %s, want %s", r.body, c.want)
			}
		})
	}
}

// TestRemoteService re-creates test_hybrid_service_orchestrator.py: a
// remote service given by host, port and endpoint, flowing from a service
// that runs in process, built with the Go Orchestrator as OPEA builds it
// in Python.
func TestRemoteService(t *testing.T) {
	fake := &runtime.MicroService{Name: "s2", Host: "fakehost", Port: 8008, Endpoint: "/v1/add", Remote: true}
	if url, err := fake.EndpointURL(); err != nil || url != "http://fakehost:8008/v1/add" {
		t.Errorf("EndpointURL = %q, %v; want http://fakehost:8008/v1/add", url, err)
	}
	if _, err := (&runtime.MicroService{Name: "s3", Remote: true}).EndpointURL(); err == nil {
		t.Error("a remote service without url or host got an address")
	}

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(addText(t, "project!", 0), "http://"))
	s1 := &runtime.MicroService{Name: "s1", Handler: runtime.InlineFunc(func(_ context.Context, call *runtime.Call) error {
		var in textDoc
		if err := json.Unmarshal(call.Input, &in); err != nil {
			return err
		}
		out, _ := json.Marshal(textDoc{Text: in.Text + "opea "})
		call.SetOutput(out)
		return nil
	})}
	var p int
	fmt.Sscan(port, &p)
	s2 := &runtime.MicroService{Name: "s2", Host: "127.0.0.1", Port: p, Endpoint: "v1/add", Remote: true}

	o := runtime.NewOrchestrator()
	t.Cleanup(func() { o.Close() })
	for _, svc := range []*runtime.MicroService{s1, s2} {
		if err := o.Add(svc); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.FlowTo(s1, s2); err != nil {
		t.Fatal(err)
	}
	results, _, err := o.Schedule(t.Context(), []byte(`{"text":"hello, "}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := results.Get("s2"); string(got) != `{"text":"hello, opea project!"}` {
		t.Errorf("s2 returned %s", got)
	}
}

// TestServiceErrorIsJSON shows a deliberate difference: where OPEA's
// megaservice fails with a bare 500 when a microservice returns a
// non-JSON error, megaflow responds 502 with a JSON body that names the
// service.
func TestServiceErrorIsJSON(t *testing.T) {
	broken := startService(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Error(`{"detail":"model not loaded"}`, 500)
	})
	base := serve(t, services(map[string]string{"s1": addText(t, "opea ", 0), "s2": broken})+`
[flows.f]
chain = "s1 >> s2"

[[routes]]
path = "/v1/add"
flow = "f"
`)
	r := post(t, base+"/v1/add", `{"text":"hello, "}`)
	if r.status != 502 {
		t.Errorf("status %d, want 502", r.status)
	}
	var e struct {
		Error     string `json:"error"`
		Service   string `json:"service"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("body %s is not JSON: %v", r.body, err)
	}
	if e.Service != "s2" {
		t.Errorf("service %q, want s2", e.Service)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("request_id %q, X-Request-Id %q", e.RequestID, r.header.Get("X-Request-Id"))
	}
	if strings.Contains(r.body, "model not loaded") {
		t.Errorf("the upstream's body leaked to the client: %s", r.body)
	}
}

// TestAPIKeySentAsBearer checks OPEA's api_key: a service with one gets
// "Authorization: Bearer KEY", and one without gets no Authorization
// header at all.
func TestAPIKeySentAsBearer(t *testing.T) {
	headers := map[string]chan string{"s1": make(chan string, 1), "s2": make(chan string, 1)}
	record := func(name string) string {
		return startService(t, func(ctx *fasthttp.RequestCtx) {
			auth := "none"
			if v := ctx.Request.Header.Peek("Authorization"); v != nil {
				auth = string(v)
			}
			headers[name] <- auth
			ctx.SetContentType("application/json")
			ctx.SetBody(ctx.PostBody())
		})
	}
	t.Setenv("S1_API_KEY", "sk-opea-test")
	base := serve(t, fmt.Sprintf(`
[services.s1]
url = "%s/v1/add"
api_key = "${S1_API_KEY}"

[services.s2]
url = "%s/v1/add"

[flows.f]
chain = "s1 >> s2"

[[routes]]
path = "/v1/add"
flow = "f"
`, record("s1"), record("s2")))

	if r := post(t, base+"/v1/add", `{"text":"hello"}`); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := <-headers["s1"]; got != "Bearer sk-opea-test" {
		t.Errorf("s1 got Authorization %q, want Bearer sk-opea-test", got)
	}
	if got := <-headers["s2"]; got != "none" {
		t.Errorf("s2 got Authorization %q, want none", got)
	}
}

// TestBinaryReplyPassesThrough checks what OPEA's execute does for an
// audio/wav response, as from a TTS service: the bytes reach the client
// unchanged, with their content type.
func TestBinaryReplyPassesThrough(t *testing.T) {
	wav := []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\xbb\x00\x00\xff\xfe\x00\x01")
	tts := startService(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("audio/wav")
		ctx.SetBody(wav)
	})
	base := serve(t, fmt.Sprintf(`
[services.llm]
type = "llm"
url = "%s/v1/add"

[services.tts]
type = "tts"
url = "%s/v1/audio/speech"

[flows.f]
chain = "llm >> tts"

[[routes]]
path = "/v1/audioqna"
flow = "f"
`, addText(t, "an answer", 0), tts))

	r := post(t, base+"/v1/audioqna", `{"text":"say "}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("Content-Type %q, want audio/wav", ct)
	}
	if r.body != string(wav) {
		t.Errorf("body %q, want the service's %q", r.body, wav)
	}
}
