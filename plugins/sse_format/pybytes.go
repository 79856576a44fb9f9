package main

// Python writes a bytes value as b'...': printable ASCII as itself, a
// backslash or the quote character escaped with a backslash, tab, newline
// and carriage return as \t \n \r, and other bytes as \xNN. It quotes with
// ' unless the value contains ' and no ", then with ".

func appendPythonBytes(dst, p []byte) []byte {
	quote := byte('\'')
	hasSingle, hasDouble := false, false
	for _, c := range p {
		hasSingle = hasSingle || c == '\''
		hasDouble = hasDouble || c == '"'
	}
	if hasSingle && !hasDouble {
		quote = '"'
	}
	const hex = "0123456789abcdef"
	dst = append(dst, 'b', quote)
	for _, c := range p {
		switch {
		case c == quote || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, quote)
}

// parsePythonBytes decodes a b'...' or b"..." literal, with the escapes
// Python accepts in bytes literals. It reports false for anything else.
func parsePythonBytes(s []byte) ([]byte, bool) {
	if len(s) < 3 || s[0] != 'b' || (s[1] != '\'' && s[1] != '"') || s[len(s)-1] != s[1] {
		return nil, false
	}
	body := s[2 : len(s)-1]
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			out = append(out, c)
			continue
		}
		i++
		switch e := body[i]; e {
		case '\\', '\'', '"':
			out = append(out, e)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 < len(body) && isHex(body[i+1]) && isHex(body[i+2]) {
				out = append(out, unhex(body[i+1])<<4|unhex(body[i+2]))
				i += 2
			} else {
				out = append(out, '\\', 'x')
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, n := 0, 0
			for n < 3 && i+n < len(body) && body[i+n] >= '0' && body[i+n] <= '7' {
				v = v*8 + int(body[i+n]-'0')
				n++
			}
			out = append(out, byte(v))
			i += n - 1
		default:
			out = append(out, '\\', e)
		}
	}
	return out, true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
