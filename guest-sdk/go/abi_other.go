//go:build !wasip1

package megaflow

// Outside wasip1 there is no host: these stand-ins let plugin packages
// build and vet natively, and discard what they receive.

func hostOutput([]byte)            {}
func hostSetHeader(string, string) {}
func hostDeleteHeader(string)      {}
func hostLog(Level, string)        {}
