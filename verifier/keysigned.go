package verifier

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
)

// Offline signing: a secret API key signs links with a secret derived from
// its own value, without asking the server (docs/signed-urls.md, "Signing
// with an API key"). Such a token is key-signed: its secret id is the key
// id, which is also in its key-id field.

// Labels of the derivations; they keep the key id, the offline secret and
// the key's digest (SHA-256 of the bare value) apart.
const (
	keyIDLabel   = "signet-key-id-v1\x00"
	offlineLabel = "signet-offline-v1"
)

// KeyIDLen is the length of a key id derived by KeyIDOf.
const KeyIDLen = 20

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// KeyIDOf returns the id of the API key whose value is token: "key_" and
// the first 10 bytes of SHA-256("signet-key-id-v1" 0x00 token) in
// lower-case base32 (16 characters). Keys get their ids this way, so an
// offline signer needs the value alone. It does not check token.
func KeyIDOf(token string) string {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return "key_" + strings.ToLower(keyIDEncoding.EncodeToString(sum[:10]))
}

// OfflineSecret returns the offline signing secret of the API key value
// token: HMAC-SHA256 keyed with the value, of "signet-offline-v1". A
// server stores it for keys that sign offline; it cannot be turned back
// into the value.
func OfflineSecret(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(offlineLabel))
	return m.Sum(nil)
}

// OfflineKey is an API key's own signing secret with its HMAC keyed once:
// an application signs the key's links with it (OfflineKeyOf, Sign) and a
// server verifies them (WithOfflineKeys). It is immutable and safe for
// concurrent use.
type OfflineKey struct {
	rs    ringSecret
	owner any
}

// NewOfflineKey returns the OfflineKey of the key keyID (a valid secret id:
// 1–32 characters of [A-Za-z0-9_-]) with the given secret (at least
// MinSecretLen bytes, copied), as a server that stored OfflineSecret has
// it. owner is what Owner returns (nil is fine): a server keeps there its
// record of the key, which Verify hands back with the claims
// (Claims.Offline), so the caller need not look the key up again.
func NewOfflineKey(keyID string, secret []byte, owner any) (*OfflineKey, error) {
	s := Secret{ID: keyID, Key: secret}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ks := &OfflineKey{owner: owner}
	ks.rs.init(s)
	return ks, nil
}

// Owner returns the owner given to NewOfflineKey; nil for a nil ks (the
// claims of a token the ring signed).
func (ks *OfflineKey) Owner() any {
	if ks == nil {
		return nil
	}
	return ks.owner
}

// ErrNotSigningKey means a value given to OfflineKeyOf is not a secret API
// key.
var ErrNotSigningKey = errors.New("not a secret API key (sk_…): public keys cannot sign")

// OfflineKeyOf checks the API key value token (its shape and checksum: a
// secret key) and derives its id and offline secret.
func OfflineKeyOf(token string) (*OfflineKey, error) {
	typ, _, err := ParseKeyToken(token)
	if err != nil {
		return nil, err
	}
	if typ != KeySecret {
		return nil, ErrNotSigningKey
	}
	return NewOfflineKey(KeyIDOf(token), OfflineSecret(token), nil)
}

// KeyID returns the id of the key.
func (ks *OfflineKey) KeyID() string { return ks.rs.id }

// Sign returns a key-signed token for claims c bound to target t, as
// Sign does, with c.KeyID and c.SecretID set to the key's id.
func (ks *OfflineKey) Sign(c Claims, t Target) (string, error) {
	c.KeyID, c.SecretID = ks.rs.id, ks.rs.id
	ms := ks.rs.get()
	tok, err := sign(ms, &c, t)
	ks.rs.put(ms)
	return tok, err
}

// KeyRef is the id of the key that signed a key-signed token, zero-padded
// (ids never hold a zero byte). The WithOfflineKeys hook receives it by
// value, so Verify can pass the id without allocating.
type KeyRef [maxSecretIDLen]byte

// Bytes returns the id, without the padding.
func (r *KeyRef) Bytes() []byte {
	if i := bytes.IndexByte(r[:], 0); i >= 0 {
		return r[:i]
	}
	return r[:]
}

// String returns the id.
func (r KeyRef) String() string { return string(r.Bytes()) }

// WithOfflineKeys makes f supply the secrets of key-signed tokens (those
// whose secret id equals their key id): Verify and VerifyToken call f with
// the key id, at most once per call and before the tag is checked, and
// refuse the token with ErrBadSignature when f returns nil (an unknown
// key, or one that does not sign offline) or an OfflineKey of another id.
// Key-signed tokens are never checked against the ring; without this
// option they are refused. f is on the request path: it must be fast, must
// not block and must be safe for concurrent use.
func WithOfflineKeys(f func(id KeyRef) *OfflineKey) Option {
	return Option{func(v *Verifier) { v.keys = f }}
}

// KeySigned reports whether the claims are those of a key-signed token:
// signed by the API key KeyID with its own secret.
func (c *Claims) KeySigned() bool { return c.KeyID != "" && c.SecretID == c.KeyID }

// secretFor returns the secret that verifies a token with parts p: the
// key's own for a key-signed token (with the key), else the ring's entry;
// nil if none.
func (v *Verifier) secretFor(p *tokenParts) (*ringSecret, *OfflineKey) {
	if len(p.keyID) == 0 || !bytes.Equal(p.secretID, p.keyID) {
		return v.ring.find(p.secretID), nil
	}
	if v.keys == nil {
		return nil, nil
	}
	var ref KeyRef
	copy(ref[:], p.secretID)
	ks := v.keys(ref)
	if ks == nil || ks.rs.id != string(p.secretID) {
		return nil, nil
	}
	return &ks.rs, ks
}
