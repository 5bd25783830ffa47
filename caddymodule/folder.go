package caddymodule

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-signet/signet/verifier"
)

// Folder links on the request path. A folder link's token can come three
// ways (docs/signed-urls.md, "Folder links"):
//
//   - in the query, like any link (serveSigned); a folder token there also
//     sets a cookie scoped to the folder;
//   - in the path: {api}/t/{token}/folder/file, handed on as /folder/file;
//   - in that cookie, for requests under the folder with no other
//     credential, so relative links work in browsers and players.
//
// The path form and the cookie never reach the next handler.

// linkForm is how a request presented a link's token.
type linkForm uint8

const (
	formQuery linkForm = iota
	formPath
	formCookie
)

// folderCookiePrefix starts the name of every folder cookie: the name is
// the prefix and 12 characters derived from the folder, so links to
// different folders have different cookies and a new link to a folder
// replaces the old one's.
const folderCookiePrefix = "signet_"

// maxFolderCookies is how many folder cookies one request may have tried.
const maxFolderCookies = 8

// servePathForm serves a request under {api}/t/: the token from the path,
// then the rest of the path for the next handler.
func (h *Handler) servePathForm(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler, now time.Time) error {
	dc.cred = credSignedURL
	tok, rest, restRaw, err := h.pathForm.Cut(r.URL.Path, r.URL.RawPath)
	if err != nil {
		// Never log what might be a token.
		r.URL.Path, r.URL.RawPath = h.API+"/t/…", ""
		return h.deny(w, r, dc, http.StatusBadRequest, "malformed_signature",
			"malformed path_url: want "+h.API+"/t/{token}/{path}", "malformed")
	}
	r.URL.Path, r.URL.RawPath = rest, restRaw
	r.RequestURI = r.URL.RequestURI()
	if verifier.CheckPath(rest, restRaw) != nil {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "ambiguous request path", "ambiguous_path")
	}
	if len(r.Header["Authorization"]) > 1 {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "more than one Authorization header", "malformed")
	}
	st, err := h.app.state()
	if err != nil || h.app.Stale(st, now) {
		return h.fail(w, r, dc, storeUnavailable())
	}
	if r.URL.RawQuery != "" && verifier.StripParam(r.URL.RawQuery, h.param) != r.URL.RawQuery {
		return h.deny(w, r, dc, http.StatusForbidden, "malformed_signature",
			"a path_url must not also carry the signature parameter", "malformed")
	}
	c, err := st.verifier.VerifyToken(tok, verifier.Target{
		Host: r.Host, Method: r.Method, Path: rest, RawPath: restRaw, RawQuery: r.URL.RawQuery,
	}, now)
	if errors.Is(err, verifier.ErrMalformedToken) {
		return h.deny(w, r, dc, http.StatusForbidden, "malformed_signature", "the path_url's token is malformed", "malformed_signature")
	}
	return h.serveSigned(w, r, dc, st, next, c, err, now, formPath)
}

// serveCookie serves r with a folder cookie, if it has one: the first that
// verifies and is in force wins. It reports false when r has none (the
// caller goes on); otherwise it has answered r, with the first cookie's
// refusal when none is good.
func (h *Handler) serveCookie(w http.ResponseWriter, r *http.Request, dc decision, st *running, next caddyhttp.Handler, now time.Time) (bool, error) {
	tried := 0
	var firstErr error
	for _, line := range r.Header["Cookie"] {
		for line != "" && tried < maxFolderCookies {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			name, val, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if !strings.HasPrefix(name, folderCookiePrefix) {
				continue
			}
			tried++
			val = strings.TrimSuffix(strings.TrimPrefix(val, `"`), `"`)
			c, err := st.verifier.VerifyToken(val, verifier.Target{
				Host: r.Host, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
			}, now)
			var d *derived
			if err == nil {
				d, err = h.linkValid(st, &c, r.URL.Path, now)
			}
			if err == nil {
				dc.cred = credSignedURL
				return true, h.serveLink(w, r, dc, next, linkUse{st: st, c: &c, d: d, form: formCookie, now: now})
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if tried == 0 {
		return false, nil
	}
	dc.cred = credSignedURL
	if errors.Is(firstErr, verifier.ErrMalformedToken) {
		return true, h.deny(w, r, dc, http.StatusForbidden, "malformed_signature", "the folder cookie holds a malformed token", "malformed_signature")
	}
	return true, h.fail(w, r, dc, linkError(firstErr))
}

// setFolderCookie gives the client a cookie holding the folder token of c,
// scoped to the folder as the client spells its path, and expiring with
// the link.
func (h *Handler) setFolderCookie(w http.ResponseWriter, r *http.Request, c *verifier.Claims, tok string, now time.Time) {
	maxAge := c.ExpiresAt - now.Unix()
	if maxAge <= 0 || tok == "" {
		return
	}
	// The folder's path as the client wrote it: as many segments of the
	// escaped request path as the prefix has (a prefix covers the path at
	// segment boundaries, and no segment holds an encoded "/").
	segs := strings.Count(strings.TrimSuffix(c.Prefix, "/"), "/")
	esc := r.URL.EscapedPath()
	cut := len(esc)
	for i, n := 0, 0; i < len(esc); i++ {
		if esc[i] == '/' {
			if n == segs {
				cut = i
				break
			}
			n++
		}
	}
	// One buffer, one string: name=token; Path=…; Max-Age=…; flags.
	var buf [1024]byte
	b := append(buf[:0], folderCookiePrefix...)
	b = appendFolderHash(b, c.Prefix)
	b = append(b, '=')
	b = append(b, tok...)
	b = append(b, "; Path="...)
	b = append(b, esc[:cut]...)
	b = append(b, "/; Max-Age="...)
	b = strconv.AppendInt(b, maxAge, 10)
	b = append(b, "; HttpOnly; SameSite=Lax"...)
	if r.TLS != nil || h.publicBase != nil && h.publicBase.Scheme == "https" {
		b = append(b, "; Secure"...)
	}
	hd := w.Header()
	hd["Set-Cookie"] = append(hd["Set-Cookie"], string(b))
}

// folderCookieName is the cookie name for the folder prefix.
func folderCookieName(prefix string) string {
	return string(appendFolderHash([]byte(folderCookiePrefix), prefix))
}

// appendFolderHash appends the 12 characters that make a folder's cookie
// name its own: base64url of the first 9 bytes of SHA-256(prefix).
func appendFolderHash(b []byte, prefix string) []byte {
	sum := sha256.Sum256([]byte(prefix))
	return base64.RawURLEncoding.AppendEncode(b, sum[:9])
}

// stripFolderCookies removes every folder cookie from the Cookie header
// lines v, keeping the other cookies as sent. It returns nil when none is
// left.
func stripFolderCookies(v []string) []string {
	out := v[:0]
	for _, line := range v {
		if !strings.Contains(line, folderCookiePrefix) {
			out = append(out, line)
			continue
		}
		// Usually one run of other cookies is left: keep it as a substring.
		var first string
		var b strings.Builder
		n := 0
		for rest := line; rest != ""; {
			var pair string
			pair, rest, _ = strings.Cut(rest, ";")
			if pair = strings.TrimSpace(pair); pair == "" || strings.HasPrefix(pair, folderCookiePrefix) {
				continue
			}
			switch n++; n {
			case 1:
				first = pair
			case 2:
				b.Grow(len(line))
				b.WriteString(first)
				fallthrough
			default:
				b.WriteString("; ")
				b.WriteString(pair)
			}
		}
		switch {
		case n == 1:
			out = append(out, first)
		case n > 1:
			out = append(out, b.String())
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
