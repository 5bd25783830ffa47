package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sign returns the token for claims c bound to target t (t.RawQuery = the
// other params, without the signature param), signed with s; c.SecretID is
// set from s.ID. It is for signing without a Verifier (tools, offline
// signers); a server signs with (*Verifier).Sign.
//
// c must have 0 < IssuedAt < ExpiresAt, a KeyID of at most MaxKeyIDLen
// printable ASCII characters (no space), a Prefix that is empty or a
// valid scope (see CheckScope) of at most MaxPrefixLen bytes covering
// t.Path, and a Policy that passes Check; ExpiresAt is the expiry signed
// (c.SignedExpiresAt is ignored). t must be a GET or HEAD request
// (ErrMethodNotAllowed otherwise) with a non-empty host and a path that
// passes CheckPath (ErrAmbiguousPath otherwise), and t.RawQuery must be at
// most MaxSignQueryLen bytes of well-formed percent-encoding. Sign does not
// enforce a maximum lifetime; that is the caller's policy.
func Sign(s Secret, c Claims, t Target) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	c.SecretID = s.ID
	return sign(&macState{mac: hmac.New(sha256.New, s.Key)}, &c, t)
}

// Sign is Sign with the first secret of v's ring.
func (v *Verifier) Sign(c Claims, t Target) (string, error) {
	rs := &v.ring[0]
	if c.KeyID == rs.id {
		return "", errors.New("cannot sign: a token whose key id is its secret id is key-signed; sign it with the key's OfflineKey")
	}
	c.SecretID = rs.id
	ms := rs.get()
	tok, err := sign(ms, &c, t)
	rs.put(ms)
	return tok, err
}

// sign checks c and t and makes the token with the keyed HMAC of ms.
func sign(ms *macState, c *Claims, t Target) (string, error) {
	switch {
	case c.IssuedAt <= 0 || c.ExpiresAt <= c.IssuedAt:
		return "", errors.New("cannot sign: need 0 < issued_at < expires_at")
	case !validKeyID(c.KeyID):
		return "", fmt.Errorf("cannot sign: key id must be at most %d printable ASCII characters", MaxKeyIDLen)
	case len(c.Prefix) > MaxPrefixLen:
		return "", fmt.Errorf("cannot sign: prefix longer than %d bytes", MaxPrefixLen)
	case c.Prefix != "" && CheckScope(c.Prefix) != nil:
		return "", errors.New("cannot sign: prefix is not a clean absolute path")
	}
	if err := c.Policy.Check(); err != nil {
		return "", fmt.Errorf("cannot sign: %w", err)
	}
	if t.Method != "GET" && t.Method != "HEAD" {
		return "", ErrMethodNotAllowed
	}
	switch {
	case len(t.Host) > MaxHostLen || t.Host == ":80" || t.Host == ":443" || t.Host == "":
		return "", fmt.Errorf("cannot sign: host missing or longer than %d bytes", MaxHostLen)
	case len(t.Path) > MaxPathLen || len(t.RawPath) > MaxPathLen:
		return "", fmt.Errorf("cannot sign: path longer than %d bytes", MaxPathLen)
	case len(t.RawQuery) > MaxSignQueryLen:
		return "", fmt.Errorf("cannot sign: query longer than %d bytes", MaxSignQueryLen)
	}
	if err := CheckPath(t.Path, t.RawPath); err != nil {
		return "", err
	}
	if c.Prefix != "" && !ScopeCovers(c.Prefix, t.Path) {
		return "", errors.New("cannot sign: the prefix does not cover the path")
	}
	if c.Prefix != "" && t.RawQuery != "" {
		return "", errors.New("cannot sign: a folder token binds no query; sign it without one")
	}

	var rawBuf [maxRawTokenLen]byte
	raw := appendSigned(rawBuf[:0], c)
	bound := t.Path
	if c.Prefix != "" {
		bound = c.Prefix
	}
	var ok bool
	ms.buf, ms.spans, ok = appendMACInput(ms.buf[:0], raw, t.Host, bound, t.RawQuery, "", ms.spans)
	if !ok {
		return "", errors.New("cannot sign: query has an invalid percent-encoding")
	}
	raw = append(raw, ms.tag()...)
	token := base64.RawURLEncoding.EncodeToString(raw)
	if len(token) > MaxTokenLen {
		return "", fmt.Errorf("cannot sign: token longer than %d bytes", MaxTokenLen)
	}
	return token, nil
}
