package rules

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Who may see and manage the links in the ledger:
//
//   - a site administrator (the operator, or an admin key over /): every link;
//   - a user's key with sign: the links any key of its user issued;
//   - a site-wide key with sign: the links it issued itself.
//
// Seeing a link is enough to revoke it or shorten it (that only narrows
// access). Extending it is issuing it again: the caller's own access must
// also cover the link's path, and the new expiry obeys the issuing key.

// MayListLinks checks that a may use the links API at all.
func MayListLinks(a Actor) error {
	switch {
	case a.Key == nil:
		return nil
	case a.Key.Type == verifier.KeyPublic:
		return deny("public_key", "public keys cannot manage links; use a secret key")
	case !a.Access().Perm.Allows(verifier.PermSign):
		return deny("permission", "only keys with the sign permission have links")
	}
	return nil
}

// LinkFilter narrows a listing filter f to what a may see, or refuses a
// filter naming links a may not see (another user, another key).
func LinkFilter(a Actor, f keystore.LinkFilter) (keystore.LinkFilter, error) {
	if err := MayListLinks(a); err != nil {
		return f, err
	}
	if f.PathPrefix != "" && verifier.CheckScope(f.PathPrefix) != nil {
		return f, BadField("path", "must be a clean absolute path prefix such as /reports/")
	}
	if f.KeyID != "" && !keystore.ValidKeyID(f.KeyID) {
		return f, BadField("key_id", "must be a key id such as key_abcdefghijklmnop")
	}
	if f.User != "" && !keystore.ValidUserName(f.User) {
		return f, BadField("user", "must be a user name")
	}
	switch {
	case a.IsAdmin():
	case a.Key.User != "":
		if f.User != "" && f.User != a.Key.User {
			return f, deny("not_own", "a user's key sees only its user's links")
		}
		f.User = a.Key.User
	default:
		if f.KeyID != "" && f.KeyID != a.Key.ID || f.User != "" {
			return f, deny("not_own", "a site-wide key sees only the links it issued")
		}
		f.KeyID = a.Key.ID
	}
	return f, nil
}

// SeeLink checks that a may see l.
func SeeLink(a Actor, l *keystore.Link) error {
	if err := MayListLinks(a); err != nil {
		return err
	}
	switch {
	case a.IsAdmin():
		return nil
	case a.Key.User != "" && l.User == a.Key.User:
		return nil
	case a.Key.User == "" && l.KeyID == a.Key.ID:
		return nil
	}
	return deny("not_own", "this link was issued by another key")
}

// LinkPatch is the body of PATCH …/links/{id}: exactly one of the fields.
type LinkPatch struct {
	// ExpiresAt is the new expiry, RFC 3339.
	ExpiresAt *time.Time `json:"expires_at"`
	// ExpiresIn is the new expiry in seconds from now.
	ExpiresIn json.RawMessage `json:"expires_in"`
}

// LinkLongest is the latest a link may ever expire, counted from its
// issue: revocations (by key, prefix or id) are kept this long, so they
// always outlive the links they revoke.
const LinkLongest = RevocationTTL

// MoveExpiry checks a's request to move link l's expiry and returns the
// new expiry (whole seconds). issuer is the issuing key's current record
// (nil for operator links, or once deleted). Shorter is always allowed
// (into the past means at once); later must be at most maxLifetime from
// now, at most LinkLongest after the link was issued, never past the
// issuing key's expiry, and a's access must cover the link's path (a has
// the sign permission: SeeLink asks for it).
func MoveExpiry(a Actor, l *keystore.Link, issuer *keystore.Key, req LinkPatch, maxLifetime time.Duration, now time.Time) (time.Time, error) {
	if err := SeeLink(a, l); err != nil {
		return time.Time{}, err
	}
	now = time.Unix(now.Unix(), 0).UTC()
	var exp time.Time
	switch {
	case req.ExpiresAt != nil && len(req.ExpiresIn) > 0:
		return time.Time{}, BadField("body", "give one of expires_at, expires_in")
	case req.ExpiresAt != nil:
		exp = time.Unix(req.ExpiresAt.Unix(), 0).UTC()
	case len(req.ExpiresIn) > 0:
		d, err := ExpiresIn(req.ExpiresIn, LinkLongest)
		if err != nil {
			return time.Time{}, err
		}
		exp = now.Add(d)
	default:
		return time.Time{}, BadField("body", "give expires_at (RFC 3339) or expires_in (seconds from now)")
	}
	if !exp.After(l.ExpiresAt) {
		if exp.Before(now) {
			exp = now // at once
		}
		return exp, nil
	}
	field := "expires_at"
	if req.ExpiresAt == nil {
		field = "expires_in"
	}
	switch {
	case a.Key != nil && !a.Access().Covers(l.Path):
		return time.Time{}, deny("scope", "only a key whose scope covers the link's path may extend it")
	case exp.After(now.Add(maxLifetime)):
		return time.Time{}, BadField(field, "a link may be extended to at most max_lifetime (%s) from now", maxLifetime)
	case exp.After(l.CreatedAt.Add(LinkLongest)):
		return time.Time{}, BadField(field, "a link may live at most %s after it was issued (until %s)", LinkLongest,
			l.CreatedAt.Add(LinkLongest).UTC().Format(time.RFC3339))
	case l.KeyID != "" && issuer == nil:
		return time.Time{}, deny("revoked", "the key that issued this link was deleted")
	case issuer != nil && issuer.ExpiresAt != nil && exp.After(*issuer.ExpiresAt):
		return time.Time{}, BadField(field, "a link cannot outlive the key that issued it (%s)", issuer.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return exp, nil
}

// BulkRevoke is the body of POST …/links/revoke: every link matching the
// filter (that the caller may see) is revoked. An empty filter needs All.
type BulkRevoke struct {
	Path  string `json:"path"`
	KeyID string `json:"key_id"`
	User  string `json:"user"`
	All   bool   `json:"all"`
}

// Filter checks b and returns its listing filter for a.
func (b BulkRevoke) Filter(a Actor) (keystore.LinkFilter, error) {
	f := keystore.LinkFilter{PathPrefix: b.Path, KeyID: b.KeyID, User: b.User}
	if f == (keystore.LinkFilter{}) && !b.All {
		return f, BadField("body", "give path, key_id or user, or all: true to revoke every link you may see")
	}
	if strings.Contains(b.Path, ";") {
		return f, BadField("path", "must not contain ';'")
	}
	return LinkFilter(a, f)
}
