// Command reference is the conformance reference plugin written with the
// Go guest SDK. Its behaviour is specified in guest-sdk/conformance/README.md
// and is identical in every language of guest-sdk/conformance/reference.
package main

import (
	"bytes"
	"errors"
	"strconv"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var prefix []byte

func init() {
	megaflow.OnInit(initPlugin)
	megaflow.OnRequest(request)
	megaflow.OnResponse(response)
	megaflow.OnEvent(event)
	megaflow.OnAggregate(aggregate)
	megaflow.OnRoute(route)
}

func initPlugin(config []byte) error {
	megaflow.Log(megaflow.LevelInfo, "conformance: init with "+strconv.Itoa(len(config))+" config bytes")
	if len(config) == 0 {
		return nil
	}
	if config[0] != '{' {
		return errors.New("config is not a JSON object")
	}
	key := []byte(`"prefix":"`)
	start := bytes.Index(config, key)
	if start < 0 {
		return nil
	}
	rest := config[start+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return errors.New("config prefix is not terminated")
	}
	prefix = append([]byte(nil), rest[:end]...)
	return nil
}

func request(req *megaflow.Request) megaflow.Status {
	body := req.Body
	switch {
	case len(body) == 0:
		return megaflow.Fail(400, "empty body")
	case bytes.HasPrefix(body, []byte("error:")):
		return megaflow.Fail(422, string(body[len("error:"):]))
	case bytes.HasPrefix(body, []byte("short:")):
		megaflow.SetHeader("x-short", "yes")
		return megaflow.Respond(203, body[len("short:"):])
	case bytes.HasPrefix(body, []byte("log:")):
		megaflow.Log(megaflow.LevelWarn, string(body[len("log:"):]))
		return megaflow.Unchanged
	}

	megaflow.Write(prefix)
	megaflow.Write(body)
	req.VisitHeaders(func(name, value []byte) bool {
		if bytes.HasPrefix(name, []byte("x-drop-")) {
			megaflow.DeleteHeader(string(name))
			return true
		}
		megaflow.WriteString("\n")
		megaflow.Write(name)
		megaflow.WriteString(": ")
		megaflow.Write(value)
		return true
	})
	megaflow.SetHeader("x-body-length", strconv.Itoa(len(body)))
	return megaflow.OK
}

func response(output []byte) megaflow.Status {
	if len(output) == 0 {
		return megaflow.Unchanged
	}
	if bytes.HasPrefix(output, []byte("error:")) {
		megaflow.Log(megaflow.LevelError, "conformance: response error")
		return megaflow.Fail(502, string(output[len("error:"):]))
	}
	megaflow.Write(prefix)
	writeUpper(output)
	return megaflow.OK
}

func event(ev []byte) megaflow.Status {
	switch {
	case len(ev) == 0:
		return megaflow.OK
	case ev[0] == ':':
		megaflow.Log(megaflow.LevelDebug, "conformance: dropped comment")
		return megaflow.OK
	case bytes.HasPrefix(ev, []byte("data: [DONE]")):
		return megaflow.Unchanged
	}
	writeUpper(ev)
	return megaflow.OK
}

func aggregate(inputs []megaflow.Input) megaflow.Status {
	if len(inputs) == 0 {
		return megaflow.Fail(422, "no inputs")
	}
	for _, in := range inputs {
		if string(in.Name) == "error" {
			return megaflow.Fail(500, "input error: "+string(in.Data))
		}
	}
	megaflow.WriteString(strconv.Itoa(len(inputs)))
	megaflow.WriteString("\n")
	for _, in := range inputs {
		megaflow.Write(in.Name)
		megaflow.WriteString("\t")
		megaflow.Write(in.ContentType)
		megaflow.WriteString("\t")
		megaflow.WriteString(strconv.Itoa(len(in.Data)))
		megaflow.WriteString("\t")
		megaflow.Write(in.Data)
		megaflow.WriteString("\n")
	}
	return megaflow.OK
}

func route(output []byte, successors [][]byte) megaflow.Status {
	switch {
	case len(output) == 0:
		return megaflow.Unchanged
	case string(output) == "none":
		return megaflow.OK
	case bytes.HasPrefix(output, []byte("error:")):
		return megaflow.Fail(409, string(output[len("error:"):]))
	}
	for name := range bytes.SplitSeq(output, []byte(",")) {
		if !containsName(successors, name) {
			return megaflow.Fail(404, "no successor named "+string(name))
		}
	}
	for _, successor := range successors {
		for name := range bytes.SplitSeq(output, []byte(",")) {
			if bytes.Equal(name, successor) {
				megaflow.Select(successor)
				break
			}
		}
	}
	return megaflow.OK
}

func containsName(names [][]byte, name []byte) bool {
	for _, n := range names {
		if bytes.Equal(n, name) {
			return true
		}
	}
	return false
}

// writeUpper writes p with ASCII letters upper-cased and every other byte,
// UTF-8 or not, as it is.
func writeUpper(p []byte) {
	out := megaflow.Output()
	for _, c := range p {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	megaflow.SetOutput(out)
}

func main() {}
