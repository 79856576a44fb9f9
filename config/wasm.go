package config

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tetratelabs/wazero"
)

// wasmHeader is the magic number "\0asm" and binary format version 1 that
// open every WebAssembly module (WebAssembly Core Specification, §5.5.16).
var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// checkReadable returns what is wrong with the file at path, or "" when
// it is a regular file that can be read. The problem completes a sentence
// that starts with the path.
func checkReadable(path string) string {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist; fix the path, which is relative to the configuration file's directory"
	case err != nil:
		return fmt.Sprintf("cannot be read: %v", unwrapPathError(err))
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && !info.Mode().IsRegular() {
		return "is not a regular file"
	}
	return ""
}

// checkWasmFile returns what is wrong with the plugin file at path, or ""
// when it is a WebAssembly module that wazero compiles. The problem
// completes a sentence that starts with the path. Compiling uses wazero's
// interpreter, which validates the module without generating machine code.
func checkWasmFile(path string) string {
	wasm, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist; build the plugin or fix the path, which is relative to the configuration file's directory"
	case err != nil:
		return fmt.Sprintf("cannot be read: %v", unwrapPathError(err))
	case len(wasm) < len(wasmHeader) || !bytes.Equal(wasm[:4], wasmHeader[:4]):
		return "is not a WebAssembly module: it does not start with \"\\0asm\"; point path at a .wasm file"
	case !bytes.Equal(wasm[4:8], wasmHeader[4:8]):
		return fmt.Sprintf("has WebAssembly binary version %d, but only version 1 is supported; rebuild the plugin", binary.LittleEndian.Uint32(wasm[4:8]))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	if _, err := rt.CompileModule(ctx, wasm); err != nil {
		return fmt.Sprintf("is not a valid WebAssembly module: %v", err)
	}
	return ""
}
