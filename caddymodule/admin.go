package caddymodule

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI serves Signet's operator endpoints on Caddy's admin endpoint
// (localhost:2019 by default). The caller is the operator (rules.Operator):
//
//	POST   /signet/keys        create a key; the response holds its value, once
//	GET    /signet/keys        list keys (never values)
//	GET    /signet/keys/{id}   one key
//	PATCH  /signet/keys/{id}   rename, change user, scopes, permissions, expiry
//	DELETE /signet/keys/{id}   delete (revoke) a key
//	POST   /signet/users       create a user; GET lists them
//	GET    /signet/users/{name} one user; PATCH changes it; DELETE deletes it and its keys
//	GET    /signet/links       the ledger of issued links; GET/PATCH/DELETE /signet/links/{id}
//	POST   /signet/links/revoke revoke links by filter
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

// adminHandler is an admin endpoint: it gets the running app's state and
// returns an error, which serve renders (the one adapter).
type adminHandler func(w http.ResponseWriter, r *http.Request, app *App, st *running) error

var errNotConfigured = &apiError{status: http.StatusServiceUnavailable, code: codeStoreUnavailable,
	msg: "signet is not running: no config uses it (add the signet directive or global option)"}

func (f adminHandler) serve(w http.ResponseWriter, r *http.Request) error {
	err := errNotConfigured
	if app := current.Load(); app != nil {
		st, serr := app.state()
		if serr == nil {
			e := f(w, r, app, st)
			if e == nil {
				return nil
			}
			err = toAPIError(e, "no such key")
		} else {
			err = toAPIError(serr, "")
		}
	}
	if err.status == http.StatusInternalServerError {
		caddy.Log().Named("admin.api.signet").Error("request failed", zap.String("uri_path", r.URL.Path))
	}
	writeAPIError(w, err)
	return nil
}

// methods routes by method; others get 405 with Allow.
func methods(m map[string]adminHandler, allow string) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
		if f := m[r.Method]; f != nil {
			return f(w, r, app, st)
		}
		return methodNotAllowed(allow)
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	route := func(pattern string, f adminHandler) caddy.AdminRoute {
		return caddy.AdminRoute{Pattern: pattern, Handler: caddy.AdminHandlerFunc(f.serve)}
	}
	operator := func(w http.ResponseWriter, r *http.Request, app *App, st *running) apiCall {
		return apiCall{w: w, r: r, app: app, st: st, actor: rules.Operator, api: "admin"}
	}
	return []caddy.AdminRoute{
		route("/signet/keys", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			return operator(w, r, app, st).keysAPI().serve(r, true, "")
		}),
		route("/signet/keys/", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			return operator(w, r, app, st).keysAPI().serve(r, false, strings.TrimPrefix(r.URL.Path, "/signet/keys/"))
		}),
		route("/signet/users", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			return operator(w, r, app, st).usersAPI().serve(r, true, "")
		}),
		route("/signet/users/", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			return operator(w, r, app, st).usersAPI().serve(r, false, strings.TrimPrefix(r.URL.Path, "/signet/users/"))
		}),
		route("/signet/links", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			return operator(w, r, app, st).linksAPI().serve(r, true, "")
		}),
		route("/signet/links/", func(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
			id := strings.TrimPrefix(r.URL.Path, "/signet/links/")
			if id == "revoke" {
				if r.Method != http.MethodPost {
					return methodNotAllowed(http.MethodPost)
				}
				return operator(w, r, app, st).bulkRevoke()
			}
			return operator(w, r, app, st).linksAPI().serve(r, false, id)
		}),
		route("/signet/sign", methods(map[string]adminHandler{http.MethodPost: adminSign}, "POST")),
		route("/signet/revocations", methods(map[string]adminHandler{http.MethodGet: listRevocations, http.MethodPost: adminRevoke}, "GET, POST")),
	}
}

// countKeyChange counts a key lifecycle change, unless metrics are off.
func (a *App) countKeyChange(op string) {
	if !a.DisableMetrics {
		keyChanges.WithLabelValues(op).Inc()
	}
}

// countUserChange counts a user change, unless metrics are off.
func (a *App) countUserChange(op string) {
	if !a.DisableMetrics {
		userChanges.WithLabelValues(op).Inc()
	}
}

func listRevocations(w http.ResponseWriter, _ *http.Request, _ *App, st *running) error {
	revs := st.backend.cache.Revocations(time.Now())
	if revs == nil {
		revs = []keystore.Revocation{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"revocations": revs})
}

func adminRevoke(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
	var req rules.RevokeRequest
	if err := decodeJSON(w, r, &req, maxPublicBody, revokeExample); err != nil {
		return err
	}
	rev, claims, err := rules.Revocation(req, st.verifier, time.Now(), app.pathForms()...)
	if err != nil {
		return err
	}
	if err := rules.MayRevoke(rules.Operator, req, rev, claims); err != nil {
		return err
	}
	resp, err := app.revoke(r.Context(), st, rev, "admin", rules.Operator)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// adminSignRequest is the body of POST /signet/sign.
type adminSignRequest struct {
	// Path is the file's path, e.g. /reports/q1.pdf.
	Path string `json:"path"`
	// ExpiresIn is the lifetime in seconds.
	ExpiresIn json.RawMessage `json:"expires_in"`
	// BaseURL is scheme://host[:port]; default: the app's base_url.
	BaseURL string `json:"base_url"`
	// Folder makes a folder link for every path under Path.
	Folder bool `json:"folder"`
	rules.PolicyRequest
}

// adminSign signs a URL as the operator: the URL carries no key id, so
// only its expiry, a revocation (by id, URL or prefix) or a secret rotation
// ends it.
func adminSign(w http.ResponseWriter, r *http.Request, app *App, st *running) error {
	var req adminSignRequest
	if err := decodeJSON(w, r, &req, maxPublicBody, signExample); err != nil {
		return err
	}
	if req.Path == "" || req.Path[0] != '/' || verifier.CheckPath(req.Path, "") != nil {
		return rules.BadField("path", "must be a clean absolute path such as /reports/q1.pdf")
	}
	lifetime, err := rules.ExpiresIn(req.ExpiresIn, time.Duration(app.MaxLifetime))
	if err != nil {
		return err
	}
	grant, err := rules.Grant(req.Path, req.Folder)
	if err != nil {
		return err
	}
	pol, err := rules.Policy(req.PolicyRequest, req.Folder)
	if err != nil {
		return err
	}
	base := app.baseURL
	if req.BaseURL != "" {
		if base, err = parseBaseURL(req.BaseURL); err != nil {
			return rules.BadField("base_url", "%v", err)
		}
	}
	if base == nil {
		return rules.BadField("base_url", "required: no base_url is configured (e.g. https://files.example.com)")
	}
	resp, err := app.signURL(r.Context(), st, base, app.pathFormAPI(), linkSpec{grant, req.Folder, pol}, rules.Operator, lifetime, time.Now())
	if err != nil {
		return err
	}
	if !app.DisableMetrics {
		signedURLsIssued.WithLabelValues("admin").Inc()
	}
	auditLog().Info("signed URL issued", zap.String("api", "admin"), zap.String("url_id", resp.ID),
		zap.String("path", grant), zap.Bool("folder", req.Folder), zap.Time("expires_at", resp.ExpiresAt))
	return writeJSON(w, http.StatusOK, resp)
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
