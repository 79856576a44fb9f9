//go:build linux

package runtime

import (
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchDisconnect calls gone once if the client closes or resets conn
// while a streamed response is being written, without consuming any byte the
// client sends: it peeks at the socket (MSG_PEEK) when the kernel reports
// it readable. A readable socket with data (a pipelined request, a TLS
// alert) ends the watch without calling gone, since that is not a
// disconnect. stop ends the watch and returns once its goroutine has
// exited; call it before the server uses conn again.
//
// A write to a closed peer succeeds once before it fails, so without this
// watch a disconnect is noticed only two events later.
func watchDisconnect(conn net.Conn, gone func()) (stop func()) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	var stopped atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf [1]byte
		raw.Read(func(fd uintptr) bool {
			if stopped.Load() {
				return true
			}
			n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				return false // not readable yet: wait in the poller
			}
			if err != nil || n == 0 {
				gone()
			}
			return true
		})
	}()
	return func() {
		stopped.Store(true)
		// A deadline in the past wakes the poller wait; the server sets
		// its own deadline before it reads the next request.
		conn.SetReadDeadline(time.Now())
		<-done
		conn.SetReadDeadline(time.Time{})
	}
}
