package load

import (
	"strings"
	"testing"
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
