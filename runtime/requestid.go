package runtime

import "math/rand/v2"

// maxRequestIDLen bounds a client-supplied X-Request-Id.
const maxRequestIDLen = 128

// validRequestID reports whether a client's X-Request-Id may be kept: 1 to
// 128 characters from [A-Za-z0-9._:/+=-], which covers UUIDs, ULIDs and
// base64 ids while keeping log lines and headers safe.
func validRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID appends a new request ID, 32 lower-case hex digits of
// randomness, to dst.
func newRequestID(dst []byte) []byte {
	return appendHex64(appendHex64(dst, rand.Uint64()), rand.Uint64())
}

// newTraceparent appends a new W3C traceparent (version 00, random trace
// and parent IDs, sampled flag) to dst.
func newTraceparent(dst []byte) []byte {
	dst = append(dst, "00-"...)
	dst = appendHex64(appendHex64(dst, rand.Uint64()), rand.Uint64()|1)
	dst = append(dst, '-')
	dst = appendHex64(dst, rand.Uint64()|1)
	return append(dst, "-01"...)
}

// validTraceparent reports whether h is a W3C traceparent of version 00:
// "00-" 32 hex "-" 16 hex "-" 2 hex, with non-zero trace and parent IDs.
func validTraceparent(h []byte) bool {
	if len(h) != 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' || h[0] != '0' || h[1] != '0' {
		return false
	}
	nonZero := func(b []byte) bool {
		for _, c := range b {
			if !isLowerHex(c) {
				return false
			}
		}
		for _, c := range b {
			if c != '0' {
				return true
			}
		}
		return false
	}
	return nonZero(h[3:35]) && nonZero(h[36:52]) && isLowerHex(h[53]) && isLowerHex(h[54])
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func appendHex64(dst []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(v>>uint(shift))&0xf])
	}
	return dst
}
