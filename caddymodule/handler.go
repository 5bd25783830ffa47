package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler guards the routes after it with API keys and signed URLs.
//
// A GET or HEAD request reaches the next handler with a valid signed URL
// (the signature query parameter), or with `Authorization: Bearer <key>` for
// a key that exists, has not expired, is enabled and has a scope covering
// the path. Other methods are refused (405): Signet guards reading files.
//
// A folder link's token also works in the path, `{api}/t/{token}/folder/…`
// (handed on as `/folder/…`), and in the `signet_…` cookie that the query
// form sets, scoped to the folder (folder.go).
//
// Only a clean read reaches the next handler: the Authorization header,
// the signature parameter (also inside a Referer), protocol upgrades
// (Upgrade, Connection and the hop-by-hop headers it names, HTTP2-Settings,
// TE), request trailers, any request body and method-override headers are
// removed first, on public paths too, and so are folder cookies and a
// path form's token.
//
// Under its API prefix (default `/_signet/v1`) it serves the public API:
// the signing endpoint `POST {api}/files/{path}/signed-url` and
// `POST {api}/revocations`.
//
// Requests with an ambiguous path (see verifier.CheckPath: dot segments,
// also with `;` parameters, `//`, encoded slashes, backslashes, control
// characters, invalid UTF-8, double encoding, Windows trailing dots and
// best-fit characters) are refused with 400.
//
// On success it sets these placeholders: `{http.auth.user.id}` and
// `{http.signet.key_id}` (the key id; for a signed URL, the issuing key's
// id, empty when an operator signed it), `{http.signet.key_name}`,
// `{http.signet.user}` (the key's user label, empty for site-wide keys),
// `{http.signet.credential}` (`bearer` or `signed_url`) and, for signed
// URLs, `{http.signet.url_id}`.
type Handler struct {
	// PublicPaths are path prefixes, matched at segment boundaries like key
	// scopes, that are served without credentials (e.g. `/public/` or
	// `/robots.txt`). Ambiguous paths are still refused and the request
	// is still cleaned.
	PublicPaths []string `json:"public_paths,omitempty"`

	// Realm is the realm named in `WWW-Authenticate` challenges.
	// Default: `signet`.
	Realm string `json:"realm,omitempty"`

	// API is the path prefix of Signet's public API (the signing endpoint
	// is `POST {api}/files/{path}/signed-url`). Default: `/_signet/v1`.
	API string `json:"api,omitempty"`

	// PublicBaseURL is the scheme and host of the URLs the signing
	// endpoint returns, e.g. `https://files.example.com` when Caddy is
	// behind a proxy. The host must be the Host the files are requested
	// with. Default: the signing request's own scheme and host.
	PublicBaseURL string `json:"public_base_url,omitempty"`

	// RateLimitKey limits the public API per API key.
	// Default: 100 events per 1s. `"events": -1` disables it.
	RateLimitKey *Rate `json:"rate_limit_key,omitempty"`

	// RateLimitClient limits the public API per client IP (as Caddy
	// sees it, honouring trusted_proxies), before authentication.
	// Default: 200 events per 1s. `"events": -1` disables it.
	RateLimitClient *Rate `json:"rate_limit_client,omitempty"`

	app          *App
	logger       *zap.Logger
	challenge    string // WWW-Authenticate for a missing credential
	invalid      string // WWW-Authenticate for a bad credential
	publicBase   *url.URL
	keyLimits    *limiters
	clientLimits *limiters
	param        string // the signature parameter's name
	paramEq      string // param + "="
	pathForm     verifier.PathForm
	metrics      bool
	denyLevel    zapcore.Level
	logDenials   bool
}

// Defaults of the public API.
const (
	defaultAPIPrefix  = "/_signet/v1"
	defaultKeyRate    = 100 // requests per second per API key
	defaultClientRate = 200 // requests per second per client IP
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.signet",
		New: func() caddy.Module { return new(Handler) },
	}
}

// check validates the configuration as given; Provision and the Caddyfile
// parser call it.
func (h *Handler) check() error {
	for _, p := range h.PublicPaths {
		if verifier.CheckScope(p) != nil || strings.Contains(p, ";") {
			return fmt.Errorf("public: bad path prefix %q: must be a clean absolute path like /public/ (no ';')", p)
		}
	}
	if h.API != "" && (verifier.CheckScope(h.API) != nil || h.API == "/") {
		return fmt.Errorf("api: %q is not a clean absolute path prefix such as /_signet/v1", h.API)
	}
	if h.PublicBaseURL != "" {
		if _, err := parseBaseURL(h.PublicBaseURL); err != nil {
			return fmt.Errorf("public_base_url: %v", err)
		}
	}
	for name, r := range map[string]*Rate{"rate_limit_key": h.RateLimitKey, "rate_limit_client": h.RateLimitClient} {
		if r != nil && r.Events > 0 && r.Window < 0 {
			return fmt.Errorf("%s: negative window", name)
		}
	}
	if strings.ContainsAny(h.Realm, "\"\\\r\n") {
		return fmt.Errorf("realm: must not contain quotes, backslashes or line breaks")
	}
	return nil
}

// Provision checks the configuration and connects the handler to the
// signet app.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	appIface, err := ctx.App("signet")
	if err != nil {
		return fmt.Errorf("loading signet app: %v", err)
	}
	return h.provision(ctx.Logger(), appIface.(*App))
}

// provision finishes Provision once the app is known (tests call it with
// an app of their own).
func (h *Handler) provision(logger *zap.Logger, app *App) error {
	h.logger, h.app = logger, app
	if h.Realm == "" {
		h.Realm = "signet"
	}
	h.challenge = fmt.Sprintf("Bearer realm=%q", h.Realm)
	h.invalid = fmt.Sprintf("Bearer realm=%q, error=\"invalid_token\"", h.Realm)
	if h.API == "" {
		h.API = defaultAPIPrefix
	}
	h.API = strings.TrimSuffix(h.API, "/")
	h.pathForm = verifier.NewPathForm(h.API)
	if h.PublicBaseURL != "" {
		h.publicBase, _ = parseBaseURL(h.PublicBaseURL)
	}
	var err error
	if h.keyLimits, err = loadLimiters("key", rateOrDefault(h.RateLimitKey, defaultKeyRate)); err != nil {
		return err
	}
	if h.clientLimits, err = loadLimiters("client", rateOrDefault(h.RateLimitClient, defaultClientRate)); err != nil {
		return err
	}
	app.noteAPI(h.API)
	h.param = app.paramName()
	h.paramEq = h.param + "="
	h.metrics = !app.DisableMetrics
	h.denyLevel, h.logDenials, _ = denyLevel(app.DenyLogLevel)
	return nil
}

// Cleanup releases the rate limiters (they outlive a reload while a newer
// config uses the same limits).
func (h *Handler) Cleanup() error {
	releaseLimiters(h.keyLimits)
	releaseLimiters(h.clientLimits)
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error { return h.check() }

// ServeHTTP implements caddyhttp.MiddlewareHandler. The first matching
// step decides; docs/reference.md's decision table lists them in order.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := time.Now()
	dc := h.newDecision(r, now)
	if h.pathForm.Is(r.URL.Path) {
		// Rows 1 and 2 are checked there, on the path after the token
		// (the namespace is clean, and Cut takes only a base64url token).
		return h.servePathForm(w, r, dc, next, now)
	}
	if verifier.CheckPath(r.URL.Path, r.URL.RawPath) != nil {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "ambiguous request path", "ambiguous_path")
	}
	if len(r.Header["Authorization"]) > 1 {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "more than one Authorization header", "malformed")
	}
	if r.URL.Path == h.API || strings.HasPrefix(r.URL.Path, h.API) && r.URL.Path[len(h.API)] == '/' {
		return h.serveAPI(w, r, dc, next)
	}
	isRead := r.Method == http.MethodGet || r.Method == http.MethodHead
	if verifier.AnyScopeCovers(h.PublicPaths, r.URL.Path) {
		if !isRead {
			return h.fail(w, r, dc, errReadOnly)
		}
		h.cleanRead(r)
		h.countAllowed(dc, allowedPublic)
		return next.ServeHTTP(w, r)
	}
	st, err := h.app.state()
	if err != nil || h.app.Stale(st, now) {
		return h.fail(w, r, dc, storeUnavailable())
	}
	if r.URL.RawQuery != "" {
		claims, err := st.verifier.Verify(verifier.Target{
			Host: r.Host, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		}, now)
		if err != verifier.ErrNoToken {
			return h.serveSigned(w, r, dc, st, next, claims, err, now, formQuery)
		}
	}
	if len(r.Header["Authorization"]) == 0 && len(r.Header["Cookie"]) > 0 {
		if served, err := h.serveCookie(w, r, dc, st, next, now); served {
			return err
		}
	}
	e, ae := h.authenticate(st, r, now)
	if ae != nil {
		return h.fail(w, r, dc, ae)
	}
	if !isRead {
		// Signet guards reading files; no key lets other methods through.
		return h.fail(w, r, dc, errReadOnly)
	}
	d := derivedOf(e)
	if !d.access.Covers(r.URL.Path) {
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "API key scope does not cover this path", "scope")
	}
	e.MarkUsed(now)
	h.cleanRead(r)
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		repl.Map(d.bearer)
	}
	h.countAllowed(dc, allowedOK)
	return next.ServeHTTP(w, r)
}

var errReadOnly = &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
	msg: "only GET and HEAD are allowed", reason: "method", allow: "GET, HEAD"}

// storeUnavailable is the 503 while the store is too stale to decide.
func storeUnavailable() *apiError {
	e := *errStoreUnavailable
	e.retryAfter = 5
	return &e
}

// decision is what the handler notes about a request before deciding it:
// the credential it presents (for metrics) and when the decision started.
type decision struct {
	cred  credential
	start time.Time
}

// newDecision classifies r before anything is removed from it.
func (h *Handler) newDecision(r *http.Request, now time.Time) decision {
	dc := decision{cred: credNone, start: now}
	switch {
	case r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, h.paramEq):
		dc.cred = credSignedURL
	case len(r.Header["Authorization"]) > 0:
		dc.cred = credBearer
	}
	return dc
}

// cleanRead makes r a clean read for the next handler: no credential, no
// signature (also not inside a Referer), no way to upgrade the connection
// to a tunnel, no trailers, no body, no method override. Header names are
// canonical by the time Caddy has the request, so one pass over the map
// with a switch does it.
func (h *Handler) cleanRead(r *http.Request) {
	hd := r.Header
	for name, v := range hd {
		switch name {
		case "Authorization", "Upgrade", "Http2-Settings", "Te", "Trailer", "Transfer-Encoding",
			"Content-Length", "Keep-Alive", "Proxy-Connection",
			"X-Http-Method-Override", "X-Http-Method", "X-Method-Override":
			delete(hd, name)
		case "Connection":
			// The headers it names are hop-by-hop too (RFC 9110 7.6.1).
			for _, line := range v {
				for _, f := range strings.Split(line, ",") {
					if f = strings.TrimSpace(f); f != "" {
						delete(hd, http.CanonicalHeaderKey(f))
					}
				}
			}
			delete(hd, name)
		case "Referer":
			for i, s := range v {
				if strings.IndexByte(s, '?') >= 0 {
					s = stripFromURL(s, h.param)
				}
				v[i] = h.pathForm.StripURL(s)
			}
		case "Cookie":
			if v = stripFolderCookies(v); v == nil {
				delete(hd, name)
			} else {
				hd[name] = v
			}
		}
	}
	r.Trailer = nil
	r.TransferEncoding = nil
	if r.ContentLength != 0 || r.Body != nil && r.Body != http.NoBody {
		r.ContentLength = 0
		r.Body = http.NoBody
	}
	if r.URL.RawQuery != "" {
		h.stripParam(r)
	}
}

// stripFromURL removes the signature parameter from the query of the URL s
// (a Referer), keeping everything else as sent.
func stripFromURL(s, param string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	frag := ""
	rest := s[q+1:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, frag = rest[:i], rest[i:]
	}
	rest = verifier.StripParam(rest, param)
	if rest == "" {
		return s[:q] + frag
	}
	return s[:q+1] + rest + frag
}

// stripParam removes the signature parameter from r, so it never reaches
// the origin, nor the original URL that error routes are given.
func (h *Handler) stripParam(r *http.Request) {
	old := r.URL.RawQuery
	q := verifier.StripParam(old, h.param)
	if q == old {
		return
	}
	r.URL.RawQuery = q
	r.URL.ForceQuery = false
	r.RequestURI = replaceQuery(r.RequestURI, old, q, r.URL)
	// Caddy restores the original URL before running handle_errors routes;
	// its copy of the URL is a pointer Signet may scrub too.
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		if orig.URL.RawQuery == old {
			orig.URL.RawQuery = q
		} else {
			orig.URL.RawQuery = verifier.StripParam(orig.URL.RawQuery, h.param)
		}
		orig.URL.ForceQuery = false
	}
}

// replaceQuery returns the request target uri with its query old replaced
// by q (no "?" when q is empty), without rebuilding the path; u rebuilds it
// when uri does not end in "?"+old.
func replaceQuery(uri, old, q string, u *url.URL) string {
	base, ok := strings.CutSuffix(uri, old)
	if !ok || !strings.HasSuffix(base, "?") {
		return u.RequestURI()
	}
	if q == "" {
		return base[:len(base)-1]
	}
	return base + q
}

// authenticate checks the bearer API key of r. It returns the key's entry
// if the key exists, has not expired and is enabled; otherwise the refusal.
func (h *Handler) authenticate(st *running, r *http.Request, now time.Time) (*keystore.Entry, *apiError) {
	// Header keys are canonical by the time Caddy has the request, so the
	// map is read directly (Header.Get would canonicalise again).
	var auth string
	if v := r.Header["Authorization"]; len(v) == 1 {
		auth = v[0]
	}
	if auth == "" {
		return nil, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, reason: "missing", challenge: h.challenge,
			msg: "missing credentials: send Authorization: Bearer <API key> or use a signed URL"}
	}
	token, ok := bearerToken(auth)
	if !ok {
		return nil, h.unauthorized("malformed Authorization header: want Bearer <API key>", "malformed")
	}
	_, digest, err := verifier.ParseKeyToken(token)
	if err != nil {
		return nil, h.unauthorized("malformed API key", "malformed")
	}
	e := st.backend.cache.Lookup(digest)
	switch {
	case e == nil:
		return nil, h.unauthorized("unknown API key", "unknown_key")
	case e.Expired(now):
		return nil, h.unauthorized("API key expired", "expired")
	case derivedOf(e).access.Perm == verifier.PermNone:
		return nil, &apiError{status: http.StatusForbidden, code: codeForbidden, msg: "API key disabled", reason: "disabled"}
	}
	return e, nil
}

func (h *Handler) unauthorized(msg, reason string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: msg, reason: reason, challenge: h.invalid}
}

// bearerToken extracts the token of an `Authorization: Bearer <token>`
// header value (scheme case-insensitive, RFC 6750).
func bearerToken(v string) (string, bool) {
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimLeft(v[len(scheme):], " ")
	if t == "" || strings.ContainsAny(t, " \t") {
		return "", false
	}
	return t, true
}

// serveSigned finishes a request that carries a link's token (form says
// where), verified with err: an Authorization header is then ignored, even
// a valid one.
func (h *Handler) serveSigned(w http.ResponseWriter, r *http.Request, dc decision, st *running, next caddyhttp.Handler, c verifier.Claims, err error, now time.Time, form linkForm) error {
	dc.cred = credSignedURL
	var d *derived
	if err == nil {
		d, err = h.linkValid(st, &c, r.URL.Path, now)
	}
	if err != nil {
		return h.fail(w, r, dc, linkError(err))
	}
	return h.serveLink(w, r, dc, next, linkUse{st: st, c: &c, d: d, form: form, now: now})
}

// linkValid checks that a verified link is still in force for path: its
// lifetime within max_lifetime, its issuing key still vouching for all it
// grants, no revocation. It returns the key's derived values (nil when an
// operator signed it).
func (h *Handler) linkValid(st *running, c *verifier.Claims, path string, now time.Time) (*derived, error) {
	// The lifetime it was signed with (a link extended later may live
	// longer; the links API bounds that).
	if time.Duration(c.SignedExpiresAt-c.IssuedAt)*time.Second > time.Duration(h.app.MaxLifetime) {
		return nil, &apiError{status: http.StatusForbidden, code: "expired", reason: "lifetime",
			msg: "this signed URL's lifetime exceeds the server's max_lifetime"}
	}
	if c.KeySigned() {
		// Signed offline: the rules the signing endpoint applies at issue.
		if why := rules.OfflineLink(c.Prefix, c.Policy); why != "" {
			return nil, &apiError{status: http.StatusForbidden, code: codeForbidden, reason: "offline_rule", msg: why}
		}
	}
	cache := st.backend.cache
	var d *derived
	if c.KeyID != "" {
		grant := path
		if c.Prefix != "" {
			grant = c.Prefix
		}
		// A key-signed link's entry came with its secret; any other's
		// issuing key is looked up.
		e, _ := c.Offline.Owner().(*keystore.Entry)
		if e == nil {
			e = cache.ByID(c.KeyID)
		}
		var why string
		if d, why = vouchingEntry(e, grant, now); why != "" {
			return nil, &apiError{status: http.StatusForbidden, code: "revoked", msg: why, reason: "revoked"}
		}
	}
	if why := cache.Revoked(c, path, now); why != "" {
		return nil, &apiError{status: http.StatusForbidden, code: "revoked", msg: why, reason: "revoked"}
	}
	return d, nil
}

// linkUse is a request's verified link in force, on its way to the next
// handler.
type linkUse struct {
	st   *running
	c    *verifier.Claims
	d    *derived // the issuing key's; nil for an operator's link
	form linkForm
	now  time.Time
}

// vouching looks up the key keyID that issued a link granting grant, and
// says why it no longer vouches for it ("" when it does; rules.Vouches). It
// returns the key's derived values, nil once the key is deleted.
func vouching(cache *keystore.Cache, keyID, grant string, now time.Time) (*derived, string) {
	return vouchingEntry(cache.ByID(keyID), grant, now)
}

// vouchingEntry is vouching for the key's entry e (nil: deleted).
func vouchingEntry(e *keystore.Entry, grant string, now time.Time) (*derived, string) {
	if e == nil {
		return nil, rules.Vouches(nil, rules.Access{}, grant, now)
	}
	d := derivedOf(e)
	return d, rules.Vouches(e.Key, d.access, grant, now)
}

// serveLink hands a request with a valid link to the next handler, clean,
// with the link's policies applied (policy.go). A folder token in the
// query also sets the folder's cookie.
func (h *Handler) serveLink(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler, u linkUse) error {
	if u.c.Policy != (verifier.Policy{}) {
		return h.servePolicy(w, r, dc, next, u)
	}
	return h.serveClean(w, r, dc, next, u)
}

// serveClean is serveLink once the policies are applied. A GET that
// starts a download counts as a use of the link in memory (the ledger's
// uses and last use, written in batches); max_uses links were counted in
// the store already.
func (h *Handler) serveClean(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler, u linkUse) error {
	c, d := u.c, u.d
	if c.Policy.MaxUses == 0 && r.Method == http.MethodGet && !c.KeySigned() && !resumesDownload(r.Header["Range"]) {
		// Links signed offline are not in the ledger: nothing to count.
		u.st.backend.cache.CountUse(c.ID, u.now)
	}
	switch {
	case u.form == formQuery && c.Prefix != "":
		h.setFolderCookie(w, r, c, verifier.QueryToken(r.URL.RawQuery, h.param), u.now)
	case u.form == formPath:
		// Same-origin pages keep the token in their Referer (cleanRead
		// removes it there); other origins never see it.
		w.Header().Set("Referrer-Policy", "same-origin")
	}
	h.cleanRead(r)
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		urlID := c.ID
		repl.Map(func(key string) (any, bool) {
			switch {
			case key == "http.signet.url_id":
				return urlID.String(), true
			case d != nil:
				return d.lookup(key, credentialSignedURL)
			case key == "http.signet.credential":
				return credentialSignedURL, true
			case key == "http.auth.user.id" || strings.HasPrefix(key, "http.signet."):
				return "", true // operator-signed: no key
			}
			return nil, false
		})
	}
	h.countAllowed(dc, allowedOK)
	return next.ServeHTTP(w, r)
}

// linkError is the refusal for a link that failed verification (a
// verifier error) or linkValid (an *apiError).
func linkError(err error) error {
	if _, ok := err.(*apiError); ok {
		return err
	}
	code, msg := signedURLError(err)
	status := http.StatusForbidden
	if code == codeBadRequest {
		status = http.StatusBadRequest
	}
	return &apiError{status: status, code: code, msg: msg, reason: code}
}

// signedURLError maps a verification error to an error code and message.
func signedURLError(err error) (string, string) {
	switch {
	case errors.Is(err, verifier.ErrExpired):
		return "expired", "this signed URL has expired"
	case errors.Is(err, verifier.ErrNotYetValid):
		return "not_yet_valid", "this signed URL is not valid yet"
	case errors.Is(err, verifier.ErrMethodNotAllowed):
		return "method_not_allowed", "a signed URL allows only GET and HEAD"
	case errors.Is(err, verifier.ErrMalformedToken):
		return "malformed_signature", "the signature parameter is malformed"
	case errors.Is(err, verifier.ErrNotFolderToken):
		return "malformed_signature", "only a folder link's token works in a path_url or a cookie"
	case errors.Is(err, verifier.ErrAmbiguousPath):
		return codeBadRequest, "ambiguous request path"
	}
	return "invalid_signature", "the signature does not match this URL"
}

// deny answers a refused request (see fail).
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, dc decision, status int, code, msg, reason string) error {
	return h.fail(w, r, dc, &apiError{status: status, code: code, msg: msg, reason: reason})
}

// fail is the one place the handler and the public API answer a refused or
// failed request: it counts it, logs why at deny_log_level (never the
// credential) and writes the JSON error. The Authorization header is
// dropped with it, so nothing after Signet (handle_errors) sees it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, dc decision, err error) error {
	e := toAPIError(err, "not found")
	delete(r.Header, "Authorization")
	h.countDenied(dc, e.reason)
	if h.logDenials {
		if c := h.logger.Check(h.denyLevel, "request denied"); c != nil {
			fields := []zap.Field{zap.String("reason", e.reason), zap.Int("status", e.status), zap.String("credential", credNames[dc.cred]),
				zap.String("method", r.Method), zap.String("uri_path", r.URL.Path), zap.String("client_ip", clientIP(r))}
			if e.field != "" {
				fields = append(fields, zap.String("field", e.field))
			}
			c.Write(fields...)
		}
	}
	if e.status == http.StatusInternalServerError {
		h.logger.Error("request failed", zap.Error(err))
	}
	writeAPIError(w, e)
	return nil
}

// countAllowed and countDenied record one decision of the handler.
func (h *Handler) countAllowed(dc decision, how allowedReason) {
	if h.metrics {
		allowedCounters[dc.cred][how].Inc()
		observeDuration(dc.cred, dc.start)
	}
}

func (h *Handler) countDenied(dc decision, reason string) {
	if h.metrics {
		deniedCounter(dc.cred, reason).Inc()
		observeDuration(dc.cred, dc.start)
	}
}

// clientIP is Caddy's view of the client address (honouring its
// trusted_proxies setting).
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// derived is what the handler needs of a key, computed once per key and
// user change (kept in keystore.Entry.Any), so a request reads it without
// rebuilding anything: the key's access after its user's (rules.Effective)
// and its placeholders, pre-boxed, with a ready-made provider for bearer
// requests (no per-request boxing and no writes to the replacer's map).
type derived struct {
	access         rules.Access
	id, name, user any
	bearer         caddy.ReplacerFunc // the provider for bearer requests
}

func deriveEntry(k *keystore.Key, u *keystore.User) any {
	d := &derived{access: rules.Effective(k, u), id: k.ID, name: k.Name, user: k.User}
	d.bearer = func(key string) (any, bool) { return d.lookup(key, credentialBearer) }
	return d
}

// derivedOf returns e's derived values (the cache always sets them).
func derivedOf(e *keystore.Entry) *derived {
	if d, ok := e.Any.(*derived); ok {
		return d
	}
	return deriveEntry(e.Key, e.User).(*derived)
}

func (d *derived) lookup(key string, credential any) (any, bool) {
	switch key {
	case "http.auth.user.id", "http.signet.key_id":
		return d.id, true
	case "http.signet.key_name":
		return d.name, true
	case "http.signet.user":
		return d.user, true
	case "http.signet.credential":
		return credential, true
	case "http.signet.url_id":
		return "", true
	}
	return nil, false
}

var (
	credentialBearer    any = "bearer"
	credentialSignedURL any = "signed_url"
)

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
