package host

import "encoding/binary"

// ABIVersion is the plugin ABI version this host implements. A module must
// export a function named by ExportABIVersion that returns this number.
const ABIVersion = 1

// Names of the functions a guest module exports. docs/ABI.md is the
// contract for each of them.
const (
	ExportABIVersion = "megaflow_abi_version"
	ExportBuffer     = "megaflow_buffer"
	ExportHooks      = "megaflow_hooks"
	ExportInit       = "megaflow_init"
	ExportRequest    = "megaflow_request"
	ExportResponse   = "megaflow_response"
	ExportEvent      = "megaflow_event"
	ExportAggregate  = "megaflow_aggregate"
	ExportRoute      = "megaflow_route"

	// ExportInitialize is the reactor initializer that WASI toolchains
	// emit; the host calls it before anything else when it is exported.
	ExportInitialize = "_initialize"
)

// ImportModule is the module name of the functions the host provides to
// guests.
const ImportModule = "megaflow"

// Statuses a hook returns. Any other value from 200 to 399 is a
// short-circuit response status (request hook only), and 400 to 599 is a
// failure reported with that HTTP status and the output as its message.
const (
	StatusOK        = 0 // the output replaces the input
	StatusUnchanged = 1 // the input passes through as it was
)

// Hook is one kind of call a plugin can implement.
type Hook uint32

// The hook kinds, as bits of the value returned by the guest's
// megaflow_hooks export.
const (
	HookRequest   Hook = 1 << 0
	HookResponse  Hook = 1 << 1
	HookEvent     Hook = 1 << 2
	HookAggregate Hook = 1 << 3
	HookRoute     Hook = 1 << 4
)

var hookExports = [...]struct {
	hook Hook
	name string
}{
	{HookRequest, ExportRequest},
	{HookResponse, ExportResponse},
	{HookEvent, ExportEvent},
	{HookAggregate, ExportAggregate},
	{HookRoute, ExportRoute},
}

// String returns the hook's name as used in configuration ("request").
func (h Hook) String() string {
	switch h {
	case HookRequest:
		return "request"
	case HookResponse:
		return "response"
	case HookEvent:
		return "event"
	case HookAggregate:
		return "aggregate"
	case HookRoute:
		return "route"
	case 0:
		return "init"
	}
	return "unknown"
}

// AppendFrame appends one ABI frame to dst: the length of p as a
// little-endian uint32, then p. Header blocks, aggregate batches and route
// name lists are sequences of frames.
func AppendFrame(dst, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// AppendFrameString is AppendFrame for a string.
func AppendFrameString(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendHeader appends one header to a header block: a name frame then a
// value frame.
func AppendHeader(dst, name, value []byte) []byte {
	return AppendFrame(AppendFrame(dst, name), value)
}

// NextFrame splits the first frame off p. It returns ok false when p is
// empty or its first frame is truncated.
func NextFrame(p []byte) (frame, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, p, false
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, p, false
	}
	return p[4 : 4+n], p[4+n:], true
}
