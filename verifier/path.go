package verifier

import (
	"strings"
	"unicode/utf8"
)

// CheckPath refuses request paths that could be read in more than one way,
// by Signet or by any origin it guards (file_server; Tomcat, Jetty, Spring,
// IIS, nginx, S3 or a Windows share behind reverse_proxy). path is the
// decoded path (r.URL.Path) and rawPath the escaped form when it differs
// from the default encoding (r.URL.RawPath, may be empty). Because Go has
// already decoded path, every rule below holds in any encoding: "%2e%2e;"
// arrives as "..;".
//
// A segment is the text between two slashes; its core is the segment up to
// its first ";" (Tomcat, Jetty and Spring drop ";" path parameters from each
// segment: "/a;x/f" is served as "/a/f"). A path is accepted only if all of
// these hold:
//
//   - it starts with "/" and is valid UTF-8;
//   - it has no control character (C0 including NUL, DEL, C1 U+0080–U+009F)
//     and no backslash;
//   - no segment is empty ("//"), except the final one after a trailing
//     slash (and the root "/" itself); no core is empty ("/;x/" is "//" to
//     Tomcat);
//   - no segment and no core ends in "." or " ": this refuses ".", "..",
//     "..;x", ".;", "..." and every other dots-and-spaces segment, and
//     "secret.txt." or "secret.txt " (Win32 strips trailing dots and spaces,
//     so they name "secret.txt" or a dot segment on a Windows share);
//   - no segment and no core ends in a character that Windows best-fit
//     conversion turns into a space, U+2000–U+2006 or U+3000: to an ANSI
//     Windows program, ".." and U+3000 is a dot-dot-space segment, so "..";
//   - it has none of the characters that best-fit or compatibility mappings
//     turn into ".", "/" or "\": U+FF0E, U+FE52, U+2024, U+2025 (dots),
//     U+FF0F, U+2215, U+2044, U+29F8 (slashes), U+FF3C, U+FE68, U+2216
//     (backslashes);
//   - it has no "%" followed by two hex digits and no "%u" or "%U" followed
//     by four hex digits: an origin that decodes again (or IIS %u) would
//     read something else ("%2e%2e" is ".."); a "%" not starting such an
//     escape ("/100%.txt") is allowed;
//   - rawPath has no encoded slash (%2F) or backslash (%5C), which Go
//     decodes into path as "/" and "\".
//
// Other ";" parameters, letter case and Unicode normalisation are left as
// they are: scopes and public prefixes match exact bytes at segment
// boundaries, so an origin that strips parameters, folds case or normalises
// Unicode serves a path inside the matched prefix, and Signet is the
// stricter of the two (see docs/security.md for the caveats: prefix
// revocations match exact bytes too, and a scope that itself holds ";" is
// read without its parameters by such an origin).
//
// Nothing is normalised: a clean path is used exactly as given. The check
// is one pass over path and does not allocate.
func CheckPath(path, rawPath string) error {
	if len(path) == 0 || path[0] != '/' {
		return ErrAmbiguousPath
	}
	seg, semi := 1, -1 // start of the current segment; its first ';' or -1
	for i := 1; i < len(path); i++ {
		switch pathByteClass[path[i]] {
		case classPlain:
		case classRefused:
			return ErrAmbiguousPath
		case classSlash:
			if !segmentOK(path, seg, semi, i) {
				return ErrAmbiguousPath
			}
			seg, semi = i+1, -1
		case classSemicolon:
			if semi < 0 {
				semi = i
			}
		case classPercent:
			if isEscape(path[i+1:]) {
				return ErrAmbiguousPath
			}
		case classMultiByte:
			r, n := utf8.DecodeRuneInString(path[i:])
			if r == utf8.RuneError && n == 1 || r <= 0x9f || bestFitSeparator(r) {
				return ErrAmbiguousPath
			}
			if bestFitSpace(r) {
				// Refused where it ends a segment or a core.
				if j := i + n; j == len(path) || path[j] == '/' || path[j] == ';' && semi < 0 {
					return ErrAmbiguousPath
				}
			}
			i += n - 1
		}
	}
	if seg < len(path) && !segmentOK(path, seg, semi, len(path)) {
		return ErrAmbiguousPath
	}
	if rawPath != "" && containsEncodedSeparator(rawPath) {
		return ErrAmbiguousPath
	}
	return nil
}

// Byte classes for CheckPath's single pass.
const (
	classPlain     = iota // nothing to check here
	classRefused          // C0 control, DEL, backslash
	classSlash            // ends a segment
	classSemicolon        // may start the segment's path parameters
	classPercent          // may start an escape a second decoding would read
	classMultiByte        // starts a UTF-8 sequence, or is not valid UTF-8
)

var pathByteClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20, c == 0x7f, c == '\\':
			t[c] = classRefused
		case c == '/':
			t[c] = classSlash
		case c == ';':
			t[c] = classSemicolon
		case c == '%':
			t[c] = classPercent
		case c >= utf8.RuneSelf:
			t[c] = classMultiByte
		}
	}
	return t
}()

// segmentOK reports whether the non-final or non-empty segment
// path[start:end], whose first ';' is at semi (-1 if none), is acceptable:
// neither it nor its core is empty or ends in a dot or a space.
func segmentOK(path string, start, semi, end int) bool {
	if start == end || trailingDotOrSpace(path[end-1]) {
		return false
	}
	return semi < 0 || semi > start && !trailingDotOrSpace(path[semi-1])
}

func trailingDotOrSpace(c byte) bool { return c == '.' || c == ' ' }

// isEscape reports whether s starts with what a second percent-decoding
// would decode: two hex digits, or "u"/"U" and four hex digits (IIS).
func isEscape(s string) bool {
	if len(s) >= 2 && isHex(s[0]) && isHex(s[1]) {
		return true
	}
	return len(s) >= 5 && s[0]|0x20 == 'u' && isHex(s[1]) && isHex(s[2]) && isHex(s[3]) && isHex(s[4])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

// bestFitSeparator reports whether r becomes ".", "/" or "\" under Windows
// best-fit conversion to an ANSI code page (the 2024 "WorstFit" research:
// U+FF0E, U+FF0F, U+FF3C in almost every code page; U+2044, U+2215, U+2216
// in 1250, 1252 and 1254) or under Unicode compatibility (NFKC) mappings
// that some origins apply (U+FE52, U+2024, U+2025, U+FE68; U+29F8 is
// refused with the other slashes).
func bestFitSeparator(r rune) bool {
	switch r {
	case '\uFF0E', '\uFE52', '\u2024', '\u2025', // dots
		'\uFF0F', '\u2215', '\u2044', '\u29F8', // slashes
		'\uFF3C', '\uFE68', '\u2216': // backslashes
		return true
	}
	return false
}

// bestFitSpace reports whether Windows best-fit conversion (code pages
// 1250, 1252, 1254) turns r into a space, which Win32 then strips from the
// end of a name.
func bestFitSpace(r rune) bool { return r >= '\u2000' && r <= '\u2006' || r == '\u3000' }

func containsEncodedSeparator(raw string) bool {
	for i := strings.IndexByte(raw, '%'); i >= 0 && i+2 < len(raw); {
		a, b := raw[i+1], raw[i+2]|0x20 // lower-case the hex letter
		if (a == '2' && b == 'f') || (a == '5' && b == 'c') {
			return true
		}
		j := strings.IndexByte(raw[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}
