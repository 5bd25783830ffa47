package rules

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// MaySign checks that a may sign links at all: the operator, or a secret
// key with the sign permission (admin includes it). Whether the key covers
// a path is Covers.
func MaySign(a Actor) error {
	switch {
	case a.Key == nil:
		return nil
	case a.Key.Type == verifier.KeyPublic:
		return deny("public_key", "public keys cannot sign URLs; use a secret key")
	case !a.Access().Perm.Allows(verifier.PermSign):
		return deny("permission", "this key lacks the sign permission")
	}
	return nil
}

// Covers checks that a's scopes cover path (the operator's cover all).
func Covers(a Actor, path string) error {
	if a.Key != nil && !a.Access().Covers(path) {
		return deny("scope", "API key scope does not cover this path")
	}
	return nil
}

// Grant returns what a link for path grants: path itself for a file link;
// for a folder link (folder true), the folder as a prefix ending in "/"
// ("/movie" and "/movie/" both give "/movie/"), which must be a clean
// scope without ";" of at most verifier.MaxPrefixLen bytes.
func Grant(path string, folder bool) (string, error) {
	if !folder {
		return path, nil
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	switch {
	case len(prefix) > verifier.MaxPrefixLen:
		return "", BadField("path", "a folder link's path must be at most %d bytes", verifier.MaxPrefixLen)
	case verifier.CheckScope(prefix) != nil || strings.Contains(prefix, ";"):
		return "", BadField("path", "a folder must be a clean absolute path such as /movie/ (no ';')")
	}
	return prefix, nil
}

// CheckFile checks the check field of a folder link request: a clean
// relative path of a file inside the folder (e.g. index.m3u8), which the
// origin must have.
func CheckFile(prefix, rel string) (string, error) {
	p := prefix + rel
	if rel == "" || rel[0] == '/' || strings.HasSuffix(rel, "/") || verifier.CheckPath(p, "") != nil || len(p) > verifier.MaxPathLen {
		return "", BadField("check", "must be a clean relative path of a file in the folder, such as index.m3u8")
	}
	return p, nil
}

// ExpiresIn checks a link lifetime given as expires_in: a JSON integer
// (not a string, not a fraction) of seconds from 1 to maxLifetime.
func ExpiresIn(raw json.RawMessage, maxLifetime time.Duration) (time.Duration, error) {
	maxSec := int64(maxLifetime / time.Second)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, BadField("expires_in", "required: the lifetime in seconds (1 to %d)", maxSec)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, BadField("expires_in", "must be a whole number of seconds (1 to %d)", maxSec)
	}
	if v < 1 || v > maxSec {
		return 0, BadField("expires_in", "must be between 1 and %d seconds", maxSec)
	}
	return time.Duration(v) * time.Second, nil
}

// ErrKeyExpiresTooSoon means a link would expire at or before its issue
// time because the issuing key expires first.
var ErrKeyExpiresTooSoon = errors.New("the API key expires before the link could be used")

// LinkExpiry is when a link a issues now for lifetime expires: never past
// the issuing key's own expiry. The result is whole seconds, as in tokens.
func LinkExpiry(a Actor, lifetime time.Duration, now time.Time) (time.Time, error) {
	exp := now.Add(lifetime)
	if a.Key != nil && a.Key.ExpiresAt != nil && a.Key.ExpiresAt.Before(exp) {
		exp = *a.Key.ExpiresAt
	}
	if exp.Unix() <= now.Unix() {
		return time.Time{}, ErrKeyExpiresTooSoon
	}
	return time.Unix(exp.Unix(), 0).UTC(), nil
}

// Vouches returns why the key that issued a link no longer vouches for it,
// or "" when it does. k is the key's current record, nil once deleted, and
// acc its current access (Effective, precomputed by the caller). grant is
// what the link grants: the file's path, or a folder link's whole folder
// (a key narrowed below the folder revokes the folder link, as it could
// not issue it again). Deleted, disabled, expired or downgraded keys, keys
// whose user was narrowed or disabled, and keys whose scope no longer
// covers the grant, revoke their links; re-enabling the key (or its user)
// makes them work again.
func Vouches(k *keystore.Key, acc Access, grant string, now time.Time) string {
	switch {
	case k == nil:
		return "the API key that issued this URL was deleted"
	case k.Expired(now):
		return "the API key that issued this URL has expired"
	case acc.Perm == verifier.PermNone:
		return "the API key that issued this URL is disabled"
	case !acc.Perm.Allows(verifier.PermSign):
		return "the API key that issued this URL may no longer sign"
	case !acc.Covers(grant):
		return "the API key that issued this URL no longer covers this path"
	}
	return ""
}
