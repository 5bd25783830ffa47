package caddymodule

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
)

// The public API, under the handler's API prefix (default /_signet/v1):
//
//	POST {api}/files/{path}/signed-url   the signing endpoint (api_sign.go)
//	POST {api}/revocations               revoke links (api_revoke.go)
//	     {api}/keys, {api}/keys/{id}      the key API (api_keys.go)
//	     {api}/users, {api}/users/{name}  the user API (api_users.go)
//	     {api}/links, {api}/links/{id}    the links API (api_links.go)
//	POST {api}/links/revoke              revoke links by filter
//
// Every endpoint is authenticated with `Authorization: Bearer sk_…` and
// answers errors through Handler.fail.

const signedURLSuffix = "/signed-url"

// serveAPI routes a request under the API prefix.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler) error {
	rest := strings.TrimPrefix(r.URL.Path, h.API)
	if rest == "/revocations" {
		return h.serveRevoke(w, r, dc)
	}
	if rest == "/links/revoke" {
		return h.serveManage(w, r, dc, rest, "", false)
	}
	for _, family := range []string{"/keys", "/users", "/links"} {
		if id, ok := strings.CutPrefix(rest, family); ok && (id == "" || id[0] == '/') {
			return h.serveManage(w, r, dc, family, strings.TrimPrefix(id, "/"), id == "")
		}
	}
	filePath, ok := strings.CutPrefix(rest, "/files")
	if ok {
		filePath, ok = strings.CutSuffix(filePath, signedURLSuffix)
	}
	if !ok || filePath == "" || filePath[0] != '/' || filePath == "/" {
		return h.deny(w, r, dc, http.StatusNotFound, codeNotFound, "no such API endpoint; use POST "+h.API+"/files/{path}/signed-url", "api_not_found")
	}
	return h.serveSign(w, r, dc, filePath, next)
}

// caller is an authenticated public API request.
type caller struct {
	entry *keystore.Entry
	actor rules.Actor
	st    *running
	now   time.Time
}

// apiCaller runs the checks every public API endpoint starts with: the
// method (one of methods), the per-client rate limit (before
// authentication, so guessing keys is limited too), the store's
// staleness, and a valid API key, which it removes from the request.
func (h *Handler) apiCaller(r *http.Request, methods ...string) (caller, error) {
	now := time.Now()
	if !slices.Contains(methods, r.Method) {
		return caller{}, methodNotAllowed(strings.Join(methods, ", "))
	}
	if ok, wait := h.clientLimits.allow(clientIP(r), now); !ok {
		return caller{}, h.rateLimited(wait, "client")
	}
	st, err := h.app.state()
	if err != nil || h.app.Stale(st, now) {
		return caller{}, storeUnavailable()
	}
	e, ae := h.authenticate(st, r, now)
	delete(r.Header, "Authorization")
	if ae != nil {
		return caller{}, ae
	}
	return caller{entry: e, actor: rules.KeyActor(e.Key, e.User, h.app.SelfService), st: st, now: now}, nil
}

// keyLimit applies the per-key rate limit to c.
func (h *Handler) keyLimit(c caller) error {
	if ok, wait := h.keyLimits.allow(c.entry.Key.ID, c.now); !ok {
		return h.rateLimited(wait, "key")
	}
	return nil
}

func (h *Handler) rateLimited(wait time.Duration, limit string) error {
	if h.metrics {
		rateLimited.WithLabelValues(limit).Inc()
	}
	return &apiError{status: http.StatusTooManyRequests, code: codeRateLimited, msg: "too many requests; retry later",
		reason: "rate_limited", retryAfter: retryAfter(wait)}
}

// serveManage serves the key and user APIs to an API key: the prelude,
// the per-key limit, then the shared endpoints with the key as the actor.
func (h *Handler) serveManage(w http.ResponseWriter, r *http.Request, dc decision, family, id string, collection bool) error {
	methods := itemMethods
	switch {
	case family == "/links/revoke":
		methods = []string{http.MethodPost}
	case family == "/links" && collection:
		methods = []string{http.MethodGet}
	case collection:
		methods = collectionMethods
	}
	c, err := h.apiCaller(r, methods...)
	if err == nil {
		err = h.keyLimit(c)
	}
	if err == nil {
		call := apiCall{w: w, r: r, app: h.app, st: c.st, actor: c.actor, api: "public"}
		switch family {
		case "/users":
			err = call.usersAPI().serve(r, collection, id)
		case "/links":
			err = call.linksAPI().serve(r, collection, id)
		case "/links/revoke":
			err = call.bulkRevoke()
		default:
			err = call.keysAPI().serve(r, collection, id)
		}
	}
	if err != nil {
		return h.fail(w, r, dc, err)
	}
	c.entry.MarkUsed(c.now)
	h.countAllowed(dc, allowedOK)
	return nil
}
