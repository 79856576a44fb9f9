//go:build wasip1

package megaflow

import "unsafe"

// The functions below are the module's ABI exports and imports; each is
// described in docs/ABI.md.

//go:wasmexport megaflow_abi_version
func exportABIVersion() int32 { return abiVersion }

//go:wasmexport megaflow_buffer
func exportBuffer(size uint32) uint32 {
	b := buffer(size)
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport megaflow_hooks
func exportHooks() uint32 { return declaredHooks() }

//go:wasmexport megaflow_init
func exportInit(n uint32) uint32 { return callInit(n) }

//go:wasmexport megaflow_request
func exportRequest(bodyLen, headersLen uint32) uint32 { return callRequest(bodyLen, headersLen) }

//go:wasmexport megaflow_response
func exportResponse(n uint32) uint32 { return callResponse(n) }

//go:wasmexport megaflow_event
func exportEvent(n uint32) uint32 { return callEvent(n) }

//go:wasmexport megaflow_aggregate
func exportAggregate(count, n uint32) uint32 { return callAggregate(count, n) }

//go:wasmexport megaflow_route
func exportRoute(outputLen, namesLen, count uint32) uint32 {
	return callRoute(outputLen, namesLen, count)
}

//go:wasmimport megaflow output
func importOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport megaflow set_header
func importSetHeader(namePtr unsafe.Pointer, nameLen uint32, valuePtr unsafe.Pointer, valueLen uint32)

//go:wasmimport megaflow delete_header
func importDeleteHeader(namePtr unsafe.Pointer, nameLen uint32)

//go:wasmimport megaflow log
func importLog(level int32, ptr unsafe.Pointer, n uint32)

func hostOutput(p []byte) { importOutput(unsafe.Pointer(unsafe.SliceData(p)), uint32(len(p))) }

func hostSetHeader(name, value string) {
	importSetHeader(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)),
		unsafe.Pointer(unsafe.StringData(value)), uint32(len(value)))
}

func hostDeleteHeader(name string) {
	importDeleteHeader(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)))
}

func hostLog(level Level, message string) {
	importLog(int32(level), unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}
