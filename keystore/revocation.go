package keystore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// RevocationKind says what a revocation covers.
type RevocationKind string

// The kinds of revocation.
const (
	// RevokeURL revokes one signed URL; Target is its URL id.
	RevokeURL RevocationKind = "url"
	// RevokeKey revokes every signed URL the key Target issued at or
	// before Before (the key itself keeps working: delete or disable it
	// to stop that).
	RevokeKey RevocationKind = "key"
	// RevokePrefix revokes every signed URL for a path under the prefix
	// Target (matched at segment boundaries) issued at or before Before.
	RevokePrefix RevocationKind = "prefix"
)

// Revocation is one revocation record. Records are never withdrawn: each
// stops mattering at ExpiresAt, when every URL it can cover has expired, and
// stores drop it then.
type Revocation struct {
	Kind   RevocationKind `json:"kind"`
	Target string         `json:"target"`
	// Before is the issue time (whole seconds) at or before which URLs are
	// covered; zero for RevokeURL.
	Before time.Time `json:"before,omitzero"`
	// ExpiresAt is when the record can be forgotten.
	ExpiresAt time.Time `json:"expires_at"`
}

// Validate checks the shape of a revocation.
func (r Revocation) Validate() error {
	switch r.Kind {
	case RevokeURL:
		if len(r.Target) != verifier.URLIDLen || !r.Before.IsZero() {
			return fmt.Errorf("url revocation: target must be a %d-character URL id and before empty", verifier.URLIDLen)
		}
		if _, err := verifier.ParseURLID(r.Target); err != nil {
			return fmt.Errorf("url revocation: target is not a URL id")
		}
	case RevokeKey:
		if !ValidKeyID(r.Target) || r.Before.IsZero() {
			return fmt.Errorf("key revocation: target must be a key id and before set")
		}
	case RevokePrefix:
		if verifier.CheckScope(r.Target) != nil || r.Before.IsZero() {
			return fmt.Errorf("prefix revocation: target must be a clean path prefix and before set")
		}
	default:
		return fmt.Errorf("unknown revocation kind %q", r.Kind)
	}
	if r.ExpiresAt.IsZero() {
		return fmt.Errorf("revocation without expires_at")
	}
	return nil
}

// Ident is the identity of a record: two records with the same ident are
// the same revocation (stores keep the later ExpiresAt). It is also the
// compact string form stores may use: "kind|before-unix|target".
func (r Revocation) Ident() string {
	var before int64
	if !r.Before.IsZero() {
		before = r.Before.Unix()
	}
	return string(r.Kind) + "|" + strconv.FormatInt(before, 10) + "|" + r.Target
}

// ParseIdent is the inverse of Ident; expiresAt is supplied separately.
func ParseIdent(s string, expiresAt time.Time) (Revocation, error) {
	kind, rest, ok1 := strings.Cut(s, "|")
	before, target, ok2 := strings.Cut(rest, "|")
	if !ok1 || !ok2 {
		return Revocation{}, fmt.Errorf("bad revocation ident %q", s)
	}
	sec, err := strconv.ParseInt(before, 10, 64)
	if err != nil {
		return Revocation{}, fmt.Errorf("bad revocation ident %q", s)
	}
	r := Revocation{Kind: RevocationKind(kind), Target: target, ExpiresAt: expiresAt.UTC()}
	if sec != 0 {
		r.Before = time.Unix(sec, 0).UTC()
	}
	return r, r.Validate()
}
