package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Defaults of the signing endpoint.
const (
	defaultAPIPrefix      = "/_signet/v1"
	defaultKeyRate        = 100 // signatures per second per API key
	defaultClientRate     = 200 // requests per second per client IP
	signedURLSuffix       = "/signed-url"
	maxSignRequestBody    = 4 << 10
	codeRateLimited       = "rate_limit_exceeded"
	codeMethodNotAllowed  = "method_not_allowed"
	codeOriginUnavailable = "origin_unavailable"
)

// signedURLResponse is the answer of the signing endpoint and of the admin
// API's /signet/sign.
type signedURLResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
}

// signRequest is the body of POST {api}/files/{path}/signed-url.
type signRequest struct {
	ExpiresIn json.RawMessage `json:"expires_in"`
}

// parseExpiresIn checks expires_in: a JSON integer (not a string, not a
// fraction) of seconds from 1 to max.
func parseExpiresIn(raw json.RawMessage, maxLifetime time.Duration) (time.Duration, error) {
	maxSec := int64(maxLifetime / time.Second)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, badField("expires_in", "required: the lifetime in seconds (1 to %d)", maxSec)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, badField("expires_in", "must be a whole number of seconds (1 to %d)", maxSec)
	}
	if v < 1 || v > maxSec {
		return 0, badField("expires_in", "must be between 1 and %d seconds", maxSec)
	}
	return time.Duration(v) * time.Second, nil
}

// decodeSignBody reads a small JSON body strictly into v.
func decodeSignBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeSmallJSON(w, r, v, `{"expires_in": 3600}`)
}

// decodeSmallJSON reads a small JSON body strictly into v; example is the
// shape shown when the body is not an object.
func decodeSmallJSON(w http.ResponseWriter, r *http.Request, v any, example string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxSignRequestBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return badField("body", "larger than %d bytes", maxSignRequestBody)
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return badField(typeErr.Field, "must be a %s", jsonKind(typeErr.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return badField("body", "must be a JSON object such as %s", example)
	}
	if dec.More() {
		return badField("body", "unexpected data after the JSON object")
	}
	return nil
}

// signURL signs path for the claims' issuer and returns the response.
// base is scheme://host; keyExpiry, if set, caps the expiry.
func (a *App) signURL(base *url.URL, path, keyID string, lifetime time.Duration, keyExpiry *time.Time, now time.Time) (signedURLResponse, error) {
	exp := now.Add(lifetime)
	if keyExpiry != nil && keyExpiry.Before(exp) {
		exp = *keyExpiry
	}
	iat, eat := now.Unix(), exp.Unix()
	if eat <= iat {
		return signedURLResponse{}, errors.New("the key expires before the URL could be used")
	}
	id, err := verifier.NewURLID()
	if err != nil {
		return signedURLResponse{}, err
	}
	target := verifier.Target{Host: base.Host, Method: http.MethodGet, Path: path}
	token, err := a.verifier.Sign(verifier.Claims{
		ExpiresAt: eat, IssuedAt: iat, ID: id, KeyID: keyID,
	}, target)
	if err != nil {
		return signedURLResponse{}, err
	}
	u := url.URL{Scheme: base.Scheme, Host: base.Host, Path: path}
	u.RawQuery = verifier.AppendToken("", a.paramName(), token)
	return signedURLResponse{URL: u.String(), ExpiresAt: time.Unix(eat, 0).UTC(), ID: id.String()}, nil
}

func (a *App) paramName() string {
	if a.QueryParam != "" {
		return a.QueryParam
	}
	return verifier.DefaultParam
}

// serveAPI answers requests under the API prefix: the signing endpoint
// POST {api}/files/{path}/signed-url and POST {api}/revocations.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, dc decision, next caddyhttp.Handler) error {
	rest := strings.TrimPrefix(r.URL.Path, h.API)
	if rest == "/revocations" {
		return h.serveRevoke(w, r, dc)
	}
	filePath, ok := strings.CutPrefix(rest, "/files")
	if ok {
		filePath, ok = strings.CutSuffix(filePath, signedURLSuffix)
	}
	if !ok || filePath == "" || filePath[0] != '/' || filePath == "/" {
		delete(r.Header, "Authorization")
		return h.deny(w, r, dc, http.StatusNotFound, codeNotFound, "no such API endpoint; use POST "+h.API+"/files/{path}/signed-url", "api_not_found")
	}
	e, now, err := h.apiCaller(w, r, dc)
	if e == nil {
		return err
	}
	k := e.Key
	switch {
	case k.Type == verifier.KeyPublic:
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "public keys cannot sign URLs; use a secret key", "public_key")
	case !k.Permissions.Allows(verifier.PermSign):
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "this key lacks the sign permission", "permission")
	}
	if ok, wait := h.keyLimits.allow(k.ID, now); !ok {
		return h.rateLimited(w, r, dc, wait, "key")
	}
	if !verifier.AnyScopeCovers(k.Scopes, filePath) {
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "API key scope does not cover this path", "scope")
	}
	var req signRequest
	if err := decodeSignBody(w, r, &req); err != nil {
		return h.badRequest(w, r, dc, err)
	}
	lifetime, err := parseExpiresIn(req.ExpiresIn, time.Duration(h.app.MaxLifetime))
	if err != nil {
		return h.badRequest(w, r, dc, err)
	}
	switch status, err := h.originHas(r, filePath, next); {
	case err != nil:
		h.logger.Warn("checking the origin for a file failed", zap.Error(err))
		return h.deny(w, r, dc, http.StatusBadGateway, codeOriginUnavailable, "could not check the file at the origin", "origin_error")
	case status == http.StatusNotFound || status == http.StatusGone:
		return h.deny(w, r, dc, http.StatusNotFound, codeNotFound, "no such file", "not_found")
	case status >= 400:
		return h.deny(w, r, dc, http.StatusBadGateway, codeOriginUnavailable, fmt.Sprintf("the origin answered %d for this file", status), "origin_error")
	}
	resp, err := h.app.signURL(h.baseURLFor(r), filePath, k.ID, lifetime, k.ExpiresAt, now)
	if err != nil {
		return h.deny(w, r, dc, http.StatusUnauthorized, codeUnauthorized, "API key expires too soon to sign", "expired")
	}
	e.MarkUsed(now)
	h.countRequest(dc, "allowed", "ok")
	if h.metrics {
		signedURLsIssued.WithLabelValues("public").Inc()
	}
	if c := h.logger.Check(zap.DebugLevel, "signed URL issued"); c != nil {
		c.Write(zap.String("key_id", k.ID), zap.String("url_id", resp.ID),
			zap.String("path", filePath), zap.Time("expires_at", resp.ExpiresAt))
	}
	return writeJSON(w, http.StatusOK, resp)
}

// apiCaller runs the checks every public API endpoint starts with: POST
// only, the per-client rate limit (before authentication, so guessing keys
// is limited too), the store's staleness, and a valid API key, which it
// removes from the request. It returns the caller's key, or nil once it
// has answered the request (with the error to return).
func (h *Handler) apiCaller(w http.ResponseWriter, r *http.Request, dc decision) (*keystore.Entry, time.Time, error) {
	now := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return nil, now, h.deny(w, r, dc, http.StatusMethodNotAllowed, codeMethodNotAllowed, "use POST", "method")
	}
	if ok, wait := h.clientLimits.allow(clientIP(r), now); !ok {
		return nil, now, h.rateLimited(w, r, dc, wait, "client")
	}
	if h.app.Stale(now) {
		return nil, now, h.storeUnavailable(w, r, dc)
	}
	e, d := h.authenticate(r, now)
	delete(r.Header, "Authorization")
	if e == nil {
		return nil, now, h.refuse(w, r, dc, d)
	}
	return e, now, nil
}

// storeUnavailable answers 503 while the store is too stale to decide.
func (h *Handler) storeUnavailable(w http.ResponseWriter, r *http.Request, dc decision) error {
	delete(r.Header, "Authorization")
	w.Header().Set("Retry-After", "5")
	return h.deny(w, r, dc, http.StatusServiceUnavailable, codeStoreUnavailable, "the key store is unavailable; try again", "store_unavailable")
}

// serveRevoke is POST {api}/revocations: an admin key may revoke anything;
// a key with the sign permission may revoke the URLs it issued (by whole
// URL) and everything it issued until now (key_id = its own id).
func (h *Handler) serveRevoke(w http.ResponseWriter, r *http.Request, dc decision) error {
	e, now, err := h.apiCaller(w, r, dc)
	if e == nil {
		return err
	}
	k := e.Key
	if k.Type == verifier.KeyPublic || !k.Permissions.Allows(verifier.PermSign) {
		return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "revoking needs a secret key with the sign or admin permission", "permission")
	}
	var req revokeRequest
	if err := decodeSmallJSON(w, r, &req, revokeExample); err != nil {
		return h.badRequest(w, r, dc, err)
	}
	rev, claims, err := h.app.revocationFor(req, now)
	if err != nil {
		return h.badRequest(w, r, dc, err)
	}
	if !k.Permissions.Allows(verifier.PermAdmin) {
		own := (claims != nil && claims.KeyID == k.ID) || (req.KeyID != "" && req.KeyID == k.ID) || (rev == nil && req.URL != "")
		if !own {
			return h.deny(w, r, dc, http.StatusForbidden, codeForbidden, "a sign key may revoke only the URLs it issued; use an admin key", "permission")
		}
	}
	return h.app.revoke(w, r.Context(), rev, "public", k.ID)
}

func (h *Handler) badRequest(w http.ResponseWriter, r *http.Request, dc decision, err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		fe = &fieldError{field: "body", msg: "invalid request"}
	}
	h.countRequest(dc, "denied", "bad_request")
	if c := h.logger.Check(h.denyLevel, "request denied"); h.logDenials && c != nil {
		c.Write(zap.String("reason", "bad_request"), zap.Int("status", http.StatusBadRequest), zap.String("credential", dc.cred),
			zap.String("field", fe.field), zap.String("uri_path", r.URL.Path), zap.String("client_ip", clientIP(r)))
	}
	writeErrorDetail(w, http.StatusBadRequest, errorDetail{Code: codeBadRequest, Message: fe.Error(), Field: fe.field})
	return nil
}

func (h *Handler) rateLimited(w http.ResponseWriter, r *http.Request, dc decision, wait time.Duration, limit string) error {
	if h.metrics {
		rateLimited.WithLabelValues(limit).Inc()
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
	return h.deny(w, r, dc, http.StatusTooManyRequests, codeRateLimited, "too many requests; retry later", "rate_limited")
}

// baseURLFor returns the scheme and host of URLs signed for r.
func (h *Handler) baseURLFor(r *http.Request) *url.URL {
	if h.publicBase != nil {
		return h.publicBase
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host}
}

// originHas asks the rest of the route (file_server, reverse_proxy, …)
// for the file with a HEAD request and returns the status it answers.
func (h *Handler) originHas(r *http.Request, filePath string, next caddyhttp.Handler) (int, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	head := r.Clone(ctx)
	head.Method = http.MethodHead
	head.Body = http.NoBody
	head.ContentLength = 0
	head.URL.Path, head.URL.RawPath, head.URL.RawQuery = filePath, "", ""
	head.RequestURI = (&url.URL{Path: filePath}).EscapedPath()
	for _, name := range []string{"Authorization", "Content-Type", "Content-Length", "If-None-Match", "If-Modified-Since", "Range"} {
		delete(head.Header, name)
	}
	rec := &statusRecorder{header: make(http.Header)}
	if err := next.ServeHTTP(rec, head); err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			return he.StatusCode, nil
		}
		return 0, err
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, nil
}

// statusRecorder is a ResponseWriter that keeps only the status.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
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
	return host
}

// keyForSignedURL returns why the key that issued a signed URL no longer
// vouches for it, or "" when it does. Deleted, disabled, expired or
// downgraded keys, and keys whose scope no longer covers the path, revoke
// their URLs; re-enabling the key makes them work again.
func keyForSignedURL(e *keystore.Entry, path string, now time.Time) string {
	switch {
	case e == nil:
		return "the API key that issued this URL was deleted"
	case e.Expired(now):
		return "the API key that issued this URL has expired"
	case e.Key.Permissions == verifier.PermNone:
		return "the API key that issued this URL is disabled"
	case !e.Key.Permissions.Allows(verifier.PermSign):
		return "the API key that issued this URL may no longer sign"
	case !verifier.AnyScopeCovers(e.Key.Scopes, path):
		return "the API key that issued this URL no longer covers this path"
	}
	return ""
}
