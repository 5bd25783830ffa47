package caddymodule

import (
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Response policies of a link (download_name, inline, content_type): the
// headers a link asks for replace the origin's on its successful answers.

// contentDisposition is the Content-Disposition for a download named name
// (attachment, or inline), per RFC 6266: filename= an ASCII fallback in a
// quoted string, and, when the name is not plain ASCII, filename*= the
// exact name in RFC 8187 encoding (UTF-8, percent-encoded). The name has
// passed verifier.CheckDownloadName (no control characters).
func contentDisposition(name string, inline bool) string {
	var b strings.Builder
	if inline {
		b.WriteString("inline")
	} else {
		b.WriteString("attachment")
	}
	if name == "" {
		return b.String()
	}
	b.WriteString(`; filename="`)
	exact := true
	for _, r := range name {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '%':
			// Some clients decode %XX in filename=; filename* is exact.
			b.WriteByte('_')
			exact = false
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
			exact = false
		}
	}
	b.WriteByte('"')
	if !exact {
		b.WriteString("; filename*=UTF-8''")
		for i := 0; i < len(name); i++ {
			c := name[i]
			if isAttrChar(c) {
				b.WriteByte(c)
			} else {
				const hex = "0123456789ABCDEF"
				b.WriteByte('%')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
		}
	}
	return b.String()
}

// isAttrChar reports whether c is an attr-char of RFC 8187 (written as is
// in an ext-value).
func isAttrChar(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// policyWriter sets a link's response headers when the origin answers 200
// or 206, over whatever the origin (file_server, reverse_proxy) set, and
// remembers the status (for max_uses).
type policyWriter struct {
	caddyhttp.ResponseWriterWrapper
	disposition string // "" = leave the origin's
	contentType string // "" = leave the origin's
	status      int
}

func (w *policyWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
		if status == http.StatusOK || status == http.StatusPartialContent {
			h := w.Header()
			if w.disposition != "" {
				h.Set("Content-Disposition", w.disposition)
			}
			if w.contentType != "" {
				h.Set("Content-Type", w.contentType)
				h.Set("X-Content-Type-Options", "nosniff")
			}
		}
	}
	w.ResponseWriterWrapper.WriteHeader(status)
}

func (w *policyWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriterWrapper.Write(b)
}

func (w *policyWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriterWrapper.ReadFrom(r)
}
