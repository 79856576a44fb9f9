package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/megaflow/megaflow/runtime"
)

// loadFull loads testdata/full.toml, which sets every key, from a copy
// next to the plugin it names: testdata/plugins/all_hooks.wasm, a copy of
// the host's reference module (host/testdata/wat/reference.wat), which
// implements every hook.
func loadFull(t *testing.T) *File {
	t.Helper()
	src, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile("testdata/plugins/all_hooks.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "shape.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "full.toml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	return f
}

func TestCompileMapsServerSettings(t *testing.T) {
	f := loadFull(t)
	want := runtime.ServerSettings{
		Listen:                "127.0.0.1:18000",
		MaxBodyBytes:          2 << 20,
		MaxHeaderBytes:        runtime.DefaultMaxHeaderBytes,
		MaxConcurrentRequests: 64,
		ReadTimeout:           11 * time.Second,
		WriteTimeout:          12 * time.Second,
		IdleTimeout:           13 * time.Second,
		RequestTimeout:        14 * time.Second,
		ShutdownGrace:         15 * time.Second,
		AdminListen:           "127.0.0.1:18001",
		AccessLog:             true,
	}
	if got := serverSettings(f, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("serverSettings:\n got %+v\nwant %+v", got, want)
	}
	if got := serverSettings(f, "127.0.0.1:0").Listen; got != "127.0.0.1:0" {
		t.Errorf("listen override: got %q", got)
	}
}

func TestCompileMapsService(t *testing.T) {
	t.Setenv("FULL_API_KEY", "from-env")
	f := loadFull(t)
	svc, err := microService("embedding", f.Services["embedding"])
	if err != nil {
		t.Fatal(err)
	}
	wantSvc := &runtime.MicroService{
		Name:     "embedding",
		Type:     runtime.TypeEmbedding,
		URL:      "http://127.0.0.1:6006/embed",
		Remote:   true,
		Timeout:  2 * time.Second,
		Stream:   true,
		Optional: true,
		MaxConns: 64,
		APIKey:   "from-env",
	}
	if !reflect.DeepEqual(svc, wantSvc) {
		t.Errorf("microService:\n got %+v\nwant %+v", svc, wantSvc)
	}
	wantOpts := runtime.UpstreamOptions{
		Replicas:         []string{"http://127.0.0.1:6016/embed", "https://127.0.0.1:6026/embed"},
		DialTimeout:      300 * time.Millisecond,
		IdleTimeout:      45 * time.Second,
		MaxResponseBytes: 1 << 20,
		Retries:          2,
		NotIdempotent:    true,
		Breaker: runtime.BreakerSettings{
			Disabled:            true,
			ConsecutiveFailures: 7,
			FailureRatio:        0.25,
			MinRequests:         40,
			OpenTimeout:         3 * time.Second,
			HalfOpenRequests:    2,
			Interval:            30 * time.Second,
		},
		Health: runtime.HealthSettings{
			Path:      "/healthz",
			Interval:  4 * time.Second,
			Timeout:   500 * time.Millisecond,
			Unhealthy: 3,
			Healthy:   4,
		},
	}
	if got := upstreamOptions(f.Services["embedding"]); !reflect.DeepEqual(got, wantOpts) {
		t.Errorf("upstreamOptions:\n got %+v\nwant %+v", got, wantOpts)
	}
}

func TestCompileAppliesDefaults(t *testing.T) {
	f := loadFull(t)
	echo := f.Services["echo"]
	opts := upstreamOptions(echo)
	wantBreaker := runtime.BreakerSettings{
		ConsecutiveFailures: 5,
		FailureRatio:        0.5,
		MinRequests:         20,
		OpenTimeout:         10 * time.Second,
		HalfOpenRequests:    3,
		Interval:            60 * time.Second,
	}
	if !reflect.DeepEqual(opts.Breaker, wantBreaker) {
		t.Errorf("default breaker:\n got %+v\nwant %+v", opts.Breaker, wantBreaker)
	}
	if opts.Health != (runtime.HealthSettings{}) {
		t.Errorf("health checks are on without a [health] table: %+v", opts.Health)
	}
	if opts.NotIdempotent {
		t.Error("a service is not idempotent by default")
	}
	if echo.Timeout.Duration != runtime.DefaultServiceTimeout {
		t.Errorf("default timeout %v, want the runtime's %v", echo.Timeout.Duration, runtime.DefaultServiceTimeout)
	}
	if echo.Type != "undefined" {
		t.Errorf("default type %q", echo.Type)
	}
}

func TestDefaultsMatchRuntime(t *testing.T) {
	f, err := Parse("empty.toml", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := serverSettings(f, "")
	want := runtime.ServerSettings{
		Listen:                runtime.DefaultListen,
		MaxBodyBytes:          runtime.DefaultMaxBodyBytes,
		MaxHeaderBytes:        runtime.DefaultMaxHeaderBytes,
		MaxConcurrentRequests: runtime.DefaultMaxConcurrentRequests,
		ReadTimeout:           runtime.DefaultReadTimeout,
		WriteTimeout:          runtime.DefaultWriteTimeout,
		IdleTimeout:           runtime.DefaultIdleTimeout,
		RequestTimeout:        runtime.DefaultRequestTimeout,
		ShutdownGrace:         runtime.DefaultShutdownGrace,
		AdminListen:           runtime.DefaultAdminListen,
	}
	if got != want {
		t.Errorf("server defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestCompileMapsNodes(t *testing.T) {
	f := loadFull(t)
	spec := flowSpec("full", f.Flows["full"], map[string]*runtime.MicroService{}, map[string]*runtime.Upstream{})
	first := spec.Nodes[0]
	if first.Name != "first" || !first.Optional {
		t.Errorf("node first: name %q optional %v", first.Name, first.Optional)
	}
	hooks := []string{first.RequestName, first.ResponseName, first.EventsName, first.RouteName}
	for i, h := range hooks {
		if h != "shape" {
			t.Errorf("hook %d of node first is %q, want shape", i, h)
		}
	}
	last := spec.Nodes[2]
	if last.AggregateName != "shape" || !reflect.DeepEqual(last.After, []string{"first", "side"}) {
		t.Errorf("node last: aggregate %q after %v", last.AggregateName, last.After)
	}
	if spec.Output != "last" {
		t.Errorf("output %q", spec.Output)
	}
}

func TestCompileFullFile(t *testing.T) {
	f := loadFull(t)
	// No health checks: nothing listens on the file's addresses.
	embedding := f.Services["embedding"]
	embedding.Health.enabled = false
	f.Services["embedding"] = embedding
	snap, err := Compile(f, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	want := []string{"POST /v1/full -> full", "PUT /v1/full -> full"}
	if got := snap.Routes(); !reflect.DeepEqual(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}

func TestLoadFullFile(t *testing.T) {
	t.Setenv("FULL_HOST", "")
	f := loadFull(t)
	if got := f.Plugins["shape"]; got.MaxMemory.Bytes != 16<<20 || got.Instances != 2 || got.Timeout.Duration != 50*time.Millisecond {
		t.Errorf("plugin shape: %+v", got)
	}
	nested, _ := f.Plugins["shape"].Config["nested"].(map[string]any)
	if nested["key"] != "value" {
		t.Errorf("plugin config nested.key = %v; want the ${FULL_HOST:-value} default", nested["key"])
	}
	if f.Admin.Listen != "127.0.0.1:18001" || f.Log.Level != "debug" || f.Log.Format != "text" || !f.Log.Access {
		t.Errorf("admin %+v log %+v", f.Admin, f.Log)
	}
}
