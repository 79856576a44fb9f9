package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the megaflow binary under test, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "megaflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "megaflow")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building megaflow: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var listenRE = regexp.MustCompile(`"listen":"([^"]+)"`)

// startProcess runs the binary with args and returns the process and the
// address from its first log line with a "listen" attribute.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("megaflow %v exited before listening", args)
			}
			if m := listenRE.FindStringSubmatch(line); m != nil {
				go func() {
					for range lines {
					}
				}()
				return cmd, strings.Replace(m[1], "[::]", "127.0.0.1", 1)
			}
		case <-timeout:
			t.Fatalf("megaflow %v did not log its listen address", args)
		}
	}
}

func postBody(t *testing.T, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func checkEcho(t *testing.T, url string) {
	t.Helper()
	for _, size := range []int{0, 1 << 10, 8 << 20} {
		body := make([]byte, size)
		rand.Read(body)
		resp, out := postBody(t, url, "application/octet-stream", body)
		if resp.StatusCode != 200 || !bytes.Equal(out, body) {
			t.Fatalf("%d bytes: status %d, %d bytes back", size, resp.StatusCode, len(out))
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("%d bytes: Content-Type %q", size, ct)
		}
	}
}

func TestServeDefaultConfigEchoes(t *testing.T) {
	_, addr := startProcess(t, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	checkEcho(t, "http://"+addr+"/process")
}

func TestServeRemoteEchoAndItsDeath(t *testing.T) {
	echoCmd, echoAddr := startProcess(t, "echo", "--listen", "127.0.0.1:0")
	cfg := filepath.Join(t.TempDir(), "remote.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"

[admin]
listen = "off"

[services.echo_service]
url = "http://%s/echo"
timeout = "30s"

[services.local_echo]
builtin = "echo"

[flows.remote]
  [[flows.remote.nodes]]
  service = "echo_service"

[flows.local]
  [[flows.local.nodes]]
  service = "local_echo"

[[routes]]
path = "/process"
methods = ["POST"]
flow = "remote"

[[routes]]
path = "/local"
methods = ["POST"]
flow = "local"
`, echoAddr)), 0o644)
	_, addr := startProcess(t, "serve", "--config", cfg, "--admin-listen", "off")
	base := "http://" + addr
	checkEcho(t, base+"/process")

	echoCmd.Process.Signal(syscall.SIGTERM)
	if err := echoCmd.Wait(); err != nil {
		t.Errorf("megaflow echo exited with %v after SIGTERM, want status 0", err)
	}

	start := time.Now()
	resp, out := postBody(t, base+"/process", "text/plain", []byte("after the echo died"))
	// Well below the service's 30 s timeout: the refused connection fails
	// the call, not the deadline.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("error answer took %v, want under 10s", took)
	}
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502: %s", resp.StatusCode, out)
	}
	var e struct {
		Error, Service, RequestID string
	}
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", out)
	}
	if e.Service != "echo_service" || e.Error == "" {
		t.Errorf("error body %s", out)
	}
	if !strings.Contains(string(out), `"request_id":"`+resp.Header.Get("X-Request-Id")+`"`) {
		t.Errorf("request_id missing or different from the header: %s", out)
	}
	if resp, out := postBody(t, base+"/local", "text/plain", []byte("still here")); resp.StatusCode != 200 || string(out) != "still here" {
		t.Errorf("other route after the echo died: %d %s", resp.StatusCode, out)
	}
}
