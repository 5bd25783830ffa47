package caddymodule

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// signedURLResponse is the answer of the signing endpoint and of the admin
// API's /signet/sign.
type signedURLResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
}

// signURL mints a link to path for actor, valid for lifetime but never past
// the actor's key's expiry. base is scheme://host. It is the one place
// links are made (public API and admin API alike).
func (a *App) signURL(st *running, base *url.URL, path string, actor rules.Actor, lifetime time.Duration, now time.Time) (signedURLResponse, error) {
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
	target := verifier.Target{Host: base.Host, Method: http.MethodGet, Path: path}
	token, err := st.verifier.Sign(verifier.Claims{
		ExpiresAt: exp.Unix(), IssuedAt: now.Unix(), ID: id, KeyID: keyID,
	}, target)
	if err != nil {
		return signedURLResponse{}, err
	}
	u := url.URL{Scheme: base.Scheme, Host: base.Host, Path: path}
	u.RawQuery = verifier.AppendToken("", a.paramName(), token)
	return signedURLResponse{URL: u.String(), ExpiresAt: exp, ID: id.String()}, nil
}
