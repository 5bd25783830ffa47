package verifier

import (
	"crypto/sha256"
	"encoding/binary"
)

// Signed-URL token format, version 1 (docs/signed-urls.md is the full
// specification):
//
//	token   = base64url-unpadded( 0x01 || payload || tag )
//	payload = u8 len(secret_id) || secret_id
//	          || u64be expires_at || u64be issued_at || url_id (16 bytes)
//	          || u8 len(key_id) || key_id
//	          || *( u8 type || u16be len(value) || value )   ; constraints
//	tag     = HMAC-SHA256(secret, mac_input)
//
// The constraints are the prefix and the policy, in strictly ascending type
// order (policy.go lists the types). mac_input binds the payload to the
// request; canonical.go builds it.

// Limits of the signed-URL format. Verify refuses inputs over these sizes
// with ErrMalformedToken as soon as it has found the token, before decoding
// it; Sign refuses to create tokens that would exceed them.
const (
	// MaxTokenLen is the longest accepted token, in bytes. The largest
	// token Sign can make (32-byte secret id, 64-byte key id, 200-byte
	// prefix, every policy at its maximum) is 934.
	MaxTokenLen = 1024
	// MaxQueryLen is the longest accepted raw query, signature included.
	MaxQueryLen = 8192
	// MaxSignQueryLen is the longest raw query Sign accepts (the other
	// parameters only), leaving room for "&", the longest signature
	// parameter name, "=" and the longest token.
	MaxSignQueryLen = MaxQueryLen - MaxTokenLen - (maxParamLen + 2)
	// MaxHostLen is the longest accepted host (with port).
	MaxHostLen = 300
	// MaxPathLen is the longest accepted path, decoded or raw.
	MaxPathLen = 4096
	// MaxPrefixLen is the longest granted path prefix.
	MaxPrefixLen = 200
	// MaxKeyIDLen is the longest API key id a token can carry.
	MaxKeyIDLen = 64
)

const (
	tokenVersion   byte = 1
	tagLen              = sha256.Size
	maxRawTokenLen      = MaxTokenLen * 3 / 4
	// version, secret id length, expires_at, issued_at, url id, key id length
	minPayloadLen = 1 + 1 + 8 + 8 + urlIDRawLen + 1
	// the largest token Sign makes, decoded: the payload at every maximum
	// (constraints: type and length, then the value), and the tag
	maxSignedTokenLen = minPayloadLen + maxSecretIDLen + MaxKeyIDLen +
		3 + MaxPrefixLen + // prefix
		3 + 1 + MaxDownloadNameLen + // disposition
		3 + MaxContentTypeLen + // content type
		3 + 4 + // max uses
		3 + 16 + 1 + // client CIDR
		tagLen
)

// The largest token fits the decode buffer, and its text MaxTokenLen.
var (
	_ [maxRawTokenLen - maxSignedTokenLen]struct{}
	_ [MaxTokenLen - (maxSignedTokenLen*4+2)/3]struct{}
)

// Claims are what a token asserts.
//
// Sign signs ExpiresAt as the token's expiry and ignores SignedExpiresAt
// and SecretID (it sets them); Verify returns both expiries.
type Claims struct {
	ExpiresAt       int64  // unix seconds: the expiry in force (SignedExpiresAt, or what the WithExpiry hook made of it)
	SignedExpiresAt int64  // unix seconds: the expiry the token carries
	IssuedAt        int64  // unix seconds; also the not-before
	ID              URLID  // the link's random id
	KeyID           string // id of the issuing API key; "" when issued by an operator
	SecretID        string // id of the secret that signed
	Prefix          string // "" = the token grants exactly Target.Path; else the granted path prefix
	Policy          Policy // what the link asks of the response; the zero Policy = nothing
	// Offline is the key's secret that verified a key-signed token (see
	// KeySigned), as the WithOfflineKeys hook gave it; nil otherwise, and
	// ignored by Sign.
	Offline *OfflineKey
}

// appendSigned appends the token's version and payload (everything the tag
// covers) for claims c, whose fields the caller has checked.
func appendSigned(raw []byte, c *Claims) []byte {
	raw = append(raw, tokenVersion, byte(len(c.SecretID)))
	raw = append(raw, c.SecretID...)
	raw = binary.BigEndian.AppendUint64(raw, uint64(c.ExpiresAt))
	raw = binary.BigEndian.AppendUint64(raw, uint64(c.IssuedAt))
	raw = append(raw, c.ID[:]...)
	raw = append(raw, byte(len(c.KeyID)))
	raw = append(raw, c.KeyID...)
	if c.Prefix != "" {
		raw = append(raw, constraintPrefix)
		raw = binary.BigEndian.AppendUint16(raw, uint16(len(c.Prefix)))
		raw = append(raw, c.Prefix...)
	}
	return appendPolicy(raw, &c.Policy)
}

// tokenParts is a token split into its fields, before the tag is checked.
// Nothing in it is trusted until the tag matches.
type tokenParts struct {
	signed      []byte // version || payload: everything the tag follows
	tag         []byte
	secretID    []byte
	expiresAt   uint64
	issuedAt    uint64
	urlID       []byte
	keyID       []byte
	constraints []byte
	prefix      []byte // value of the first prefix constraint
	hasPrefix   bool
}

// splitToken checks the structure of raw (lengths only) and splits it.
// It returns values, not a pointer, so raw can stay on the caller's stack.
func splitToken(raw []byte) (p tokenParts, ok bool) {
	if len(raw) < minPayloadLen+tagLen || raw[0] != tokenVersion {
		return p, false
	}
	p.signed, p.tag = raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	b := p.signed[1:]
	n := int(b[0])
	b = b[1:]
	if n == 0 || n > maxSecretIDLen || len(b) < n+8+8+urlIDRawLen+1 {
		return p, false
	}
	p.secretID, b = b[:n], b[n:]
	p.expiresAt = binary.BigEndian.Uint64(b)
	p.issuedAt = binary.BigEndian.Uint64(b[8:])
	p.urlID, b = b[16:16+urlIDRawLen], b[16+urlIDRawLen:]
	n = int(b[0])
	b = b[1:]
	if n > MaxKeyIDLen || len(b) < n {
		return p, false
	}
	p.keyID, b = b[:n], b[n:]
	p.constraints = b
	for len(b) > 0 {
		if len(b) < 3 {
			return p, false
		}
		typ, l := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		b = b[3:]
		if len(b) < l {
			return p, false
		}
		if typ == constraintPrefix && !p.hasPrefix {
			p.prefix, p.hasPrefix = b[:l], true
		}
		b = b[l:]
	}
	return p, true
}

// validKeyID reports whether id is at most MaxKeyIDLen printable ASCII
// characters other than space.
func validKeyID[T string | []byte](id T) bool {
	if len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
