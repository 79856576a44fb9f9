package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/valyala/fasthttp"
)

// llmStream is a mock OpenAI-style streaming LLM: a role-only delta, then
// count content tokens gap apart, then [DONE]. firstSent receives when the
// first content token was flushed; gone receives when a write failed
// because the client of the stream went away.
type llmStream struct {
	count     int
	gap       time.Duration
	firstSent chan time.Time
	gone      chan time.Time
}

func (l *llmStream) handle(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/event-stream")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n")
		w.Flush()
		for i := 0; i < l.count; i++ {
			time.Sleep(l.gap)
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"tok%d \"}}]}\n\n", i)
			if err := w.Flush(); err != nil {
				l.gone <- time.Now()
				return
			}
			if i == 0 {
				l.firstSent <- time.Now()
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
		w.Flush()
	})
}

func streamSnapshot(t *testing.T, url string) *Snapshot {
	t.Helper()
	svc, up := remote(t, "llm", url, func(s *MicroService) { s.Stream = true; s.Type = TypeLLM; s.Timeout = 30 * time.Second })
	p, err := CompilePlan(FlowSpec{Name: "chat", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/v1/chat", Plan: p}}, []*MicroService{svc})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// metricFamilies parses the process's metrics with the Prometheus text
// parser, which proves the exposition valid.
func metricFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, true)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return fams
}

func histogramCount(t *testing.T, name string) uint64 {
	t.Helper()
	f := metricFamilies(t)[name]
	if f == nil {
		return 0
	}
	return f.Metric[0].GetHistogram().GetSampleCount()
}

func gaugeValue(t *testing.T, name string) float64 {
	t.Helper()
	f := metricFamilies(t)[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	return f.Metric[0].GetGauge().GetValue()
}

// readEvents reads SSE events from body, sending each with its arrival
// time.
func readEvents(body io.Reader, events chan<- [2]any) {
	br := bufio.NewReader(body)
	var ev strings.Builder
	for {
		line, err := br.ReadString('\n')
		ev.WriteString(line)
		if line == "\n" {
			events <- [2]any{ev.String(), time.Now()}
			ev.Reset()
		}
		if err != nil {
			close(events)
			return
		}
	}
}

func TestStreamForwardsTokensAsTheyArrive(t *testing.T) {
	llm := &llmStream{count: 50, gap: 20 * time.Millisecond, firstSent: make(chan time.Time, 1), gone: make(chan time.Time, 1)}
	base := startMegaflow(t, streamSnapshot(t, startServer(t, llm.handle)))
	firstBefore := histogramCount(t, "megaservice_first_token_latency")
	interBefore := histogramCount(t, "megaservice_inter_token_latency")

	resp, err := httpClient.Post(base+"/v1/chat", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := make(chan [2]any, 128)
	go readEvents(resp.Body, events)

	var tokens []string
	var firstArrived time.Time
	sawDone := false
	for ev := range events {
		text := ev[0].(string)
		if strings.Contains(text, "[DONE]") {
			sawDone = true
			continue
		}
		if i := strings.Index(text, `"content":"`); i >= 0 {
			if len(tokens) == 0 {
				firstArrived = ev[1].(time.Time)
			}
			rest := text[i+len(`"content":"`):]
			tokens = append(tokens, rest[:strings.IndexByte(rest, '"')])
		}
	}
	sent := <-llm.firstSent
	t.Logf("first token: upstream sent it, client got it %v later", firstArrived.Sub(sent))
	if lag := firstArrived.Sub(sent); lag > 100*time.Millisecond {
		t.Errorf("first token reached the client %v after the upstream sent it; the stream was buffered", lag)
	}
	if len(tokens) != 50 {
		t.Fatalf("got %d tokens, want 50", len(tokens))
	}
	for i, tok := range tokens {
		if tok != fmt.Sprintf("tok%d ", i) {
			t.Fatalf("token %d = %q: out of order", i, tok)
		}
	}
	if !sawDone {
		t.Error("no [DONE] at the end of a complete stream")
	}
	// The writer records metrics after the last event; give it a moment.
	waitFor(t, func() bool { return histogramCount(t, "megaservice_first_token_latency") == firstBefore+1 })
	if got := histogramCount(t, "megaservice_inter_token_latency") - interBefore; got != 49 {
		t.Errorf("inter-token observations = %d, want 49", got)
	}
}

// rawStreamUpstream is an upstream on a raw TCP listener that streams a
// chunked event every gap until its connection is closed, and reports on
// closed the moment a read on that connection finds it closed: that is when
// megaflow closed its end, without waiting for the upstream's next write.
func rawStreamUpstream(t *testing.T, gap time.Duration, firstSent, closed chan time.Time) string {
	return startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.CopyN(io.Discard, br, 2)
		go func() {
			_, err := br.ReadByte()
			if err != nil {
				closed <- time.Now()
			}
		}()
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := 0; i < 500; i++ {
			ev := fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev); err != nil {
				return
			}
			if i == 0 {
				firstSent <- time.Now()
			}
			time.Sleep(gap)
		}
	})
}

func TestStreamClientDisconnectClosesUpstream(t *testing.T) {
	firstSent, upstreamClosed := make(chan time.Time, 1), make(chan time.Time, 1)
	base := startMegaflow(t, streamSnapshot(t, rawStreamUpstream(t, 20*time.Millisecond, firstSent, upstreamClosed)))
	pendingBefore := gaugeValue(t, "megaservice_request_pending")

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	<-firstSent
	time.Sleep(100 * time.Millisecond) // a few tokens in
	left := time.Now()
	conn.Close()

	select {
	case at := <-upstreamClosed:
		t.Logf("upstream connection closed %v after the client left", at.Sub(left))
		if d := at.Sub(left); d > 100*time.Millisecond {
			t.Errorf("upstream connection closed %v after the client left; want under 100ms", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream connection still open 5s after the client left")
	}
	waitFor(t, func() bool { return gaugeValue(t, "megaservice_request_pending") == pendingBefore })
}

func TestStreamUpstreamDeathSendsErrorEvent(t *testing.T) {
	// A raw upstream that streams three chunked events and then drops the
	// connection without the final chunk.
	dying := startRawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.CopyN(io.Discard, br, 2)
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := 0; i < 3; i++ {
			ev := fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
			time.Sleep(10 * time.Millisecond)
		}
		c.(*net.TCPConn).SetLinger(0)
	})
	base := startMegaflow(t, streamSnapshot(t, dying))
	pendingBefore := gaugeValue(t, "megaservice_request_pending")

	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat", strings.NewReader(`{}`))
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if strings.Count(text, `"content"`) != 3 {
		t.Errorf("events before the break were lost: %q", text)
	}
	if !strings.Contains(text, "event: error\ndata: {") || !strings.Contains(text, `"service":"llm"`) {
		t.Errorf("no error event naming the service: %q", text)
	}
	if strings.Contains(text, "[DONE]") {
		t.Error("a truncated stream ended with [DONE]")
	}
	waitFor(t, func() bool { return gaugeValue(t, "megaservice_request_pending") == pendingBefore })
}

func TestClassifyEvent(t *testing.T) {
	cases := []struct {
		event string
		want  eventKind
	}{
		{"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n", eventToken},
		{"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n", eventOther},
		{"data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n", eventOther},
		{"data: [DONE]\n\n", eventDone},
		{"data: b' world'\n\n", eventToken},
		{"data: b''\n\n", eventOther},
		{"data: {\"token\":{\"text\":\"x\",\"special\":false}}\n\n", eventToken},
		{"data: {\"token\":{\"text\":\"</s>\",\"special\":true}}\n\n", eventOther},
		{": keep-alive\n\n", eventOther},
		{"event: ping\ndata: plain text\n\n", eventToken},
	}
	for _, tc := range cases {
		if got := classifyEvent([]byte(tc.event)); got != tc.want {
			t.Errorf("%q: kind %d, want %d", tc.event, got, tc.want)
		}
	}
}

func TestMetricsExpositionHasEveryFamily(t *testing.T) {
	echo := startServer(t, EchoHandler)
	snap := echoSnapshot(t, echo, ServerSettings{})
	base := startMegaflow(t, snap)
	post(t, base+"/process", "text/plain", []byte("x"))
	post(t, base+"/missing", "text/plain", nil)

	admin := NewAdmin(NewServer(snap, nil))
	adminURL := startServer(t, admin.Handle)
	resp, err := httpClient.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fams, err := func() (map[string]*dto.MetricFamily, error) {
		p := expfmt.NewTextParser(model.UTF8Validation)
		return p.TextToMetricFamilies(bytes.NewReader(body))
	}()
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, name := range []string{
		"megaservice_first_token_latency", "megaservice_inter_token_latency",
		"megaservice_request_latency", "megaservice_request_pending",
		"megaflow_requests_total", "megaflow_request_duration_seconds", "megaflow_requests_in_flight",
		"megaflow_stream_tokens_total", "go_goroutines", "process_resident_memory_bytes",
		"megaflow_service_calls_total", "megaflow_service_duration_seconds", "megaflow_service_retries_total",
		"megaflow_breaker_state", "megaflow_breaker_transitions_total", "megaflow_upstream_healthy",
		"megaflow_upstream_outstanding", "megaflow_upstream_connections_open", "megaflow_upstream_connections_idle",
		"megaflow_replica_calls_total",
	} {
		if fams[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
	if f := fams["megaservice_request_latency"]; f != nil && f.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("megaservice_request_latency has type %v, want a Prometheus histogram", f.GetType())
	}

	// Each of megaflow's families has help text and is in docs/metrics.md,
	// and so is each family with help text of its own.
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "megaflow_") && !strings.HasPrefix(name, "megaservice_") {
			continue
		}
		if f.GetHelp() == "" {
			t.Errorf("family %s has no help text; add it to metricHelp", name)
		}
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("family %s is not described in docs/metrics.md", name)
		}
	}
	for name := range metricHelp {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("family %s of metricHelp is not described in docs/metrics.md", name)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	echo := startServer(t, EchoHandler)
	snap := echoSnapshot(t, echo, ServerSettings{})
	srv := NewServer(snap, nil)
	srv.Version = "1.2.3"
	base := startServer(t, srv.Handle)
	resp, err := httpClient.Get(base + "/v1/health_check")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"Service Title":"megaflow"`) || !strings.Contains(string(body), `"Version":"1.2.3"`) {
		t.Errorf("health_check: %d %s", resp.StatusCode, body)
	}

	adminURL := startServer(t, NewAdmin(srv).Handle)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404} {
		resp, err := httpClient.Get(adminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// waitFor polls cond for up to 10 s. The bound is generous so that a slow
// machine does not fail a condition that does hold.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamReplicaFallback(t *testing.T) {
	// The first replica refuses connections; the second streams.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	llm := &llmStream{count: 3, gap: time.Millisecond, firstSent: make(chan time.Time, 16), gone: make(chan time.Time, 16)}
	live := startServer(t, llm.handle)

	svc := &MicroService{Name: "llm", URL: dead, Remote: true, Stream: true, Timeout: 5 * time.Second}
	up, err := NewUpstream(svc, UpstreamOptions{Replicas: []string{live}, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	p, err := CompilePlan(FlowSpec{Name: "chat", Nodes: []NodeSpec{{Service: svc, Exec: up}}})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := NewSnapshot(ServerSettings{}, []Route{{Path: "/v1/chat", Plan: p}}, nil)
	base := startMegaflow(t, snap)
	for i := 0; i < 4; i++ {
		resp, body := post(t, base+"/v1/chat", "application/json", []byte(`{"stream":true}`))
		if resp.StatusCode != 200 || strings.Count(string(body), `"content"`) != 3 || !strings.Contains(string(body), "[DONE]") {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}
