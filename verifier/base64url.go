package verifier

import "encoding/binary"

// Every binary value Signet shows as text (signed-URL tokens, URL ids, the
// body of API keys) is unpadded base64url, decoded strictly by one decoder.

// b64Values maps each byte to its value in the base64url alphabet, or to
// 0xFF when it is not in the alphabet.
var b64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64URL decodes unpadded base64url from s into dst. It is strict:
// any byte outside the alphabet (padding, CR and LF included), a dangling
// single character or non-zero trailing bits make it fail, so every byte
// string has exactly one accepted spelling. It also fails when dst is
// shorter than len(s)*3/4. It does not allocate.
func decodeBase64URL(dst []byte, s string) (int, bool) {
	if len(s)*3/4 > len(dst) {
		return 0, false
	}
	n, i := 0, 0
	var bad byte // the OR of every value: > 63 if any byte is outside the alphabet
	// Eight characters make six bytes, stored as one 8-byte word while two
	// spare bytes of dst remain to be overwritten by the next step.
	for ; i+8 <= len(s) && n+8 <= len(dst); i += 8 {
		q := s[i : i+8]
		a, b, c, d := b64Values[q[0]], b64Values[q[1]], b64Values[q[2]], b64Values[q[3]]
		e, f, g, h := b64Values[q[4]], b64Values[q[5]], b64Values[q[6]], b64Values[q[7]]
		bad |= a | b | c | d | e | f | g | h
		binary.BigEndian.PutUint64(dst[n:], uint64(a)<<58|uint64(b)<<52|uint64(c)<<46|uint64(d)<<40|
			uint64(e)<<34|uint64(f)<<28|uint64(g)<<22|uint64(h)<<16)
		n += 6
	}
	for ; i+4 <= len(s); i += 4 {
		q := s[i : i+4]
		a, b, c, d := b64Values[q[0]], b64Values[q[1]], b64Values[q[2]], b64Values[q[3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(s) - i {
	case 1:
		return 0, false
	case 2:
		a, b := b64Values[s[i]], b64Values[s[i+1]]
		if a|b > 63 || b&0x0F != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := b64Values[s[i]], b64Values[s[i+1]], b64Values[s[i+2]]
		if a|b|c > 63 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	if bad > 63 {
		return 0, false
	}
	return n, true
}

// nameOf reports whether s is 1 to maxLen bytes, each in the class.
func nameOf(s string, maxLen int, class func(byte) bool) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !class(s[i]) {
			return false
		}
	}
	return true
}

// isBase64URL reports whether c is in the base64url alphabet.
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
