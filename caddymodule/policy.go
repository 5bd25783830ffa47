package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
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

// servePolicy serves a link with policies: the client must be in its
// client_cidr; max_uses links count the use in the store first (fail
// closed); download_name, inline and content_type set the headers of a
// successful answer.
func (h *Handler) servePolicy(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler, u linkUse) error {
	p := &u.c.Policy
	if p.ClientCIDR.IsValid() {
		ip, err := netip.ParseAddr(clientIP(r))
		if err != nil || !p.ClientCIDR.Contains(ip.Unmap().WithZone("")) {
			return h.deny(w, r, dc, http.StatusForbidden, "client_not_allowed", "this link works only from another network address", "client_cidr")
		}
	}
	pw := &policyWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	if p.DownloadName != "" || p.Inline {
		pw.disposition = contentDisposition(p.DownloadName, p.Inline)
	}
	pw.contentType = p.ContentType
	if p.MaxUses > 0 {
		return h.serveCounted(pw, r, dc, next, u)
	}
	return h.serveClean(pw, r, dc, next, u)
}

// maxUsesGrace is how long after a counted download the client that made
// it may go on with Range requests that do not start at byte 0 (resuming
// it) without using the link again.
const maxUsesGrace = time.Hour

// serveCounted serves a max_uses link. A GET without Range, or with a
// Range from byte 0, starts a download: it takes one use in the store
// (atomically, across every instance) before the origin is asked, and
// gives it back if the origin's answer is not 200 or 206. A GET with any
// other Range continues a download: it needs a counted use by the same
// client within maxUsesGrace. HEAD never counts; it works while uses are
// left. The store is asked on every request: when it cannot answer the
// request fails (503), never passes.
func (h *Handler) serveCounted(pw *policyWriter, r *http.Request, dc decision, next caddyhttp.Handler, u linkUse) error {
	c, now, cache := u.c, u.now, u.st.backend.cache
	ctx, cancel := storeContext(r)
	defer cancel()
	id, max, client := c.ID.String(), int64(c.Policy.MaxUses), clientIP(r)
	if r.Method == http.MethodHead {
		l, err := cache.GetLink(ctx, id, now)
		switch {
		case errors.Is(err, keystore.ErrNotFound) && c.KeySigned():
			return h.serveClean(pw, r, dc, next, u) // signed offline, not used yet
		case errors.Is(err, keystore.ErrNotFound):
			return h.fail(pw, r, dc, errUncounted)
		case err != nil:
			return h.fail(pw, r, dc, storeUnavailable())
		case l.Uses >= max:
			return h.fail(pw, r, dc, usedUp(max))
		}
		return h.serveClean(pw, r, dc, next, u)
	}
	resume := resumesDownload(r.Header["Range"])
	ok, uses, err := cache.UseLink(ctx, id, max, client, resume, maxUsesGrace, now)
	if errors.Is(err, keystore.ErrNotFound) && c.KeySigned() && !resume {
		// A link its key signed offline is recorded at its first use, by
		// whichever instance sees it first; then counted like any other.
		// Each record draws on the key's rate limit, as signing it through
		// the endpoint would, so a key cannot fill the ledger faster.
		if allowed, wait := h.keyLimits.allow(c.KeyID, now); !allowed {
			return h.fail(pw, r, dc, h.rateLimited(wait, "key"))
		}
		if err = cache.CreateLink(ctx, offlineRecord(cache, c, r.URL.Path)); err == nil || errors.Is(err, keystore.ErrExists) {
			ok, uses, err = cache.UseLink(ctx, id, max, client, resume, maxUsesGrace, now)
		}
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return h.fail(pw, r, dc, errUncounted)
	case err != nil:
		h.logger.Warn("counting a use of a max_uses link failed", zap.String("url_id", id), zap.Error(err))
		return h.fail(pw, r, dc, storeUnavailable())
	case !ok && resume && uses < max:
		return h.fail(pw, r, dc, &apiError{status: http.StatusForbidden, code: "max_uses_reached", reason: "max_uses",
			msg: "no download of this link to resume from this address (within 1h of it): start from byte 0"})
	case !ok && resume:
		return h.fail(pw, r, dc, &apiError{status: http.StatusForbidden, code: "max_uses_reached", reason: "max_uses",
			msg: "this link's downloads are used up; a download can be resumed only by the client that started it, within 1h"})
	case !ok:
		return h.fail(pw, r, dc, usedUp(max))
	}
	err = h.serveClean(pw, r, dc, next, u)
	if !resume && pw.status != http.StatusOK && pw.status != http.StatusPartialContent {
		// Not a download after all (404, 304, an error): give the use back.
		rctx, rcancel := context.WithTimeout(context.Background(), storeTimeout)
		if rerr := cache.ReleaseUse(rctx, id, client); rerr != nil {
			h.logger.Warn("giving back a use of a max_uses link failed", zap.String("url_id", id), zap.Error(rerr))
		}
		rcancel()
	}
	return err
}

// offlineRecord is the ledger record of a link its key signed offline
// (claims c, verified for path), made when it is first used: no expiry of
// it has moved, so c.ExpiresAt is the one signed.
func offlineRecord(cache *keystore.Cache, c *verifier.Claims, path string) *keystore.Link {
	grant, user := path, ""
	if c.Prefix != "" {
		grant = c.Prefix
	}
	if e := cache.ByID(c.KeyID); e != nil {
		user = e.Key.User
	}
	return ledgerRecord(c, grant, user)
}

var errUncounted = &apiError{status: http.StatusForbidden, code: "max_uses_reached", reason: "max_uses",
	msg: "this link's uses cannot be counted (it is not in the ledger)"}

func usedUp(max int64) *apiError {
	msg := "this link's " + strconv.FormatInt(max, 10) + " downloads are used up"
	if max == 1 {
		msg = "this link's one download is used up"
	}
	return &apiError{status: http.StatusForbidden, code: "max_uses_reached", reason: "max_uses", msg: msg}
}

// resumesDownload reports whether a Range header continues a download
// rather than starting one: exactly one byte range, not starting at byte
// 0. Several ranges count as a download (the origin may answer them with
// the whole file).
func resumesDownload(v []string) bool {
	if len(v) != 1 {
		return false
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(v[0]), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return false // not one byte range: the origin may send it all
	}
	return !strings.HasPrefix(strings.TrimSpace(spec), "0-")
}
