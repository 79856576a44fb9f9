package compare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/mock"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestRunAlternatesAndRatios(t *testing.T) {
	fast, err := mock.Start("echo", mock.Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	slow, err := mock.Start("delay", mock.Options{Latency: 5 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()

	var log bytes.Buffer
	cmp, err := Run(context.Background(), []Target{
		{Name: "fast", URL: "http://" + fast.Addr() + "/"},
		{Name: "slow", URL: "http://" + slow.Addr() + "/"},
	}, Options{Rounds: 3, Log: &log, Load: load.Config{Connections: 2, Requests: 40, Body: load.StaticBody("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Rounds != 3 || len(cmp.Targets) != 2 {
		t.Fatalf("Rounds, targets = %d, %d; want 3, 2", cmp.Rounds, len(cmp.Targets))
	}
	for _, tr := range cmp.Targets {
		if len(tr.Runs) != 3 {
			t.Errorf("%s: %d runs, want 3", tr.Name, len(tr.Runs))
		}
	}
	wantOrder := []string{"fast", "slow", "fast", "slow", "fast", "slow"}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != len(wantOrder) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(wantOrder), log.String())
	}
	for i, name := range wantOrder {
		if !strings.Contains(lines[i], name) {
			t.Errorf("run %d: log line %q, want target %s (alternating order)", i+1, lines[i], name)
		}
	}
	for _, tr := range cmp.Targets {
		if len(tr.CPUPerRequest) != 3 {
			t.Errorf("%s: %d CPU samples, want one per run", tr.Name, len(tr.CPUPerRequest))
		}
		if runtime.GOOS == "linux" && tr.MedianCPUPerRequest[SelfName] <= 0 {
			t.Errorf("%s: median CPU of the load generator = %g µs per request, want > 0", tr.Name, tr.MedianCPUPerRequest[SelfName])
		}
	}
	if r := cmp.Targets[0].Ratio.Throughput; r != 1 {
		t.Errorf("first target's ratio = %g, want 1", r)
	}
	// 5 ms per request against well under 1 ms: the ratio is far below 1
	// on any machine.
	if r := cmp.Targets[1].Ratio.Throughput; r <= 0 || r >= 0.8 {
		t.Errorf("slow/fast throughput ratio = %g, want between 0 and 0.8", r)
	}
	if r, ok := cmp.ThroughputRatio("slow", "fast"); !ok || r != cmp.Targets[1].Ratio.Throughput {
		t.Errorf("ThroughputRatio(slow, fast) = %g, %v; want %g", r, ok, cmp.Targets[1].Ratio.Throughput)
	}

	var table bytes.Buffer
	if err := cmp.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "vs fast") || !strings.Contains(table.String(), "slow") {
		t.Errorf("table lacks the ratio header or a target:\n%s", table.String())
	}

	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := os.WriteFile(path, []byte("# Results\n\nearlier entry\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := load.Config{URL: "http://127.0.0.1:1/", Connections: 2, Requests: 40, Body: load.StaticBody("x")}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rec := Record{Title: "test", Time: time.Now(), Machine: ThisMachine(), Command: "megaflow bench compare", Load: cfg, Comparison: cmp}
	if err := rec.AppendTo(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.HasPrefix(text, "# Results\n\nearlier entry\n") {
		t.Errorf("the earlier content changed:\n%s", text)
	}
	for _, want := range []string{"Machine: ", "`megaflow bench compare`", "| fast |", "| slow |", "closed loop, 2 connections"} {
		if !strings.Contains(text, want) {
			t.Errorf("entry lacks %q:\n%s", want, text)
		}
	}
}

func TestMarkdownStreamingColumns(t *testing.T) {
	llm, err := mock.Start("llm", mock.Options{Tokens: 3, TokensPerSecond: 500}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer llm.Close()
	cmp, err := Run(context.Background(), []Target{{Name: "llm", URL: "http://" + llm.Addr() + "/v1/chat/completions"}}, Options{
		Rounds: 1,
		Load: load.Config{
			Connections: 2,
			Requests:    4,
			SSE:         true,
			Body:        load.StaticBody(`{"messages":[{"role":"user","content":"hi"}],"stream":true}`),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := cmp.Targets[0].Median; m.TTFTP50Ms <= 0 || m.TokensPerSecond <= 0 {
		t.Errorf("median streaming figures = %+v, want TTFT and tokens/s above 0", m)
	}
	var md bytes.Buffer
	if err := cmp.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	header := strings.SplitN(md.String(), "\n", 2)[0]
	for _, want := range []string{"TTFT p50", "ITL p99", "tokens/s"} {
		if !strings.Contains(header, want) {
			t.Errorf("Markdown header %q lacks %q", header, want)
		}
	}
}
