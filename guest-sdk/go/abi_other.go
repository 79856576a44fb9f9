//go:build !wasip1

package megaflow

// Outside wasip1 there is no host. These stand-ins let plugin packages
// build and vet natively, and let the SDK's own tests run its dispatch
// code: output and header edits are recorded, log messages are dropped.

var (
	nativeOutput  []byte
	nativeHeaders []string // "set name value" or "delete name"
)

func hostOutput(p []byte)              { nativeOutput = append(nativeOutput, p...) }
func hostSetHeader(name, value string) { nativeHeaders = append(nativeHeaders, "set "+name+" "+value) }
func hostDeleteHeader(name string)     { nativeHeaders = append(nativeHeaders, "delete "+name) }
func hostLog(Level, string)            {}
