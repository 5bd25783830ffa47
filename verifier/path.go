package verifier

import (
	"strings"
	"unicode/utf8"
)

// CheckPath refuses request paths that could be read in more than one way.
// path is the decoded path (r.URL.Path) and rawPath the escaped form when
// it differs from the default encoding (r.URL.RawPath, may be empty).
//
// A path is accepted only if it starts with "/", is valid UTF-8, contains no
// control character (C0 including NUL, DEL, or C1) and no backslash, has
// no empty segment ("//") and no "." or ".." segment, and its escaped form has no encoded
// slash (%2F) or backslash (%5C). Nothing is normalised: a clean path is
// used exactly as given. The check does not allocate.
func CheckPath(path, rawPath string) error {
	if len(path) == 0 || path[0] != '/' {
		return ErrAmbiguousPath
	}
	segStart := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) {
			c := path[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return ErrAmbiguousPath
			}
			if c != '/' {
				continue
			}
		}
		seg := path[segStart:i]
		switch seg {
		case ".", "..":
			return ErrAmbiguousPath
		case "":
			// An empty segment is "//", except the final one after a
			// trailing slash (or the root "/" itself).
			if i < len(path) {
				return ErrAmbiguousPath
			}
		}
		segStart = i + 1
	}
	if !validUTF8NoC1(path) {
		return ErrAmbiguousPath
	}
	if rawPath != "" && containsEncodedSeparator(rawPath) {
		return ErrAmbiguousPath
	}
	return nil
}

// validUTF8NoC1 reports whether s is valid UTF-8 without C1 control
// characters (U+0080–U+009F); C0 controls and DEL are refused by the caller.
func validUTF8NoC1(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r >= 0x80 && r <= 0x9f {
			return false
		}
		i += n
	}
	return true
}

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
