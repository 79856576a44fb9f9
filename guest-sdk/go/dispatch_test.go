//go:build !wasip1

package megaflow

import (
	"errors"
	"strings"
	"testing"
)

// call writes input into the SDK's buffer, as the host does, runs hook on
// its length and returns the status and the output handed to the host.
func call(t *testing.T, input []byte, hook func(n uint32) uint32) (Status, string) {
	t.Helper()
	copy(buffer(uint32(len(input))), input)
	nativeOutput, nativeHeaders = nil, nil
	return Status(int32(hook(uint32(len(input))))), string(nativeOutput)
}

func TestResponseOutputAndUnchanged(t *testing.T) {
	OnResponse(func(output []byte) Status {
		if len(output) == 0 {
			WriteString("discarded")
			return Unchanged
		}
		Write(output)
		WriteString("!")
		return OK
	})
	defer OnResponse(nil)

	if status, out := call(t, []byte("hi"), callResponse); status != OK || out != "hi!" {
		t.Errorf("response(hi) = %d, %q; want OK, \"hi!\"", status, out)
	}
	if status, out := call(t, nil, callResponse); status != Unchanged || out != "" {
		t.Errorf("response(empty) = %d, %q; want Unchanged and no output", status, out)
	}
}

func TestPanicBecomesFailure(t *testing.T) {
	OnEvent(func([]byte) Status { panic("boom") })
	defer OnEvent(nil)
	status, out := call(t, []byte("x"), callEvent)
	if status != 500 || !strings.Contains(out, "plugin panicked: boom") {
		t.Errorf("event = %d, %q; want 500 with the panic message", status, out)
	}
}

func TestMissingHookFails(t *testing.T) {
	OnAggregate(nil)
	status, out := call(t, nil, func(n uint32) uint32 { return callAggregate(0, n) })
	if status != 501 || !strings.Contains(out, "no aggregate hook") {
		t.Errorf("aggregate without a handler = %d, %q; want 501", status, out)
	}
}

func TestRequestHeadersAndRespond(t *testing.T) {
	OnRequest(func(req *Request) Status {
		SetHeader("x-seen", "1")
		DeleteHeader("cookie")
		if v, ok := req.Header("Content-TYPE"); !ok || string(v) != "text/plain" {
			return Failf(400, "content-type = %q, %v", v, ok)
		}
		return Respond(203, req.Body)
	})
	defer OnRequest(nil)

	body := []byte("body")
	headers := appendFrame(appendFrame(nil, []byte("content-type")), []byte("text/plain"))
	input := append(append([]byte{}, body...), headers...)
	copy(buffer(uint32(len(input))), input)
	nativeOutput, nativeHeaders = nil, nil
	status := Status(callRequest(uint32(len(body)), uint32(len(headers))))
	if status != 203 || string(nativeOutput) != "body" {
		t.Errorf("request = %d, %q; want 203, \"body\"", status, nativeOutput)
	}
	if strings.Join(nativeHeaders, ";") != "set x-seen 1;delete cookie" {
		t.Errorf("header edits = %q", nativeHeaders)
	}
}

func TestAggregateBatchAndTruncation(t *testing.T) {
	OnAggregate(func(inputs []Input) Status {
		for _, in := range inputs {
			Write(in.Name)
			WriteString("=")
			Write(in.Data)
			WriteString(";")
		}
		return OK
	})
	defer OnAggregate(nil)

	var batch []byte
	for _, name := range []string{"a", "b"} {
		batch = appendFrame(batch, []byte(name))
		batch = appendFrame(batch, nil)
		batch = appendFrame(batch, []byte(strings.ToUpper(name)))
	}
	status, out := call(t, batch, func(n uint32) uint32 { return callAggregate(2, n) })
	if status != OK || out != "a=A;b=B;" {
		t.Errorf("aggregate = %d, %q; want OK, \"a=A;b=B;\"", status, out)
	}
	status, out = call(t, batch[:len(batch)-1], func(n uint32) uint32 { return callAggregate(2, n) })
	if status != 500 || !strings.Contains(out, "truncated at input 1") {
		t.Errorf("truncated aggregate = %d, %q; want 500 naming input 1", status, out)
	}
}

func TestRouteSelect(t *testing.T) {
	OnRoute(func(output []byte, successors [][]byte) Status {
		for _, s := range successors {
			if string(s) != string(output) {
				Select(s)
			}
		}
		return OK
	})
	defer OnRoute(nil)

	output := []byte("skip")
	names := appendFrame(appendFrame(nil, []byte("skip")), []byte("run"))
	input := append(append([]byte{}, output...), names...)
	copy(buffer(uint32(len(input))), input)
	nativeOutput = nil
	status := Status(callRoute(uint32(len(output)), uint32(len(names)), 2))
	if want := string(appendFrame(nil, []byte("run"))); status != OK || string(nativeOutput) != want {
		t.Errorf("route = %d, %q; want OK, %q", status, nativeOutput, want)
	}
}

func TestInitErrorFails(t *testing.T) {
	OnInit(func(config []byte) error { return errors.New("bad config: " + string(config)) })
	defer OnInit(nil)
	status, out := call(t, []byte("{}"), callInit)
	if status != 500 || out != "bad config: {}" {
		t.Errorf("init = %d, %q; want 500, \"bad config: {}\"", status, out)
	}
}

func TestDeclaredHooks(t *testing.T) {
	OnResponse(func([]byte) Status { return OK })
	OnRoute(func([]byte, [][]byte) Status { return OK })
	defer OnResponse(nil)
	defer OnRoute(nil)
	if got := declaredHooks(); got != hookResponse|hookRoute {
		t.Errorf("declaredHooks = %#x, want response and route", got)
	}
}
