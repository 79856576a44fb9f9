//go:build !linux

package runtime

import "net"

// watchDisconnect is a no-op off Linux: a disconnect mid-stream is noticed
// when a write to the client fails.
func watchDisconnect(conn net.Conn, gone func()) (stop func()) { return func() {} }
