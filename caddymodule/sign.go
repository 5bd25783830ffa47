package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// signedURLResponse is the answer of the signing endpoint and of the admin
// API's /signet/sign.
type signedURLResponse struct {
	// URL is the link with the token in its query; for a folder link, the
	// folder's URL, and the same token works for any file under it.
	URL string `json:"url"`
	// PathURL is a folder link's path form, {api}/t/{token}/folder/, under
	// which relative URLs keep the token.
	PathURL   string    `json:"path_url,omitempty"`
	Path      string    `json:"path"`   // what the link grants: the file, or the folder ending in "/"
	Folder    bool      `json:"folder"` // a folder link
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
}

// linkSpec is what a link grants and asks: a file's path, or a folder
// link's prefix from rules.Grant, and its policies from rules.Policy.
type linkSpec struct {
	grant  string
	folder bool
	policy verifier.Policy
}

// signURL mints a link for actor as spec says, valid for lifetime but
// never past the actor's key's expiry. base is scheme://host; api is the
// API prefix of the path form ("" for none). It is the one place links
// are made (public API and admin API alike).
//
// The link is recorded in the ledger before it is returned: a link that
// could not be recorded is not handed out (503).
func (a *App) signURL(ctx context.Context, st *running, base *url.URL, api string, spec linkSpec, actor rules.Actor, lifetime time.Duration, now time.Time) (signedURLResponse, error) {
	grant, folder := spec.grant, spec.folder
	exp, err := rules.LinkExpiry(actor, lifetime, now)
	if errors.Is(err, rules.ErrKeyExpiresTooSoon) {
		return signedURLResponse{}, &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
			msg: "API key expires too soon to sign", reason: "expired"}
	}
	if err != nil {
		return signedURLResponse{}, err
	}
	id, err := verifier.NewURLID()
	if err != nil {
		return signedURLResponse{}, err
	}
	var keyID string
	if actor.Key != nil {
		keyID = actor.Key.ID
	}
	c := verifier.Claims{ExpiresAt: exp.Unix(), IssuedAt: now.Unix(), ID: id, KeyID: keyID, Policy: spec.policy}
	if folder {
		c.Prefix = grant
	}
	token, err := st.verifier.Sign(c, verifier.Target{Host: base.Host, Method: http.MethodGet, Path: grant})
	if err != nil {
		return signedURLResponse{}, err
	}
	var user string
	if actor.Key != nil {
		user = actor.Key.User
	}
	l := ledgerRecord(&c, grant, user)
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := st.backend.cache.CreateLink(ctx, l); err != nil {
		return signedURLResponse{}, err
	}
	u := url.URL{Scheme: base.Scheme, Host: base.Host, Path: grant}
	u.RawQuery = verifier.AppendToken("", a.paramName(), token)
	resp := signedURLResponse{URL: u.String(), Path: grant, Folder: folder, ExpiresAt: exp, ID: id.String()}
	if folder && api != "" {
		p := url.URL{Scheme: base.Scheme, Host: base.Host, Path: "/"}
		resp.PathURL = strings.TrimSuffix(p.String(), "/") + verifier.NewPathForm(api).URLPath(token, grant)
	}
	return resp, nil
}

// ledgerRecord is the ledger record of the link with claims c (as
// signed), granting grant (the file, or the folder prefix), issued by a
// key of user ("" for none).
func ledgerRecord(c *verifier.Claims, grant, user string) *keystore.Link {
	exp := time.Unix(c.ExpiresAt, 0).UTC()
	return &keystore.Link{ID: c.ID.String(), Path: grant, Folder: c.Prefix != "", KeyID: c.KeyID, User: user,
		CreatedAt: time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: exp, SignedExpiresAt: exp, Policy: ledgerPolicy(c.Policy)}
}

// ledgerPolicy is p as the ledger records it.
func ledgerPolicy(p verifier.Policy) keystore.LinkPolicy {
	lp := keystore.LinkPolicy{DownloadName: p.DownloadName, Inline: p.Inline, ContentType: p.ContentType, MaxUses: int64(p.MaxUses)}
	if p.ClientCIDR.IsValid() {
		lp.ClientCIDR = p.ClientCIDR.String()
	}
	return lp
}
