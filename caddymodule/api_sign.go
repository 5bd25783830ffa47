package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// signRequest is the body of POST {api}/files/{path}/signed-url.
type signRequest struct {
	ExpiresIn json.RawMessage `json:"expires_in"`
	// Folder makes a folder link: it grants every path under {path}/.
	Folder bool `json:"folder"`
	// Check names a file in the folder (relative, e.g. index.m3u8) the
	// origin must have; default: the folder itself ({path}/).
	Check string `json:"check"`
	rules.PolicyRequest
}

const signExample = `{"expires_in": 3600}, or {"expires_in": 3600, "folder": true}`

// serveSign is the signing endpoint, POST {api}/files/{path}/signed-url.
// Check order: the API prelude (client limit, staleness, key), may this key
// sign, its rate limit, its scope, the body, then the origin. A key's scope
// covers the folder /p/ exactly when it covers the path /p, so the scope is
// checked before the body says whether a folder is asked for.
func (h *Handler) serveSign(w http.ResponseWriter, r *http.Request, dc decision, filePath string, next caddyhttp.Handler) error {
	c, err := h.apiCaller(r, http.MethodPost)
	if err == nil {
		err = rules.MaySign(c.actor)
	}
	if err == nil {
		err = h.keyLimit(c)
	}
	if err == nil {
		err = rules.Covers(c.actor, filePath)
	}
	var req signRequest
	if err == nil {
		err = decodeJSON(w, r, &req, maxPublicBody, signExample)
	}
	var lifetime time.Duration
	if err == nil {
		lifetime, err = rules.ExpiresIn(req.ExpiresIn, time.Duration(h.app.MaxLifetime))
	}
	grant, check := filePath, filePath
	if err == nil {
		grant, err = rules.Grant(filePath, req.Folder)
		check = grant
	}
	if err == nil && req.Check != "" {
		if !req.Folder {
			err = rules.BadField("check", "only a folder link names a file to check")
		} else {
			check, err = rules.CheckFile(grant, req.Check)
		}
	}
	var pol verifier.Policy
	if err == nil {
		pol, err = rules.Policy(req.PolicyRequest, req.Folder)
	}
	if err == nil {
		err = h.originHas(r, check, next)
	}
	var resp signedURLResponse
	if err == nil {
		resp, err = h.app.signURL(r.Context(), c.st, h.baseURLFor(r), h.API, linkSpec{grant, req.Folder, pol}, c.actor, lifetime, c.now)
	}
	if err != nil {
		return h.fail(w, r, dc, err)
	}
	c.entry.MarkUsed(c.now)
	h.countAllowed(dc, allowedOK)
	if h.metrics {
		signedURLsIssued.WithLabelValues("public").Inc()
	}
	if l := h.logger.Check(zap.DebugLevel, "signed URL issued"); l != nil {
		l.Write(zap.String("key_id", c.entry.Key.ID), zap.String("url_id", resp.ID),
			zap.String("path", grant), zap.Bool("folder", req.Folder), zap.Time("expires_at", resp.ExpiresAt))
	}
	return writeJSON(w, http.StatusOK, resp)
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

// originHas asks the rest of the route (file_server, reverse_proxy, …) for
// the file with a clean HEAD request: nil if it answers below 400.
func (h *Handler) originHas(r *http.Request, filePath string, next caddyhttp.Handler) error {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	head := r.Clone(ctx)
	head.Method = http.MethodHead
	head.URL.Path, head.URL.RawPath, head.URL.RawQuery = filePath, "", ""
	head.RequestURI = (&url.URL{Path: filePath}).EscapedPath()
	for _, name := range []string{"Content-Type", "If-None-Match", "If-Modified-Since", "Range"} {
		delete(head.Header, name)
	}
	h.cleanRead(head)
	rec := &statusRecorder{header: make(http.Header)}
	status := 0
	if err := next.ServeHTTP(rec, head); err != nil {
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode == 0 {
			h.logger.Warn("checking the origin for a file failed", zap.Error(err))
			return errOrigin("could not check the file at the origin")
		}
		status = he.StatusCode
	} else if status = rec.status; status == 0 {
		status = http.StatusOK
	}
	switch {
	case (status == http.StatusNotFound || status == http.StatusGone) && strings.HasSuffix(filePath, "/"):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, reason: "not_found",
			msg: "the origin has no " + filePath + " (a folder answers only with an index file or file_server browse): name a file in it with \"check\""}
	case status == http.StatusNotFound || status == http.StatusGone:
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no such file", reason: "not_found"}
	case status >= 400:
		return errOrigin(fmt.Sprintf("the origin answered %d for this file", status))
	}
	return nil
}

func errOrigin(msg string) *apiError {
	return &apiError{status: http.StatusBadGateway, code: codeOriginUnavailable, msg: msg, reason: "origin_error"}
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
