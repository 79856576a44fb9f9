// Package hosttest builds Go guest modules from source for tests of the
// plugin host and of plugins, so that tests always run the real module
// built from the current code.
package hosttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	mu     sync.Mutex
	dir    string
	built  = map[string]string{}
	goTool string
)

// BuildGo builds the Go guest package at pkgDir (a path such as
// "./testdata/guests/reference", relative to the test's working
// directory) with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and returns
// the path of the module. Each package is built once per test process,
// into a temporary directory that Cleanup removes.
func BuildGo(pkgDir string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", err
	}
	if path, ok := built[abs]; ok {
		return path, nil
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "megaflow-guests-"); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, fmt.Sprintf("%d-%s.wasm", len(built), filepath.Base(abs)))
	cmd := exec.Command(goCommand(), "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest %s: %w\n%s", pkgDir, err, output)
	}
	built[abs] = out
	return out, nil
}

// Cleanup removes the built modules; call it at the end of TestMain.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	dir, built = "", map[string]string{}
}

// goCommand returns the go tool of the toolchain running the tests, so
// guests are built by the same Go version.
func goCommand() string {
	if goTool != "" {
		return goTool
	}
	goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	return goTool
}
