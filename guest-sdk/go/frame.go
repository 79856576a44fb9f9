package megaflow

import "encoding/binary"

// A frame is a little-endian uint32 length followed by that many bytes.
// Header blocks, aggregate batches and route name lists are frame lists.

func nextFrame(p []byte) (frame, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, p, false
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, p, false
	}
	return p[4 : 4+n], p[4+n:], true
}

func appendFrame(dst, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}
