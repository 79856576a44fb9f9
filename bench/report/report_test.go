package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/megaflow/megaflow/bench/load"
	"github.com/megaflow/megaflow/bench/mock"
)

func sampleResult(t *testing.T) *load.Result {
	t.Helper()
	s, err := mock.Start("echo", mock.Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := load.Run(context.Background(), load.Config{URL: "http://" + s.Addr() + "/", Requests: 200, Connections: 2, Body: load.StaticBody("x")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestHTMLIsSelfContained(t *testing.T) {
	res := sampleResult(t)
	var page bytes.Buffer
	if err := WriteHTML(&page, "test <report>", []Run{{Name: "run", Result: res}}); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if n := strings.Count(html, "<svg"); n < 2 {
		t.Errorf("got %d SVG charts, want at least 2", n)
	}
	for _, want := range []string{"Latency by percentile", "Throughput over time", "test &lt;report&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, external := range []string{"<script", "<link", "src=", "url("} {
		if strings.Contains(html, external) {
			t.Errorf("page contains %q; it must have no scripts or external assets", external)
		}
	}
}

func TestTableHasFigures(t *testing.T) {
	res := sampleResult(t)
	var out bytes.Buffer
	if err := WriteTable(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput", "p50", "p99.9", "errors", "closed loop, 2 connections"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{{0, 1}, {0.7, 0.8}, {1, 1}, {3.2, 4}, {20.1, 25}, {101, 150}}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%g) = %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestHTMLShowsCPUTable(t *testing.T) {
	res := sampleResult(t)
	var page bytes.Buffer
	runs := []Run{{Name: "via-megaflow", Result: res, CPU: map[string]float64{"bench": 10.5, "megaflow": 25.25}}}
	if err := WriteHTML(&page, "cpu", runs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CPU µs per request", "<th>megaflow</th>", "<td>25.2</td>", "<td>35.8</td>"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
