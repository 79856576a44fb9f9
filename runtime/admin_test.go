package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// countingEcho is an echo service that counts the requests it answered.
func countingEcho(n *atomic.Int64) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		n.Add(1)
		EchoHandler(ctx)
	}
}

func adminRequest(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminRegistersAndRemovesReplicas(t *testing.T) {
	var hitsA, hitsB atomic.Int64
	a := startServer(t, countingEcho(&hitsA))
	b := startServer(t, countingEcho(&hitsB))
	snap := echoSnapshot(t, a, ServerSettings{})
	base := startMegaflow(t, snap)
	srv := NewServer(snap, nil)
	admin := NewAdmin(srv)
	admin.Token = "secret"
	adminURL := startServer(t, admin.Handle)
	replicasURL := adminURL + "/admin/services/echo_service/replicas"

	if code, _ := adminRequest(t, "POST", replicasURL, "", `{"url":"`+b+`"}`); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := adminRequest(t, "POST", replicasURL, "wrong", `{"url":"`+b+`"}`); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, body := adminRequest(t, "POST", adminURL+"/admin/services/nope/replicas", "secret", `{"url":"`+b+`"}`); code != 404 || !strings.Contains(body, `"service":"nope"`) {
		t.Errorf("unknown service: %d %s", code, body)
	}
	code, body := adminRequest(t, "POST", replicasURL, "secret", `{"url":"`+b+`"}`)
	if code != 200 || !strings.Contains(body, b) {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, body := adminRequest(t, "POST", replicasURL, "secret", `{"url":"`+b+`"}`); code != 400 || !strings.Contains(body, "already has") {
		t.Errorf("duplicate register: %d %s", code, body)
	}

	for i := 0; i < 20; i++ {
		if resp, _ := post(t, base+"/process", "text/plain", []byte("x")); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if hitsB.Load() == 0 {
		t.Errorf("the registered replica got no traffic (A %d, B %d)", hitsA.Load(), hitsB.Load())
	}
	metrics := metricFamilies(t)["megaflow_upstream_healthy"]
	found := false
	for _, m := range metrics.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "replica" && l.GetValue() == b {
				found = true
			}
		}
	}
	if !found {
		t.Error("the registered replica is missing from the metrics")
	}

	if code, body := adminRequest(t, "DELETE", replicasURL, "secret", `{"url":"`+a+`"}`); code != 200 {
		t.Fatalf("remove: %d %s", code, body)
	}
	before := hitsA.Load()
	for i := 0; i < 10; i++ {
		post(t, base+"/process", "text/plain", []byte("x"))
	}
	if hitsA.Load() != before {
		t.Errorf("a removed replica still got %d requests", hitsA.Load()-before)
	}
	code, body = adminRequest(t, "DELETE", replicasURL, "secret", `{"url":"`+b+`"}`)
	if code != 400 || !strings.Contains(body, "last one") {
		t.Errorf("removing the last replica: %d %s", code, body)
	}
}

func TestAdminCallsNeedAToken(t *testing.T) {
	echo := startServer(t, EchoHandler)
	admin := NewAdmin(NewServer(echoSnapshot(t, echo, ServerSettings{}), nil))
	adminURL := startServer(t, admin.Handle)
	code, body := adminRequest(t, "POST", adminURL+"/admin/reload", "anything", "")
	if code != 403 || !strings.Contains(body, "disabled") {
		t.Errorf("admin calls without a configured token: %d %s", code, body)
	}
	admin.Token = "t"
	admin.Reload = func() error { return errors.New("config.toml:3:1: unknown key \"lisen\"; did you mean \"listen\"?") }
	code, body = adminRequest(t, "POST", adminURL+"/admin/reload", "t", "")
	if code != 400 || !strings.Contains(body, "did you mean") || !strings.Contains(body, "keeps serving") {
		t.Errorf("failed reload: %d %s", code, body)
	}
	var v map[string]any
	if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&v); err != nil {
		t.Errorf("reload error is not JSON: %s", body)
	}
}
