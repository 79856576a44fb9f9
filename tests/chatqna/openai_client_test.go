package chatqna

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// clientDir holds the Node.js script and the package.json that pins the
// openai package.
const clientDir = "../openai-client"

// runOpenAIClient streams a chat completion from base through the official
// openai npm package (tests/openai-client/chat.mjs) and checks what the
// client received. Without node and npm, or when the package cannot be
// installed, it skips; with MEGAFLOW_TEST_OPENAI set, as "make
// test-openai" sets it, it fails instead.
func runOpenAIClient(t *testing.T, base string) {
	required := os.Getenv("MEGAFLOW_TEST_OPENAI") != ""
	unavailable := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("skipping the openai npm client test: %s is not installed", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "openai", "package.json")); err != nil {
		installOpenAI(t, unavailable)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "chat.mjs", base)
	cmd.Dir = clientDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node chat.mjs failed: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	var got struct {
		Chunks           int    `json:"chunks"`
		Streamed         string `json:"streamed"`
		FinishReason     string `json:"finish_reason"`
		Object           string `json:"object"`
		Content          string `json:"content"`
		CompletionTokens int    `json:"completion_tokens"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("the client printed %q, not one JSON line: %v\nstderr: %s", stdout.Bytes(), err, stderr.Bytes())
	}
	t.Logf("openai npm client: %+v", got)

	if got.Streamed != mockWords(5) {
		t.Errorf("streamed text %q, want %q", got.Streamed, mockWords(5))
	}
	if got.Chunks != 5 {
		t.Errorf("%d chunks, want 5", got.Chunks)
	}
	if got.FinishReason != "length" {
		t.Errorf("finish_reason %q, want length", got.FinishReason)
	}
	if got.Object != "chat.completion" {
		t.Errorf("object %q, want chat.completion", got.Object)
	}
	if got.Content != mockWords(3) {
		t.Errorf("content %q, want %q", got.Content, mockWords(3))
	}
	if got.CompletionTokens != 3 {
		t.Errorf("completion_tokens %d, want 3", got.CompletionTokens)
	}
}

// installOpenAI installs the pinned openai package into clientDir with
// npm ci, bounded in time so that an unreachable registry skips the test
// rather than stalling it.
func installOpenAI(t *testing.T, unavailable func(string, ...any)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--fetch-timeout=20000", "--fetch-retries=1")
	cmd.Dir = clientDir
	if out, err := cmd.CombinedOutput(); err != nil {
		unavailable("skipping the openai npm client test: npm ci in tests/openai-client failed: %v\n%s", err, out)
	}
}
