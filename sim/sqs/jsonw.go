package sqs

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// jsonSafe marks, for each byte value, whether it can be copied as is into
// a JSON string ('1'): printable ASCII except the quote and the backslash.
const jsonSafe = "0000000000000000000000000000000011011111111111111111111111111111111111111111111111111111111101111111111111111111111111111111111100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

// appendString appends s as a JSON string. SQS bodies are mostly JSON
// documents themselves, so quotes are common; this avoids encoding/json's
// reflection and HTML escaping on the hot receive path. Invalid UTF-8 is
// replaced by U+FFFD, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	const hexdigits = "0123456789abcdef"
	// Room for the common escapes (two bytes for one) without growing.
	if free := cap(dst) - len(dst); free < 2*len(s)+2 {
		grown := make([]byte, len(dst), len(dst)+2*len(s)+64)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] == '1' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0x0f])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendKey appends "key": (key must not need escaping).
func appendKey(dst []byte, key string) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}

func base64Append(dst, b []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, b)
}
