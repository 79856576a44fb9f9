// Command transform is a Go guest for memory and speed measurements. Its
// response hook returns the input wrapped in angle brackets, in a freshly
// allocated slice, so every call leaves garbage for the collector. With
// the config "upper" it upper-cases the input instead, which loops over
// every byte. Its event hook does nothing, to time a bare hook call.
package main

import (
	"bytes"
	"runtime/debug"
	"strconv"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var upper bool

func init() {
	megaflow.OnInit(func(config []byte) error {
		upper = string(config) == "upper"
		if bytes.HasPrefix(config, []byte("gc=")) {
			n, _ := strconv.Atoi(string(config[3:]))
			debug.SetGCPercent(n)
		}
		return nil
	})
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		if upper {
			megaflow.Write(bytes.ToUpper(output))
			return megaflow.OK
		}
		wrapped := make([]byte, len(output)+2)
		wrapped[0] = '<'
		copy(wrapped[1:], output)
		wrapped[len(wrapped)-1] = '>'
		megaflow.Write(wrapped)
		return megaflow.OK
	})
	megaflow.OnEvent(func([]byte) megaflow.Status { return megaflow.Unchanged })
}

func main() {}
