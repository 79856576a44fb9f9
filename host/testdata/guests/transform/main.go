// Command transform is a Go guest for memory and speed measurements: its
// response hook returns the input upper-cased in a freshly allocated
// slice, so every call leaves garbage for the collector, and its event
// hook does nothing, to time a bare hook call.
package main

import (
	"bytes"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

func init() {
	megaflow.OnResponse(func(output []byte) megaflow.Status {
		megaflow.Write(bytes.ToUpper(output))
		return megaflow.OK
	})
	megaflow.OnEvent(func([]byte) megaflow.Status { return megaflow.Unchanged })
}

func main() {}
