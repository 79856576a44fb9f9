package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadConfig is a valid configuration; variant changes the flow's
// request_timeout and adds a route, so consecutive reloads differ.
func reloadConfig(variant int) string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
request_timeout = "%ds"

# A fasthttp client's connection cleaner sleeps up to the pool's idle
# timeout before it notices its pool was closed; 1s lets the goroutines of
# retired upstreams end within the test.
[services.echo_service]
builtin = "echo"
idle_timeout = "1s"

[flows.echo]
  [[flows.echo.nodes]]
  service = "echo_service"

[[routes]]
path = "/process"
methods = ["POST"]
flow = "echo"

[[routes]]
path = "/v%d"
methods = ["POST"]
flow = "echo"
`, 10+variant, variant)
}

// metricValue reads one unlabelled metric from the admin /metrics.
func metricValue(t *testing.T, adminURL, name string) float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func adminCall(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReloadUnderLoadLosesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "megaflow.toml")
	os.WriteFile(cfg, []byte(reloadConfig(0)), 0o644)
	const token = "test-admin-token"
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)

	serve := exec.Command(binary, "serve", "--config", cfg, "--admin-listen", "127.0.0.1:0", "--admin-token-file", filepath.Join(dir, "token"))
	var logs bytes.Buffer
	serveOut, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(serveOut)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if strings.Contains(line, "megaflow serving") {
				first <- line
			}
		}
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	var started struct{ Listen, Admin string }
	json.Unmarshal([]byte(line), &started)
	base, adminURL := "http://"+started.Listen, "http://"+started.Admin

	if code, body := adminCall(t, adminURL+"/admin/reload", "wrong"); code != 401 {
		t.Errorf("wrong token: %d %s", code, body)
	}

	reload := func(i int) {
		t.Helper()
		os.WriteFile(cfg, []byte(reloadConfig(i%2)), 0o644)
		if code, body := adminCall(t, adminURL+"/admin/reload", token); code != 200 {
			t.Fatalf("reload %d: %d %s", i, code, body)
		}
	}
	runBench := func(duration string, out *bytes.Buffer) *exec.Cmd {
		cmd := exec.Command(binary, "bench", "--duration", duration, "--connections", "8", "--body-size", "512",
			"--quiet", "--json", filepath.Join(dir, "bench.json"), base+"/process")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// underLoad runs the bench harness for 7 s while reloading 20 times,
	// alternating two valid files (and, when broken is set, once with a
	// broken file in the middle), then waits until the server is idle
	// again (megaflow's and fasthttp's idle workers exit after 10 s) and
	// has collected its garbage.
	var benchOut bytes.Buffer
	underLoad := func(first int, broken bool) {
		t.Helper()
		benchOut.Reset()
		bench := runBench("7s", &benchOut)
		time.Sleep(500 * time.Millisecond)
		for i := first; i < first+20; i++ {
			reload(i)
			time.Sleep(250 * time.Millisecond)
			if broken && i == first+10 {
				os.WriteFile(cfg, []byte("[server]\nlisten = 8000\n[flows.x]\n"), 0o644)
				code, body := adminCall(t, adminURL+"/admin/reload", token)
				if code != 400 || !strings.Contains(body, "keeps serving") {
					t.Errorf("broken reload: %d %s", code, body)
				}
			}
		}
		if err := bench.Wait(); err != nil {
			t.Fatalf("bench: %v\n%s", err, benchOut.String())
		}
		time.Sleep(11 * time.Second)
		collectGarbage(t, adminURL)
	}

	// The baseline comes after one such round, so that both readings are
	// taken with the runtime's pools and heap at their working size, and a
	// difference can only come from what the second round of reloads kept.
	underLoad(1, false)
	goroutinesBefore := metricValue(t, adminURL, "go_goroutines")
	rssBefore := metricValue(t, adminURL, "process_resident_memory_bytes")

	underLoad(21, true)
	goroutinesAfter := metricValue(t, adminURL, "go_goroutines")
	rssAfter := metricValue(t, adminURL, "process_resident_memory_bytes")

	var result struct {
		Requests  int
		Succeeded int
		Errors    struct{ Total int }
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err := json.Unmarshal(raw, &result); err != nil {
		t.Fatalf("bench json: %v", err)
	}
	t.Logf("load: %d requests, %d succeeded, %d errors; idle goroutines %v → %v, RSS %.1f → %.1f MiB",
		result.Requests, result.Succeeded, result.Errors.Total, goroutinesBefore, goroutinesAfter, rssBefore/(1<<20), rssAfter/(1<<20))
	if result.Errors.Total != 0 || result.Succeeded != result.Requests || result.Requests == 0 {
		t.Errorf("requests failed during reloads: %s", raw)
	}
	if goroutinesAfter > goroutinesBefore*1.1 {
		t.Errorf("idle goroutines grew from %v to %v over 20 reloads", goroutinesBefore, goroutinesAfter)
		if resp, err := http.Get(adminURL + "/debug/pprof/goroutine?debug=1"); err == nil {
			dump, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("goroutines:\n%s", dump)
		}
	}
	if rssAfter > rssBefore*1.1 {
		t.Errorf("RSS grew from %.0f to %.0f bytes over 20 reloads", rssBefore, rssAfter)
	}

	// A request in flight at SIGTERM still gets its response.
	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/process", "text/plain", strings.NewReader(strings.Repeat("x", 1<<20)))
		if err != nil {
			inflight <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	serve.Process.Signal(syscall.SIGTERM)
	if code := <-inflight; code != 200 && code != -1 {
		t.Errorf("request during shutdown got %d", code)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit within 10s of SIGTERM")
	}
}

// collectGarbage makes the server run a garbage collection (the heap
// profile endpoint does so with gc=1) and gives the runtime a moment to
// return freed pages, so that RSS readings compare live memory rather
// than garbage a collection had not reached yet.
func collectGarbage(t *testing.T, adminURL string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		resp, err := http.Get(adminURL + "/debug/pprof/heap?gc=1")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	time.Sleep(2 * time.Second)
}

// routeStatus returns the status of POST path on base.
func routeStatus(t *testing.T, base, path string) int {
	t.Helper()
	resp, err := http.Post(base+path, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls POST path until it returns want, for up to 10 s.
func waitStatus(t *testing.T, base, path string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for routeStatus(t, base, path) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never returned %d", path, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReloadOnSIGHUPAndFileChange(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "megaflow.toml")
	os.WriteFile(cfg, []byte(reloadConfig(0)), 0o644) // routes /process and /v0
	serve, addr := startProcess(t, "serve", "--config", cfg, "--admin-listen", "off", "--watch", "200ms")
	base := "http://" + addr
	if got := routeStatus(t, base, "/v0"); got != 200 {
		t.Fatalf("/v0 before any reload: %d", got)
	}

	// --watch notices the new file.
	os.WriteFile(cfg, []byte(reloadConfig(1)), 0o644) // routes /process and /v1
	waitStatus(t, base, "/v1", 200)
	if got := routeStatus(t, base, "/v0"); got != 404 {
		t.Errorf("/v0 after the watched reload: %d, want 404", got)
	}

	// SIGHUP reloads too; a broken file keeps the running configuration.
	os.WriteFile(cfg, []byte("[server]\nlisten = 8000\n"), 0o644)
	serve.Process.Signal(syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond)
	if got := routeStatus(t, base, "/v1"); got != 200 {
		t.Errorf("/v1 after a broken reload: %d, want 200", got)
	}
	os.WriteFile(cfg, []byte(reloadConfig(0)), 0o644)
	serve.Process.Signal(syscall.SIGHUP)
	waitStatus(t, base, "/v0", 200)
}
