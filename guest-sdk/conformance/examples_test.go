package conformance_test

// example is one SDK's example plugin. Every example implements the same
// small plugin (README.md of each SDK): its response and event hooks
// upper-case ASCII letters, so one test checks them all.
type example struct {
	lang   string
	path   string // the module; filled in by TestMain when source is set
	source string // a Go package to build, relative to this directory
}

var examples = []*example{
}
