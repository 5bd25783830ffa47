package caddymodule

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// revocationTTL is how long key, prefix and by-id revocations are kept:
// the longest lifetime a signed URL can have had when it was issued (7d,
// whatever max_lifetime says now, since it may have been higher before).
const revocationTTL = 7 * 24 * time.Hour

const revokeExample = `{"url": "https://files.example.com/a.pdf?sig=…"}`

// revokeRequest is the body of POST /signet/revocations (admin API) and
// POST {api}/revocations (public API). Exactly one field is given.
type revokeRequest struct {
	// URL is a whole signed URL: revoke that link until it expires.
	URL string `json:"url,omitempty"`
	// ID is a signed URL's id (the "id" the signing endpoint returned).
	ID string `json:"id,omitempty"`
	// KeyID revokes every signed URL that key issued until now.
	KeyID string `json:"key_id,omitempty"`
	// Prefix revokes every signed URL for paths under it issued until now.
	Prefix string `json:"prefix,omitempty"`
}

// revokeResponse answers a revocation.
type revokeResponse struct {
	// Revocation is the record now enforced; absent when the URL had
	// expired already (AlreadyExpired).
	Revocation     *keystore.Revocation `json:"revocation,omitempty"`
	AlreadyExpired bool                 `json:"already_expired,omitempty"`
}

// revocationFor validates req and returns the record to store. For a whole
// URL it also returns the URL's claims (whose KeyID says who issued it).
// It returns a nil record, and no error, for a URL that has expired.
func (a *App) revocationFor(req revokeRequest, now time.Time) (*keystore.Revocation, *verifier.Claims, error) {
	given := 0
	for _, v := range []string{req.URL, req.ID, req.KeyID, req.Prefix} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return nil, nil, badField("body", "give exactly one of url, id, key_id, prefix")
	}
	now = now.UTC().Truncate(time.Second)
	until := now.Add(revocationTTL)
	switch {
	case req.URL != "":
		u, err := url.Parse(req.URL)
		if err != nil || u.Host == "" {
			return nil, nil, badField("url", "must be a whole signed URL, https://host/path?sig=…")
		}
		c, err := a.verifier.Verify(verifier.Target{
			Host: u.Host, Method: http.MethodGet, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery,
		}, now)
		switch {
		case errors.Is(err, verifier.ErrExpired):
			return nil, nil, nil
		case err != nil:
			return nil, nil, badField("url", "not a valid signed URL of this server (%v)", err)
		}
		return &keystore.Revocation{Kind: keystore.RevokeURL, Target: c.ID.String(),
			ExpiresAt: time.Unix(c.ExpiresAt, 0).UTC()}, &c, nil
	case req.ID != "":
		r := keystore.Revocation{Kind: keystore.RevokeURL, Target: req.ID, ExpiresAt: until}
		if r.Validate() != nil {
			return nil, nil, badField("id", "must be a signed URL id: %d characters of base64url", verifier.URLIDLen)
		}
		return &r, nil, nil
	case req.KeyID != "":
		if !keystore.ValidKeyID(req.KeyID) {
			return nil, nil, badField("key_id", "must be a key id such as key_abcdefghijklmnop")
		}
		return &keystore.Revocation{Kind: keystore.RevokeKey, Target: req.KeyID, Before: now, ExpiresAt: until}, nil, nil
	default:
		if verifier.CheckScope(req.Prefix) != nil {
			return nil, nil, badField("prefix", "must be a clean absolute path prefix such as /reports/")
		}
		return &keystore.Revocation{Kind: keystore.RevokePrefix, Target: req.Prefix, Before: now, ExpiresAt: until}, nil, nil
	}
}
