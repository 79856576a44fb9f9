package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runBinary runs the megaflow binary built by TestMain and returns its
// combined output and exit code.
func runBinary(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(out), exitErr.ExitCode()
	}
	if err != nil {
		t.Fatalf("run megaflow %v: %v", args, err)
	}
	return string(out), 0
}

// TestBenchScenarioEcho runs the echo scenario end to end: the bench
// command starts the echo mock and "megaflow serve" as child processes,
// loads the flow and writes the JSON report.
func TestBenchScenarioEcho(t *testing.T) {
	report := filepath.Join(t.TempDir(), "echo.json")
	out, code := runBinary(t, "bench", "scenario", "../../bench/scenarios/echo.toml",
		"--duration", "1s", "--warmup", "0s", "--connections", "4", "--quiet", "--json", report)
	if code != 0 {
		t.Fatalf("exit code %d, output:\n%s", code, out)
	}
	if !strings.Contains(out, "started megaflow") || !strings.Contains(out, "p99.9") {
		t.Errorf("output lacks the start line or the table:\n%s", out)
	}

	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Requests   int64   `json:"requests"`
		Succeeded  int64   `json:"succeeded"`
		Throughput float64 `json:"throughput_rps"`
		Errors     struct {
			Total int64 `json:"total"`
		} `json:"errors"`
		Latency struct {
			P50  float64 `json:"p50_ms"`
			P99  float64 `json:"p99_ms"`
			P999 float64 `json:"p99_9_ms"`
		} `json:"latency"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	if res.Requests == 0 || res.Succeeded != res.Requests {
		t.Errorf("requests %d, succeeded %d; want all of at least one to succeed", res.Requests, res.Succeeded)
	}
	if res.Errors.Total != 0 {
		t.Errorf("errors = %d, want 0", res.Errors.Total)
	}
	if res.Throughput <= 0 || res.Latency.P50 <= 0 || res.Latency.P999 < res.Latency.P99 {
		t.Errorf("figures out of range: throughput %g, p50 %g, p99 %g, p99.9 %g",
			res.Throughput, res.Latency.P50, res.Latency.P99, res.Latency.P999)
	}
}

func TestBenchRejectsRemoteTarget(t *testing.T) {
	out, code := runBinary(t, "bench", "--requests", "1", "http://192.0.2.1:80/")
	if code != 2 || !strings.Contains(out, "--allow-remote") {
		t.Errorf("exit code %d, output %q; want 2 and a hint to --allow-remote", code, out)
	}
}

func TestBenchCompareRecords(t *testing.T) {
	results := filepath.Join(t.TempDir(), "RESULTS.md")
	out, code := runBinary(t, "bench", "compare", "--scenario", "../../bench/scenarios/echo.toml",
		"--rounds", "2", "--duration", "0", "--requests", "200", "--warmup", "0s", "--connections", "4", "--record", results)
	if code != 0 {
		t.Fatalf("exit code %d, output:\n%s", code, out)
	}
	data, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	entry := string(data)
	for _, want := range []string{"scenario echo", "| direct |", "| megaflow |", "megaflow throughput / direct throughput", "logical CPUs"} {
		if !strings.Contains(entry, want) {
			t.Errorf("results entry lacks %q:\n%s", want, entry)
		}
	}
}

var mockAddrRE = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// startMockEcho runs "megaflow mock echo" on a free port and returns its
// address, read from its start line.
func startMockEcho(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(binary, "mock", "echo", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil {
		t.Fatalf("read the mock's start line: %v", err)
	}
	m := mockAddrRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("mock start line %q has no addr", line)
	}
	return m[1]
}

// TestBenchAgainstMockEcho loads "megaflow mock echo" with "megaflow
// bench" and checks the progress lines, the table and both report files.
func TestBenchAgainstMockEcho(t *testing.T) {
	addr := startMockEcho(t)
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.html")
	out, code := runBinary(t, "bench", "--duration", "1s", "--connections", "4", "--body-size", "64",
		"--progress-interval", "200ms", "--json", jsonPath, "--html", htmlPath, "http://"+addr+"/v1/echo")
	if code != 0 {
		t.Fatalf("exit code %d, output:\n%s", code, out)
	}
	if strings.Count(out, "req/s  p99") < 2 {
		t.Errorf("want at least 2 progress lines in:\n%s", out)
	}
	if !strings.Contains(out, "throughput") || !strings.Contains(out, "p99.9") {
		t.Errorf("output lacks the final table:\n%s", out)
	}

	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"throughput_rps", "latency", "errors", "timeline"} {
		if _, ok := res[key]; !ok {
			t.Errorf("JSON report lacks %q", key)
		}
	}
	html, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n < 2 {
		t.Errorf("HTML report has %d charts, want at least 2", n)
	}
}
