package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
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

// Handler guards the routes after it with API keys. A request reaches the
// next handler only with `Authorization: Bearer <key>` for a key that
// exists, has not expired, is enabled, allows the method and has a scope
// covering the path. It removes the Authorization header before the next
// handler, so it never reaches an upstream.
//
// Requests with an ambiguous path (dot segments, `//`, encoded slashes,
// backslashes, control characters, invalid UTF-8) are refused with 400.
//
// On success it sets these placeholders: `{http.auth.user.id}` and
// `{http.signet.key_id}` (the key id), `{http.signet.key_name}`,
// `{http.signet.user}` (the key's user label, empty for site-wide keys) and
// `{http.signet.credential}` (`bearer`).
type Handler struct {
	// PublicPaths are path prefixes, matched at segment boundaries like key
	// scopes, that are served without credentials (e.g. `/public/` or
	// `/robots.txt`). Ambiguous paths are still refused and the
	// Authorization header is still removed.
	PublicPaths []string `json:"public_paths,omitempty"`

	// Realm is the realm named in `WWW-Authenticate` challenges.
	// Default: `signet`.
	Realm string `json:"realm,omitempty"`

	cache     *keystore.Cache
	logger    *zap.Logger
	challenge string // WWW-Authenticate for a missing credential
	invalid   string // WWW-Authenticate for a bad credential
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
	appIface, err := ctx.App("signet")
	if err != nil {
		return fmt.Errorf("loading signet app: %v", err)
	}
	h.cache = appIface.(*App).Cache()
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	for _, p := range h.PublicPaths {
		if err := verifier.CheckScope(p); err != nil {
			return fmt.Errorf("public_paths: %q is not a clean absolute path", p)
		}
	}
	if strings.ContainsAny(h.Realm, "\"\\\r\n") {
		return fmt.Errorf("realm: must not contain quotes, backslashes or line breaks")
	}
	return nil
}

// placeholders are the values the handler sets for an accepted key, boxed
// once per key (in keystore.Entry.Any) instead of once per request.
type placeholders struct {
	id, name, user any
}

func derivePlaceholders(k *keystore.Key) any {
	return &placeholders{id: k.ID, name: k.Name, user: k.User}
}

var credentialBearer any = "bearer"

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if verifier.CheckPath(r.URL.Path, r.URL.RawPath) != nil {
		return h.deny(w, r, http.StatusBadRequest, codeBadRequest, "ambiguous request path", "ambiguous_path")
	}
	// Header keys are canonical by the time Caddy has the request, so the
	// map is read directly (Header.Get would canonicalise again).
	auth := ""
	if v := r.Header["Authorization"]; len(v) > 0 {
		if len(v) > 1 {
			return h.deny(w, r, http.StatusBadRequest, codeBadRequest, "more than one Authorization header", "malformed")
		}
		auth = v[0]
	}
	if verifier.AnyScopeCovers(h.PublicPaths, r.URL.Path) {
		delete(r.Header, "Authorization")
		return next.ServeHTTP(w, r)
	}
	if auth == "" {
		w.Header().Set("WWW-Authenticate", h.challenge)
		return h.deny(w, r, http.StatusUnauthorized, codeUnauthorized, "missing credentials: send Authorization: Bearer <API key>", "missing")
	}
	token, ok := bearerToken(auth)
	if !ok {
		w.Header().Set("WWW-Authenticate", h.invalid)
		return h.deny(w, r, http.StatusUnauthorized, codeUnauthorized, "malformed Authorization header: want Bearer <API key>", "malformed")
	}
	_, digest, err := verifier.ParseKeyToken(token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", h.invalid)
		return h.deny(w, r, http.StatusUnauthorized, codeUnauthorized, "malformed API key", "malformed")
	}
	e := h.cache.Lookup(digest)
	if e == nil {
		w.Header().Set("WWW-Authenticate", h.invalid)
		return h.deny(w, r, http.StatusUnauthorized, codeUnauthorized, "unknown API key", "unknown_key")
	}
	now := time.Now()
	if e.Expired(now) {
		w.Header().Set("WWW-Authenticate", h.invalid)
		return h.deny(w, r, http.StatusUnauthorized, codeUnauthorized, "API key expired", "expired")
	}
	k := e.Key
	if k.Permissions == verifier.PermNone {
		return h.deny(w, r, http.StatusForbidden, codeForbidden, "API key disabled", "disabled")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !k.Permissions.Allows(verifier.PermAdmin) {
		return h.deny(w, r, http.StatusForbidden, codeForbidden, "this key may only GET and HEAD", "method")
	}
	if !verifier.AnyScopeCovers(k.Scopes, r.URL.Path) {
		return h.deny(w, r, http.StatusForbidden, codeForbidden, "API key scope does not cover this path", "scope")
	}
	e.MarkUsed(now)
	delete(r.Header, "Authorization")
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if p, ok := e.Any.(*placeholders); ok && repl != nil {
		repl.Set("http.auth.user.id", p.id)
		repl.Set("http.signet.key_id", p.id)
		repl.Set("http.signet.key_name", p.name)
		repl.Set("http.signet.user", p.user)
		repl.Set("http.signet.credential", credentialBearer)
	}
	return next.ServeHTTP(w, r)
}

// deny answers a refused request with a JSON error and logs why at debug
// level (never the credential).
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, status int, code, msg, reason string) error {
	if c := h.logger.Check(zapcore.DebugLevel, "request denied"); c != nil {
		c.Write(zap.String("reason", reason), zap.Int("status", status),
			zap.String("method", r.Method), zap.String("uri_path", r.URL.Path))
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
