package rules

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// RevocationTTL is how long key, prefix and by-id revocations are kept: the
// longest lifetime a link can have had when it was issued (7d, whatever
// max_lifetime says now, since it may have been higher before).
const RevocationTTL = 7 * 24 * time.Hour

// RevokeRequest is the body of a revocation (POST /signet/revocations and
// POST {api}/revocations). Exactly one field is given.
type RevokeRequest struct {
	// URL is a whole signed URL: revoke that link until it expires.
	URL string `json:"url,omitempty"`
	// ID is a link's id (the "id" the signing endpoint returned).
	ID string `json:"id,omitempty"`
	// KeyID revokes every link that key issued until now.
	KeyID string `json:"key_id,omitempty"`
	// Prefix revokes every link for paths under it issued until now.
	Prefix string `json:"prefix,omitempty"`
}

// Revocation checks req and returns the record to store; for a whole URL it
// also returns the link's claims. It returns a nil record and no error for
// a URL that has expired already. v verifies URLs (nil: refuse them); a
// folder link's path_url is recognised through forms (the path forms of
// the site's API prefixes).
func Revocation(req RevokeRequest, v *verifier.Verifier, now time.Time, forms ...verifier.PathForm) (*keystore.Revocation, *verifier.Claims, error) {
	given := 0
	for _, s := range []string{req.URL, req.ID, req.KeyID, req.Prefix} {
		if s != "" {
			given++
		}
	}
	if given != 1 {
		return nil, nil, BadField("body", "give exactly one of url, id, key_id, prefix")
	}
	now = now.UTC().Truncate(time.Second)
	until := now.Add(RevocationTTL)
	switch {
	case req.URL != "":
		u, err := url.Parse(req.URL)
		if err != nil || u.Host == "" || v == nil {
			return nil, nil, BadField("url", "must be a whole signed URL, https://host/path?sig=…")
		}
		c, err := v.Verify(verifier.Target{
			Host: u.Host, Method: http.MethodGet, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery,
		}, now)
		for _, f := range forms {
			if tok, rest, restRaw, cerr := f.Cut(u.Path, u.RawPath); err == verifier.ErrNoToken && cerr == nil {
				c, err = v.VerifyToken(tok, verifier.Target{
					Host: u.Host, Method: http.MethodGet, Path: rest, RawPath: restRaw, RawQuery: u.RawQuery,
				}, now)
			}
		}
		switch {
		case errors.Is(err, verifier.ErrExpired):
			return nil, nil, nil
		case err != nil:
			return nil, nil, BadField("url", "not a valid signed URL of this server (%v)", err)
		}
		// Kept as long as the link could ever live: its expiry can be
		// moved later (up to LinkLongest after its issue).
		until := time.Unix(c.IssuedAt, 0).Add(RevocationTTL).UTC()
		if exp := time.Unix(c.ExpiresAt, 0).UTC(); exp.After(until) {
			until = exp
		}
		return &keystore.Revocation{Kind: keystore.RevokeURL, Target: c.ID.String(), ExpiresAt: until}, &c, nil
	case req.ID != "":
		r := keystore.Revocation{Kind: keystore.RevokeURL, Target: req.ID, ExpiresAt: until}
		if r.Validate() != nil {
			return nil, nil, BadField("id", "must be a signed URL id: %d characters of base64url", verifier.URLIDLen)
		}
		return &r, nil, nil
	case req.KeyID != "":
		if !keystore.ValidKeyID(req.KeyID) {
			return nil, nil, BadField("key_id", "must be a key id such as key_abcdefghijklmnop")
		}
		return &keystore.Revocation{Kind: keystore.RevokeKey, Target: req.KeyID, Before: now, ExpiresAt: until}, nil, nil
	default:
		if verifier.CheckScope(req.Prefix) != nil {
			return nil, nil, BadField("prefix", "must be a clean absolute path prefix such as /reports/")
		}
		return &keystore.Revocation{Kind: keystore.RevokePrefix, Target: req.Prefix, Before: now, ExpiresAt: until}, nil, nil
	}
}

// MayRevokeSome checks that a may revoke anything at all (checked before
// the request body is read): site administrators, and secret keys with the
// sign permission.
func MayRevokeSome(a Actor) error {
	if a.IsAdmin() {
		return nil
	}
	if a.Key.Type == verifier.KeyPublic || !a.Access().Perm.Allows(verifier.PermSign) {
		return deny("permission", "revoking needs a secret key with the sign or admin permission")
	}
	return nil
}

// MayRevoke checks that a may store rev, made from req (claims: the
// link's, when req names a whole URL). Site administrators may revoke
// anything; a secret key with the sign permission may revoke the links it
// issued (by whole URL) and everything it issued until now (key_id = its
// own id). An expired URL (rev nil) needs no more than sign.
func MayRevoke(a Actor, req RevokeRequest, rev *keystore.Revocation, claims *verifier.Claims) error {
	if err := MayRevokeSome(a); err != nil || a.IsAdmin() {
		return err
	}
	k := a.Key
	own := (claims != nil && claims.KeyID == k.ID) || (req.KeyID != "" && req.KeyID == k.ID) || (rev == nil && req.URL != "")
	if !own {
		return deny("permission", "a sign key may revoke only the URLs it issued; use an admin key")
	}
	return nil
}
