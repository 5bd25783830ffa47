package verifier

import (
	"net/url"
	"strings"
)

// A folder link's path form carries its token in the path, under the API
// prefix, so that relative URLs resolve with the token in them:
//
//	path-url = api "/t/" token folder-path
//
// e.g. /_signet/v1/t/AQcy…/movie/index.m3u8, whose relative reference
// seg1.ts resolves to /_signet/v1/t/AQcy…/movie/seg1.ts. The token is taken
// literally (its 64 characters need no escaping and must not be escaped);
// what follows it, from its "/", is the path the token is checked for
// and the one the next handler is given.

// PathForm finds folder tokens carried in request paths under one API
// prefix. The zero value finds none. It is immutable.
type PathForm struct {
	dec, esc string // api + "/t/", decoded and as escaped on the wire
}

// NewPathForm returns the PathForm of the API prefix api (a clean absolute
// path without a trailing "/", e.g. /_signet/v1).
func NewPathForm(api string) PathForm {
	dec := strings.TrimSuffix(api, "/") + "/t/"
	return PathForm{dec: dec, esc: (&url.URL{Path: dec}).EscapedPath()}
}

// Is reports whether path (decoded) is in the path form's namespace.
func (f PathForm) Is(path string) bool {
	return f.dec != "" && strings.HasPrefix(path, f.dec)
}

// Cut splits a request path in the path form into the token and the rest:
// the decoded path from the "/" after the token on, and the matching part
// of rawPath ("" when rawPath is ""). path and rawPath are r.URL.Path and
// r.URL.RawPath. It returns ErrNoToken when path is not in the namespace
// (see Is), and ErrMalformedToken when it is but holds no token followed
// by a path: an empty or over-long token, nothing after it, or a token
// that rawPath spells with escapes. The token's characters are not checked
// here: VerifyToken refuses any that is not base64url as malformed.
func (f PathForm) Cut(path, rawPath string) (tok, rest, restRaw string, err error) {
	if !f.Is(path) {
		return "", "", "", ErrNoToken
	}
	after := path[len(f.dec):]
	// The token is the segment up to the next "/"; its characters are
	// checked where it is decoded (Verifier.VerifyToken), not twice.
	end := strings.IndexByte(after, '/')
	if end <= 0 || end > MaxTokenLen {
		return "", "", "", ErrMalformedToken
	}
	tok, rest = after[:end], after[end:]
	if rawPath != "" {
		// RawPath decodes to Path; its start must be the namespace and the
		// token exactly, so the rest of each is the same path.
		r, ok := strings.CutPrefix(rawPath, f.esc)
		if !ok || !strings.HasPrefix(r, tok) || len(r) == len(tok) || r[len(tok)] != '/' {
			return "", "", "", ErrMalformedToken
		}
		restRaw = r[len(tok):]
	}
	return tok, rest, restRaw, nil
}

// URLPath returns the escaped path of the path form for token tok and the
// folder prefix (decoded, e.g. /movie/).
func (f PathForm) URLPath(tok, prefix string) string {
	return f.esc + tok + (&url.URL{Path: prefix}).EscapedPath()
}

// StripURL removes the path form's namespace and token from the URL s (a
// Referer, say): http://h/_signet/v1/t/TOKEN/movie/a.ts becomes
// http://h/movie/a.ts. A URL without them is returned as it is.
func (f PathForm) StripURL(s string) string {
	i := strings.Index(s, f.esc)
	if f.esc == "" || i < 0 {
		return s
	}
	rest := s[i+len(f.esc):]
	j := strings.IndexAny(rest, "/?#")
	if j < 0 {
		return s[:i] + "/"
	}
	if rest[j] != '/' {
		return s[:i] + "/" + rest[j:]
	}
	return s[:i] + rest[j:]
}
