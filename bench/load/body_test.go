package load

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestTemplateFillsPlaceholders(t *testing.T) {
	tmpl, err := ParseTemplate(`{"id":{{seq}},"text":"{{random 8}}"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(tmpl.AppendBody(nil, 42))
	if !strings.HasPrefix(got, `{"id":42,"text":"`) || len(got) != len(`{"id":42,"text":""}`)+8 {
		t.Errorf("body = %q, want id 42 and 8 random letters", got)
	}
	if tmpl.Static() {
		t.Error("Static() = true for a template with placeholders")
	}
}

func TestTemplateRejectsUnknownPlaceholder(t *testing.T) {
	for _, s := range []string{"{{uuid}}", "{{random x}}", "{{seq"} {
		if _, err := ParseTemplate(s); err == nil {
			t.Errorf("ParseTemplate(%q) = nil error, want one", s)
		}
	}
}

func TestSizedBodyLength(t *testing.T) {
	for _, size := range []int{0, 11, 64, 1000} {
		got := len(SizedBody(size))
		if want := max(size, 11); got != want {
			t.Errorf("len(SizedBody(%d)) = %d, want %d", size, got, want)
		}
	}
}

func BenchmarkShardRecord(b *testing.B) {
	b.ReportAllocs()
	s := newShard(false)
	o := &outcome{status: 200, bytes: 64, latency: 150_000}
	for b.Loop() {
		s.record(o)
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	b.ReportAllocs()
	tmpl, err := ParseTemplate(`{"id":{{seq}},"text":"{{random 16}}"}`)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	for i := uint64(0); b.Loop(); i++ {
		buf = tmpl.AppendBody(buf[:0], i)
	}
}

func TestClassifyIPv4OnlyDialOfIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	// A client without dual-stack dialing cannot reach [::1], and fasthttp
	// reports that with an error that is neither a net.OpError nor exported.
	c := &fasthttp.HostClient{Addr: ln.Addr().String()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	err = c.Do(req, resp)
	if err == nil {
		t.Fatal("dialing [::1] without dual-stack dialing succeeded; the test no longer reaches the error it classifies")
	}
	if got := classifyError(err); got != "connect" {
		t.Errorf("classifyError(%q) = %q, want connect", err, got)
	}
}
