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
// the path. Other methods are refused (405): Signet guards reading files. The handler removes the Authorization
// header and the signature parameter before the next handler, so neither
// reaches an upstream.
//
// Under its API prefix (default `/_signet/v1`) it serves the signing
// endpoint, `POST {api}/files/{path}/signed-url`.
//
// Requests with an ambiguous path (dot segments, `//`, encoded slashes,
// backslashes, control characters, invalid UTF-8) are refused with 400.
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
	// `/robots.txt`). Ambiguous paths are still refused and the
	// Authorization header is still removed.
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

	// RateLimitKey limits the signing endpoint per API key.
	// Default: 100 events per 1s. Events 0 with a window of 0 disables it
	// (set `"events": -1`).
	RateLimitKey *Rate `json:"rate_limit_key,omitempty"`

	// RateLimitClient limits the signing endpoint per client IP (as Caddy
	// sees it, honouring trusted_proxies), before authentication.
	// Default: 200 events per 1s. `"events": -1` disables it.
	RateLimitClient *Rate `json:"rate_limit_client,omitempty"`

	app          *App
	cache        *keystore.Cache
	logger       *zap.Logger
	challenge    string // WWW-Authenticate for a missing credential
	invalid      string // WWW-Authenticate for a bad credential
	publicBase   *url.URL
	keyLimits    *limiters
	clientLimits *limiters
	param        string // the signature parameter's name
	metrics      bool
	denyLevel    zapcore.Level
	logDenials   bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.signet",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision connects the handler to the signet app's key store.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Realm == "" {
		h.Realm = "signet"
	}
	h.challenge = fmt.Sprintf("Bearer realm=%q", h.Realm)
	h.invalid = fmt.Sprintf("Bearer realm=%q, error=\"invalid_token\"", h.Realm)
	if h.API == "" {
		h.API = defaultAPIPrefix
	}
	if verifier.CheckScope(h.API) != nil || h.API == "/" {
		return fmt.Errorf("api: %q is not a clean absolute path prefix such as /_signet/v1", h.API)
	}
	h.API = strings.TrimSuffix(h.API, "/")
	if h.PublicBaseURL != "" {
		u, err := parseBaseURL(h.PublicBaseURL)
		if err != nil {
			return fmt.Errorf("public_base_url: %v", err)
		}
		h.publicBase = u
	}
	h.keyLimits = newLimiters(rateOrDefault(h.RateLimitKey, defaultKeyRate))
	h.clientLimits = newLimiters(rateOrDefault(h.RateLimitClient, defaultClientRate))
	appIface, err := ctx.App("signet")
	if err != nil {
		return fmt.Errorf("loading signet app: %v", err)
	}
	h.app = appIface.(*App)
	h.cache = h.app.Cache()
	h.param = h.app.paramName()
	h.metrics = !h.app.DisableMetrics
	h.denyLevel, h.logDenials, _ = denyLevel(h.app.DenyLogLevel)
	return nil
}

func rateOrDefault(r *Rate, events int) Rate {
	if r == nil {
		return Rate{Events: events, Window: caddy.Duration(time.Second)}
	}
	return *r
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	for _, p := range h.PublicPaths {
		if err := verifier.CheckScope(p); err != nil {
			return fmt.Errorf("public_paths: %q is not a clean absolute path", p)
		}
	}
	if h.API != "" && (verifier.CheckScope(h.API) != nil || h.API == "/") {
		return fmt.Errorf("api: %q is not a clean absolute path prefix such as /_signet/v1", h.API)
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

// placeholders answers the handler's placeholders for an accepted key. It
// is built once per key (kept in keystore.Entry.Any), so a request only
// appends a ready-made provider to its replacer: no per-request boxing of
// values and no writes to the replacer's map.
type placeholders struct {
	id, name, user any
	bearer         caddy.ReplacerFunc // the provider for bearer requests
}

func derivePlaceholders(k *keystore.Key) any {
	p := &placeholders{id: k.ID, name: k.Name, user: k.User}
	p.bearer = func(key string) (any, bool) { return p.lookup(key, credentialBearer) }
	return p
}

func (p *placeholders) lookup(key string, credential any) (any, bool) {
	switch key {
	case "http.auth.user.id", "http.signet.key_id":
		return p.id, true
	case "http.signet.key_name":
		return p.name, true
	case "http.signet.user":
		return p.user, true
	case "http.signet.credential":
		return credential, true
	case "http.signet.url_id":
		return "", true
	}
	return nil, false
}

func entryPlaceholders(e *keystore.Entry) (*placeholders, bool) {
	if e == nil {
		return nil, false
	}
	p, ok := e.Any.(*placeholders)
	return p, ok
}

var (
	credentialBearer    any = "bearer"
	credentialSignedURL any = "signed_url"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	now := time.Now()
	dc := h.newDecision(r, now)
	if verifier.CheckPath(r.URL.Path, r.URL.RawPath) != nil {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "ambiguous request path", "ambiguous_path")
	}
	if len(r.Header["Authorization"]) > 1 {
		return h.deny(w, r, dc, http.StatusBadRequest, codeBadRequest, "more than one Authorization header", "malformed")
	}
	if r.URL.Path == h.API || strings.HasPrefix(r.URL.Path, h.API) && r.URL.Path[len(h.API)] == '/' {
		return h.serveAPI(w, r, dc, next)
	}
	if verifier.AnyScopeCovers(h.PublicPaths, r.URL.Path) {
		delete(r.Header, "Authorization")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return h.deny(w, r, dc, http.StatusMethodNotAllowed, codeMethodNotAllowed, "only GET and HEAD are allowed", "method")
		}
		if r.URL.RawQuery != "" {
			h.stripParam(r)
		}
		h.countRequest(dc, "allowed", "public")
		return next.ServeHTTP(w, r)
	}
	if h.app.Stale(now) {
		return h.storeUnavailable(w, r, dc)
	}
	if r.URL.RawQuery != "" {
		claims, err := h.app.verifier.Verify(verifier.Target{
			Host: r.Host, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		}, now)
		if err != verifier.ErrNoToken {
			dc.cred = credSignedURL
			return h.serveSigned(w, r, dc, next, claims, err, now)
		}
	}
	e, d := h.authenticate(r, now)
	if e == nil {
		delete(r.Header, "Authorization")
		return h.refuse(w, r, dc, d)
	}
	k := e.Key
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Signet guards reading files; no key lets other methods through.
		w.Header().Set("Allow", "GET, HEAD")
		return h.deny(w, r, dc, http.StatusMethodNotAllowed, codeMethodNotAllowed, "only GET and HEAD are allowed", "method")
	}
	if !verifier.AnyScopeCovers(k.Scopes, r.URL.Path) {
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "API key scope does not cover this path", "scope")
	}
	e.MarkUsed(now)
	delete(r.Header, "Authorization")
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		if p, ok := entryPlaceholders(e); ok {
			repl.Map(p.bearer)
		}
	}
	h.countRequest(dc, "allowed", "ok")
	return next.ServeHTTP(w, r)
}

// denial is a refusal: status, JSON error code and message, the reason
// logged, and for 401s the WWW-Authenticate challenge.
type denial struct {
	status            int
	code, msg, reason string
	challenge         string
}

// refuse answers r with d.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, dc decision, d denial) error {
	if d.challenge != "" {
		w.Header().Set("WWW-Authenticate", d.challenge)
	}
	return h.deny(w, r, dc, d.status, d.code, d.msg, d.reason)
}

// authenticate checks the bearer API key of r. It returns the key's entry
// if the key exists, has not expired and is enabled; otherwise nil and the
// refusal to send.
func (h *Handler) authenticate(r *http.Request, now time.Time) (*keystore.Entry, denial) {
	// Header keys are canonical by the time Caddy has the request, so the
	// map is read directly (Header.Get would canonicalise again).
	var auth string
	if v := r.Header["Authorization"]; len(v) == 1 {
		auth = v[0]
	}
	if auth == "" {
		return nil, denial{http.StatusUnauthorized, codeUnauthorized,
			"missing credentials: send Authorization: Bearer <API key> or use a signed URL", "missing", h.challenge}
	}
	token, ok := bearerToken(auth)
	if !ok {
		return nil, denial{http.StatusUnauthorized, codeUnauthorized,
			"malformed Authorization header: want Bearer <API key>", "malformed", h.invalid}
	}
	_, digest, err := verifier.ParseKeyToken(token)
	if err != nil {
		return nil, denial{http.StatusUnauthorized, codeUnauthorized, "malformed API key", "malformed", h.invalid}
	}
	e := h.cache.Lookup(digest)
	switch {
	case e == nil:
		return nil, denial{http.StatusUnauthorized, codeUnauthorized, "unknown API key", "unknown_key", h.invalid}
	case e.Expired(now):
		return nil, denial{http.StatusUnauthorized, codeUnauthorized, "API key expired", "expired", h.invalid}
	case e.Key.Permissions == verifier.PermNone:
		return nil, denial{http.StatusForbidden, codeForbidden, "API key disabled", "disabled", ""}
	}
	return e, denial{}
}

// serveSigned finishes a request that carries a signed-URL token.
func (h *Handler) serveSigned(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler, c verifier.Claims, err error, now time.Time) error {
	delete(r.Header, "Authorization")
	if err != nil {
		code, msg := signedURLError(err)
		return h.deny(w, r, dc, http.StatusForbidden, code, msg, code)
	}
	if time.Duration(c.ExpiresAt-c.IssuedAt)*time.Second > time.Duration(h.app.MaxLifetime) {
		return h.deny(w, r, dc, http.StatusForbidden, "expired", "this signed URL's lifetime exceeds the server's max_lifetime", "lifetime")
	}
	var e *keystore.Entry
	if c.KeyID != "" {
		e = h.cache.ByID(c.KeyID)
		if why := keyForSignedURL(e, r.URL.Path, now); why != "" {
			return h.deny(w, r, dc, http.StatusForbidden, "revoked", why, "revoked")
		}
	}
	if why := h.cache.Revoked(&c, r.URL.Path, now); why != "" {
		return h.deny(w, r, dc, http.StatusForbidden, "revoked", why, "revoked")
	}
	h.stripParam(r)
	if repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); repl != nil {
		p, _ := entryPlaceholders(e)
		urlID := c.ID
		repl.Map(func(key string) (any, bool) {
			switch {
			case key == "http.signet.url_id":
				return urlID.String(), true
			case p != nil:
				return p.lookup(key, credentialSignedURL)
			case key == "http.signet.credential":
				return credentialSignedURL, true
			case key == "http.auth.user.id" || strings.HasPrefix(key, "http.signet."):
				return "", true // operator-signed: no key
			}
			return nil, false
		})
	}
	h.countRequest(dc, "allowed", "ok")
	return next.ServeHTTP(w, r)
}

// stripParam removes the signature parameter from r, so it never reaches
// the origin (or its logs).
func (h *Handler) stripParam(r *http.Request) {
	q := verifier.StripParam(r.URL.RawQuery, h.app.paramName())
	if q == r.URL.RawQuery {
		return
	}
	r.URL.RawQuery = q
	r.URL.ForceQuery = false
	r.RequestURI = r.URL.RequestURI()
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
	case errors.Is(err, verifier.ErrAmbiguousPath):
		return codeBadRequest, "ambiguous request path"
	}
	return "invalid_signature", "the signature does not match this URL"
}

// deny answers a refused request with a JSON error and logs why at debug
// level (never the credential).
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, dc decision, status int, code, msg, reason string) error {
	h.countRequest(dc, "denied", reason)
	if h.logDenials {
		if c := h.logger.Check(h.denyLevel, "request denied"); c != nil {
			c.Write(zap.String("reason", reason), zap.Int("status", status), zap.String("credential", dc.cred),
				zap.String("method", r.Method), zap.String("uri_path", r.URL.Path), zap.String("client_ip", clientIP(r)))
		}
	}
	writeError(w, status, code, msg)
	return nil
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

var errNotConfigured = errors.New("signet is not running: no config uses it (add the signet directive or global option)")

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
