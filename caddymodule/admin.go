package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves Signet's operator endpoints on Caddy's admin endpoint
// (localhost:2019 by default):
//
//	POST   /signet/keys        create a key; the response holds its value, once
//	GET    /signet/keys        list keys (never values)
//	GET    /signet/keys/{id}   one key
//	PATCH  /signet/keys/{id}   rename, change user, scopes, permissions, expiry
//	DELETE /signet/keys/{id}   delete (revoke) a key
//	POST   /signet/sign        sign a URL as the operator
//	POST   /signet/revocations revoke a signed URL, or all a key or a path issued
//	GET    /signet/revocations the revocations in force
//
// Errors are JSON: {"error":{"code":…,"message":…,"field":…}}.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.signet",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/signet/keys", Handler: caddy.AdminHandlerFunc(a.handleKeys)},
		{Pattern: "/signet/keys/", Handler: caddy.AdminHandlerFunc(a.handleKey)},
		{Pattern: "/signet/sign", Handler: caddy.AdminHandlerFunc(a.handleSign)},
		{Pattern: "/signet/revocations", Handler: caddy.AdminHandlerFunc(a.handleRevocations)},
	}
}

// cache returns the running app's cache, or answers 503.
func (a *AdminAPI) cache(w http.ResponseWriter) *keystore.Cache {
	app := current.Load()
	if app == nil {
		writeError(w, http.StatusServiceUnavailable, codeStoreUnavailable, errNotConfigured.Error())
		return nil
	}
	return app.Cache()
}

func (a *AdminAPI) handleKeys(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodPost:
		return a.createKey(w, r)
	case http.MethodGet:
		return a.listKeys(w, r)
	}
	w.Header().Set("Allow", "GET, POST")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or POST")
	return nil
}

func (a *AdminAPI) handleKey(w http.ResponseWriter, r *http.Request) error {
	id := strings.TrimPrefix(r.URL.Path, "/signet/keys/")
	if !keystore.ValidKeyID(id) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such key")
		return nil
	}
	switch r.Method {
	case http.MethodGet:
		return a.getKey(w, r, id)
	case http.MethodPatch:
		return a.updateKey(w, r, id)
	case http.MethodDelete:
		return a.deleteKey(w, r, id)
	}
	w.Header().Set("Allow", "GET, PATCH, DELETE")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET, PATCH or DELETE")
	return nil
}

func storeContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}

func (a *AdminAPI) createKey(w http.ResponseWriter, r *http.Request) error {
	c := a.cache(w)
	if c == nil {
		return nil
	}
	var req createKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeStoreError(w, err)
		return nil
	}
	k, token, err := newKey(req, time.Now())
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	if err := c.CreateKey(ctx, k); err != nil {
		writeStoreError(w, err)
		return nil
	}
	countKeyChange("created")
	auditLog().Info("key created", zap.String("api", "admin"), zap.String("key_id", k.ID),
		zap.String("name", k.Name), zap.String("type", string(k.Type)), zap.String("user", k.User),
		zap.Strings("scopes", k.Scopes), zap.String("permissions", string(k.Permissions)))
	v := viewOf(k, c)
	v.Key = token
	return writeJSON(w, http.StatusCreated, v)
}

func (a *AdminAPI) listKeys(w http.ResponseWriter, r *http.Request) error {
	c := a.cache(w)
	if c == nil {
		return nil
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	keys, err := c.Store().ListKeys(ctx)
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewOf(k, c))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (a *AdminAPI) getKey(w http.ResponseWriter, r *http.Request, id string) error {
	c := a.cache(w)
	if c == nil {
		return nil
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	k, err := c.Store().GetKey(ctx, id)
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	return writeJSON(w, http.StatusOK, viewOf(k, c))
}

func (a *AdminAPI) updateKey(w http.ResponseWriter, r *http.Request, id string) error {
	c := a.cache(w)
	if c == nil {
		return nil
	}
	var req updateKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeStoreError(w, err)
		return nil
	}
	fn, err := applyUpdate(req, time.Now())
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	k, err := c.UpdateKey(ctx, id, fn)
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	countKeyChange("updated")
	auditLog().Info("key updated", zap.String("api", "admin"), zap.String("key_id", k.ID),
		zap.String("name", k.Name), zap.Strings("scopes", k.Scopes), zap.String("permissions", string(k.Permissions)))
	return writeJSON(w, http.StatusOK, viewOf(k, c))
}

func (a *AdminAPI) deleteKey(w http.ResponseWriter, r *http.Request, id string) error {
	c := a.cache(w)
	if c == nil {
		return nil
	}
	ctx, cancel := storeContext(r)
	defer cancel()
	k, err := c.DeleteKey(ctx, id)
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	countKeyChange("deleted")
	auditLog().Info("key deleted", zap.String("api", "admin"), zap.String("key_id", k.ID), zap.String("name", k.Name))
	return writeJSON(w, http.StatusOK, map[string]any{"deleted": viewOf(k, c)})
}

func (a *AdminAPI) handleRevocations(w http.ResponseWriter, r *http.Request) error {
	app := current.Load()
	if app == nil {
		writeError(w, http.StatusServiceUnavailable, codeStoreUnavailable, errNotConfigured.Error())
		return nil
	}
	switch r.Method {
	case http.MethodGet:
		revs := app.Cache().Revocations(time.Now())
		if revs == nil {
			revs = []keystore.Revocation{}
		}
		return writeJSON(w, http.StatusOK, map[string]any{"revocations": revs})
	case http.MethodPost:
		var req revokeRequest
		if err := decodeSmallJSON(w, r, &req, revokeExample); err != nil {
			writeStoreError(w, err)
			return nil
		}
		rev, _, err := app.revocationFor(req, time.Now())
		if err != nil {
			writeStoreError(w, err)
			return nil
		}
		return app.revoke(w, r.Context(), rev, "admin", "")
	}
	w.Header().Set("Allow", "GET, POST")
	writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use GET or POST")
	return nil
}

// revoke stores rev (nil: the URL had expired already) and answers.
func (a *App) revoke(w http.ResponseWriter, ctx context.Context, rev *keystore.Revocation, api, byKey string) error {
	if rev == nil {
		return writeJSON(w, http.StatusOK, revokeResponse{AlreadyExpired: true})
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := a.Cache().Revoke(ctx, *rev); err != nil {
		writeStoreError(w, err)
		return nil
	}
	if !a.DisableMetrics {
		revocationsTotal.WithLabelValues(string(rev.Kind)).Inc()
	}
	fields := []zap.Field{zap.String("api", api), zap.String("by_key_id", byKey),
		zap.String("kind", string(rev.Kind)), zap.String("target", rev.Target), zap.Time("expires_at", rev.ExpiresAt)}
	if !rev.Before.IsZero() {
		fields = append(fields, zap.Time("before", rev.Before))
	}
	auditLog().Info("revoked", fields...)
	return writeJSON(w, http.StatusOK, revokeResponse{Revocation: rev})
}

// countKeyChange counts a key lifecycle change, unless metrics are off.
func countKeyChange(op string) {
	if app := current.Load(); app != nil && !app.DisableMetrics {
		keyChanges.WithLabelValues(op).Inc()
	}
}

// adminSignRequest is the body of POST /signet/sign.
type adminSignRequest struct {
	// Path is the file's path, e.g. /reports/q1.pdf.
	Path string `json:"path"`
	// ExpiresIn is the lifetime in seconds.
	ExpiresIn json.RawMessage `json:"expires_in"`
	// BaseURL is scheme://host[:port]; default: the app's base_url.
	BaseURL string `json:"base_url"`
}

// handleSign signs a URL as the operator: the URL carries no key id, so
// only its expiry (or a secret rotation) ends it.
func (a *AdminAPI) handleSign(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use POST")
		return nil
	}
	app := current.Load()
	if app == nil {
		writeError(w, http.StatusServiceUnavailable, codeStoreUnavailable, errNotConfigured.Error())
		return nil
	}
	var req adminSignRequest
	if err := decodeSignBody(w, r, &req); err != nil {
		writeStoreError(w, err)
		return nil
	}
	resp, err := app.adminSign(req, time.Now())
	if err != nil {
		writeStoreError(w, err)
		return nil
	}
	if !app.DisableMetrics {
		signedURLsIssued.WithLabelValues("admin").Inc()
	}
	auditLog().Info("signed URL issued", zap.String("api", "admin"), zap.String("url_id", resp.ID),
		zap.String("path", req.Path), zap.Time("expires_at", resp.ExpiresAt))
	return writeJSON(w, http.StatusOK, resp)
}

func (a *App) adminSign(req adminSignRequest, now time.Time) (signedURLResponse, error) {
	if req.Path == "" || req.Path[0] != '/' || verifier.CheckPath(req.Path, "") != nil {
		return signedURLResponse{}, badField("path", "must be a clean absolute path such as /reports/q1.pdf")
	}
	lifetime, err := parseExpiresIn(req.ExpiresIn, time.Duration(a.MaxLifetime))
	if err != nil {
		return signedURLResponse{}, err
	}
	base := a.baseURL
	if req.BaseURL != "" {
		if base, err = parseBaseURL(req.BaseURL); err != nil {
			return signedURLResponse{}, badField("base_url", "%v", err)
		}
	}
	if base == nil {
		return signedURLResponse{}, badField("base_url", "required: no base_url is configured (e.g. https://files.example.com)")
	}
	return a.signURL(base, req.Path, "", lifetime, nil, now)
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
