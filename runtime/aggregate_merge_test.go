package runtime

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestMergeObjectsLaterKeysWin(t *testing.T) {
	inputs := []NamedInput{
		{Name: "a", Data: []byte(`{"text":"from a","a":1,"nested":{"x":[1,"}"]}}`)},
		{Name: "b", Data: []byte(` {"b":2,"text":"from b"} `)},
		{Name: "c", Data: []byte(`{}`)},
	}
	out, err := MergeObjects.Aggregate(t.Context(), inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"text":"from b","a":1,"nested":{"x":[1,"}"]},"b":2}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestMergeObjectsRejectsNonObjects(t *testing.T) {
	inputs := []NamedInput{{Name: "a", Data: []byte(`{"x":1}`)}, {Name: "tts", Data: []byte("RIFF\x00\x01")}}
	_, err := MergeObjects.Aggregate(t.Context(), inputs, nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != 502 {
		t.Fatalf("error = %v, want a 502 *Error", err)
	}
	if !strings.Contains(e.Message, "tts") {
		t.Errorf("message %q does not name the predecessor", e.Message)
	}
}

// fixedReply responds to every request with body as JSON.
func fixedReply(body string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(body)
	}
}

// TestMergeObjectsInFlow fans two services into an echo node, once with
// the default keyed fan-in and once with MergeObjects.
func TestMergeObjectsInFlow(t *testing.T) {
	aSvc, aUp := remote(t, "a", startServer(t, fixedReply(`{"text":"from a","a":1}`)))
	bSvc, bUp := remote(t, "b", startServer(t, fixedReply(`{"text":"from b","b":2}`)))
	joinSvc, joinUp := remote(t, "join", startServer(t, EchoHandler))
	cases := []struct {
		name      string
		aggregate Aggregator
		want      string
	}{
		{"keyed", nil, `{"a":{"text":"from a","a":1},"b":{"text":"from b","b":2}}`},
		{"merge", MergeObjects, `{"text":"from b","a":1,"b":2}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := CompilePlan(FlowSpec{Name: "fan", Nodes: []NodeSpec{
				{Service: aSvc, Exec: aUp},
				{Service: bSvc, Exec: bUp},
				{Service: joinSvc, Exec: joinUp, After: []string{"a", "b"}, Aggregate: c.aggregate},
			}})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := NewSnapshot(ServerSettings{}, []Route{{Path: "/fan", Plan: p}}, []*MicroService{aSvc, bSvc, joinSvc})
			if err != nil {
				t.Fatal(err)
			}
			base := startMegaflow(t, snap)
			resp, err := httpClient.Post(base+"/fan", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != c.want {
				t.Errorf("got  %s\nwant %s", body, c.want)
			}
		})
	}
}
