// Command reference is the Go twin of testdata/wat/reference.wat: the same
// behaviour for every hook, written with the Go guest SDK, so the host
// tests can run one table of cases against both.
package main

import (
	"bytes"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

func init() {
	megaflow.OnInit(func(config []byte) error {
		megaflow.Log(megaflow.LevelInfo, "reference guest started")
		if len(config) > 0 && config[0] == 'x' {
			return errBadConfig
		}
		return nil
	})
	megaflow.OnRequest(request)
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		if len(output) == 0 {
			return megaflow.Unchanged
		}
		bracket(output)
		return megaflow.OK
	})
	megaflow.OnEvent(func(event []byte) megaflow.Status {
		switch {
		case len(event) == 0 || event[0] == 'd':
			return megaflow.OK
		case event[0] == 'k':
			return megaflow.Unchanged
		}
		bracket(event)
		return megaflow.OK
	})
	megaflow.OnAggregate(func(inputs []megaflow.Input) megaflow.Status {
		if len(inputs) == 0 {
			return megaflow.Fail(422, "no inputs")
		}
		for _, in := range inputs {
			megaflow.Write(in.Name)
			megaflow.WriteString(":")
			megaflow.Write(in.ContentType)
			megaflow.WriteString("=")
			megaflow.Write(in.Data)
			megaflow.WriteString(";")
		}
		return megaflow.OK
	})
	megaflow.OnRoute(func(output []byte, successors [][]byte) megaflow.Status {
		if len(output) == 0 {
			return megaflow.Unchanged
		}
		found := false
		for _, name := range successors {
			if bytes.Equal(name, output) {
				megaflow.Select(name)
				found = true
			}
		}
		if !found {
			return megaflow.Fail(404, "no such successor")
		}
		return megaflow.OK
	})
}

type configError string

func (e configError) Error() string { return string(e) }

const errBadConfig = configError("bad config")

func request(req *megaflow.Request) megaflow.Status {
	megaflow.SetHeader("x-abi", "v1")
	if len(req.Body) == 0 {
		return megaflow.Fail(400, "empty body")
	}
	if req.Body[0] == 's' {
		return megaflow.Respond(203, []byte("short"))
	}
	// The new body is the body followed by the header block as received,
	// rebuilt from the parsed headers.
	megaflow.Write(req.Body)
	req.VisitHeaders(func(name, value []byte) bool {
		megaflow.SetOutput(appendFrame(appendFrame(megaflow.Output(), name), value))
		return true
	})
	return megaflow.OK
}

func appendFrame(dst, p []byte) []byte {
	n := len(p)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(dst, p...)
}

func bracket(p []byte) {
	megaflow.WriteString("[")
	megaflow.Write(p)
	megaflow.WriteString("]")
}

func main() {}
