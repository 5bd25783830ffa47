package verifier

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
)

// The tag of a token covers its payload and the request it was signed for,
// in this canonical form:
//
//	mac_input = F("signet-url") || F(0x01 || payload)
//	            || F(host) || F("GET") || F(path or prefix) || F(canonical query)
//	F(x)      = u16be len(x) || x
//
// The host is ASCII-lowercased without a trailing ":80" or ":443"; "GET" is
// the method class of GET and HEAD; the canonical query is every pair but
// the signature parameter, each name and value re-escaped (appendCanonical)
// and sorted by name, then value.

// DefaultParam is the query parameter that carries the token when
// NewVerifier is given none.
const DefaultParam = "sig"

const (
	macLabel       = "signet-url"
	methodClassGET = "GET"
	maxParamLen    = 64
)

// Target is the request a token is bound to.
type Target struct {
	Host     string // Host header / URL authority, any case, maybe with port
	Method   string // "GET" or "HEAD"
	Path     string // decoded path (r.URL.Path)
	RawPath  string // r.URL.RawPath (may be empty); used only for CheckPath
	RawQuery string // the raw query; for Verify it includes the signature parameter, for Sign it must not
}

// appendMACInput appends the MAC input for a token whose version and
// payload are signed, used on host for bound (the path, or the granted
// prefix), with the canonical form of rawQuery less the pairs named skip
// (none when skip is ""). spans is scratch space, returned for reuse. It
// reports false when rawQuery has an invalid percent-encoding.
func appendMACInput[B string | []byte](buf, signed []byte, host string, bound B, rawQuery, skip string, spans []span) ([]byte, []span, bool) {
	buf = appendField(buf, macLabel)
	buf = appendField(buf, signed)
	at := len(buf)
	buf = append(buf, 0, 0)
	buf = appendHost(buf, host)
	binary.BigEndian.PutUint16(buf[at:], uint16(len(buf)-at-2))
	buf = appendField(buf, methodClassGET)
	buf = appendField(buf, bound)
	return appendQueryField(buf, rawQuery, skip, spans)
}

// appendField appends x with a 2-byte big-endian length prefix. The size
// limits keep every field under 64 KiB.
func appendField[T string | []byte](buf []byte, x T) []byte {
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(x)))
	return append(buf, x...)
}

// appendHost appends host lowercased (ASCII), without a trailing ":80" or
// ":443".
func appendHost(buf []byte, host string) []byte {
	if strings.HasSuffix(host, ":80") {
		host = host[:len(host)-3]
	} else if strings.HasSuffix(host, ":443") {
		host = host[:len(host)-4]
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// span locates one canonical "name=value" pair in the scratch buffer.
type span struct{ start, eq, end int }

// appendQueryField appends the canonical form of rawQuery, without the
// pairs named skip (none when skip is ""), as a length-prefixed field. It
// reports false when rawQuery has an invalid percent-encoding.
func appendQueryField(buf []byte, rawQuery, skip string, spans []span) ([]byte, []span, bool) {
	at := len(buf)
	buf = append(buf, 0, 0)
	base := len(buf)
	spans = spans[:0]
	ok := true
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		if pair != "" {
			name, value, _ := strings.Cut(pair, "=")
			if skip == "" || !nameIs(name, skip) {
				start := len(buf)
				if buf, ok = appendCanonical(buf, name); !ok {
					return buf, spans, false
				}
				eq := len(buf)
				buf = append(buf, '=')
				if buf, ok = appendCanonical(buf, value); !ok {
					return buf, spans, false
				}
				spans = append(spans, span{start, eq, len(buf)})
			}
		}
		if !more {
			break
		}
		q = rest
	}
	if len(spans) > 1 {
		slices.SortFunc(spans, func(a, b span) int {
			if c := bytes.Compare(buf[a.start:a.eq], buf[b.start:b.eq]); c != 0 {
				return c
			}
			return bytes.Compare(buf[a.eq+1:a.end], buf[b.eq+1:b.end])
		})
		out := len(buf)
		for i, sp := range spans {
			if i > 0 {
				buf = append(buf, '&')
			}
			buf = append(buf, buf[sp.start:sp.end]...)
		}
		n := copy(buf[base:], buf[out:])
		buf = buf[:base+n]
	}
	binary.BigEndian.PutUint16(buf[at:], uint16(len(buf)-base))
	return buf, spans, true
}

// appendCanonical appends the canonical form of one raw query name or
// value: every %XX escape is decoded, then every byte is written as itself
// if it is unreserved (A-Z a-z 0-9 - . _ ~) and as %XX (uppercase hex)
// otherwise; except that a literal '+' or ';' is kept as is, because
// origins disagree on what they mean (space, separator), so neither is
// equivalent to any escape. It reports false for an invalid escape.
func appendCanonical(buf []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return buf, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return buf, false
			}
			buf = appendEscaped(buf, hi<<4|lo)
			i += 2
		case '+', ';':
			buf = append(buf, c)
		default:
			buf = appendEscaped(buf, c)
		}
	}
	return buf, true
}

// AppendToken returns rawQuery with param=token appended (properly escaped),
// for building the URL. The rest of rawQuery is kept byte for byte, so
// StripParam(AppendToken(q, p, tok), p) == q whenever q has no p parameter.
func AppendToken(rawQuery, param, token string) string {
	b := make([]byte, 0, len(rawQuery)+len(param)+len(token)+2)
	b = append(b, rawQuery...)
	if rawQuery != "" {
		b = append(b, '&')
	}
	for i := 0; i < len(param); i++ {
		b = appendEscaped(b, param[i])
	}
	b = append(b, '=')
	for i := 0; i < len(token); i++ {
		b = appendEscaped(b, token[i])
	}
	return string(b)
}

// StripParam returns rawQuery without every occurrence of param (leaving
// the rest byte-for-byte), for forwarding to the origin. A pair is an
// occurrence when its name, percent-decoded, equals param (so "%73ig=…" is
// removed along with "sig=…"), exactly as Verify counts them. The "&"
// separators of the remaining pairs, including empty ones, are kept.
func StripParam(rawQuery, param string) string {
	if _, n, _ := findParam(rawQuery, param); n == 0 {
		return rawQuery
	}
	if strings.IndexByte(rawQuery, '&') < 0 {
		return "" // the parameter was the whole query: the usual case
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	first := true
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		name, _, _ := strings.Cut(pair, "=")
		if !nameIs(name, param) {
			if !first {
				b.WriteByte('&')
			}
			b.WriteString(pair)
			first = false
		}
		if !more {
			break
		}
		q = rest
	}
	return b.String()
}

// findParam returns the value of the first pair of rawQuery named param
// (see nameIs) and how many there are, counting at most two; others
// reports whether rawQuery has a non-empty pair with another name (when it
// has none, its canonical form without param is empty).
func findParam(rawQuery, param string) (value string, n int, others bool) {
	for q := rawQuery; ; {
		pair, rest, more := strings.Cut(q, "&")
		name, val, _ := strings.Cut(pair, "=")
		switch {
		case nameIs(name, param):
			if n == 0 {
				value = val
			}
			if n++; n == 2 {
				return value, n, others
			}
		case pair != "":
			others = true
		}
		if !more {
			return value, n, others
		}
		q = rest
	}
}

// nameIs reports whether the raw query name decodes to param without a
// literal '+' or ';'; for a valid param (unreserved characters only) that
// is exactly "the canonical form of name is param". It does not allocate.
func nameIs(name, param string) bool {
	j := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '%':
			if i+2 >= len(name) {
				return false
			}
			hi, ok1 := unhex(name[i+1])
			lo, ok2 := unhex(name[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		case '+', ';':
			return false
		}
		if j >= len(param) || param[j] != c {
			return false
		}
		j++
	}
	return j == len(param)
}

const upperHex = "0123456789ABCDEF"

func appendEscaped(buf []byte, c byte) []byte {
	if isUnreserved(c) {
		return append(buf, c)
	}
	return append(buf, '%', upperHex[c>>4], upperHex[c&15])
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isUnreserved(c byte) bool {
	return isBase64URL(c) || c == '.' || c == '~'
}

// ValidParam reports whether param can be the signature parameter: 1–64
// unreserved URL characters (A-Z a-z 0-9 - . _ ~).
func ValidParam(param string) bool { return nameOf(param, maxParamLen, isUnreserved) }

// QueryToken returns the value of the signature parameter param in
// rawQuery when it occurs exactly once, else "".
func QueryToken(rawQuery, param string) string {
	tok, n, _ := findParam(rawQuery, param)
	if n != 1 {
		return ""
	}
	return tok
}
