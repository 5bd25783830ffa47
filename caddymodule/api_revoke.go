package caddymodule

import (
	"net/http"

	"github.com/caddy-signet/signet/rules"
)

// serveRevoke is POST {api}/revocations: who may revoke what is
// rules.MayRevoke.
func (h *Handler) serveRevoke(w http.ResponseWriter, r *http.Request, dc decision) error {
	c, err := h.apiCaller(r, http.MethodPost)
	if err == nil {
		err = rules.MayRevokeSome(c.actor)
	}
	var req rules.RevokeRequest
	if err == nil {
		err = decodeJSON(w, r, &req, maxPublicBody, revokeExample)
	}
	if err != nil {
		return h.fail(w, r, dc, err)
	}
	rev, claims, err := rules.Revocation(req, c.st.verifier, c.now, h.pathForm)
	if err == nil {
		err = rules.MayRevoke(c.actor, req, rev, claims)
	}
	var resp revokeResponse
	if err == nil {
		resp, err = h.app.revoke(r.Context(), c.st, rev, "public", c.actor)
	}
	if err != nil {
		return h.fail(w, r, dc, err)
	}
	h.countAllowed(dc, allowedOK)
	return writeJSON(w, http.StatusOK, resp)
}
