package verifier

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// KeyType is the type of an API key: secret keys (sk_) may hold any
// permission; public keys (pk_) may only read.
type KeyType string

// The two key types.
const (
	KeySecret KeyType = "secret"
	KeyPublic KeyType = "public"
)

// Prefix returns the token prefix of the key type ("sk_" or "pk_").
func (t KeyType) Prefix() string {
	if t == KeyPublic {
		return "pk_"
	}
	return "sk_"
}

// Valid reports whether t is a known key type.
func (t KeyType) Valid() bool { return t == KeySecret || t == KeyPublic }

// Token layout: prefix (3 bytes) + base64url without padding of
// 32 random bytes followed by a 4-byte big-endian CRC-32 (IEEE) of
// prefix||random. 36 bytes encode to exactly 48 characters.
const (
	keyRandomLen   = 32
	keyChecksumLen = 4
	keyBodyLen     = 48 // base64.RawURLEncoding.EncodedLen(keyRandomLen + keyChecksumLen)
	// KeyTokenLen is the length in bytes of every API key token.
	KeyTokenLen = 3 + keyBodyLen
)

// Digest is the SHA-256 digest of a full API key token. Stores keep only
// digests; the token itself is shown once, at creation.
type Digest [sha256.Size]byte

// NewKeyToken returns a new random API key token of type t. The random part
// is 256 bits from crypto/rand.
func NewKeyToken(t KeyType) (string, error) {
	if !t.Valid() {
		return "", errors.New("verifier: unknown key type " + string(t))
	}
	var raw [keyRandomLen + keyChecksumLen]byte
	if _, err := rand.Read(raw[:keyRandomLen]); err != nil {
		return "", err
	}
	prefix := t.Prefix()
	binary.BigEndian.PutUint32(raw[keyRandomLen:], keyChecksum(prefix, raw[:keyRandomLen]))
	return prefix + base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// ParseKeyToken checks the shape and checksum of token and returns its
// type and digest. It rejects malformed tokens with ErrMalformedKey without
// touching any store, and does not allocate.
func ParseKeyToken(token string) (KeyType, Digest, error) {
	var t KeyType
	switch {
	case len(token) != KeyTokenLen:
		return "", Digest{}, ErrMalformedKey
	case token[:3] == "sk_":
		t = KeySecret
	case token[:3] == "pk_":
		t = KeyPublic
	default:
		return "", Digest{}, ErrMalformedKey
	}
	var raw [keyRandomLen + keyChecksumLen]byte
	if n, ok := decodeBase64URL(raw[:], token[3:]); !ok || n != len(raw) {
		return "", Digest{}, ErrMalformedKey
	}
	if binary.BigEndian.Uint32(raw[keyRandomLen:]) != keyChecksum(token[:3], raw[:keyRandomLen]) {
		return "", Digest{}, ErrMalformedKey
	}
	return t, DigestToken(token), nil
}

// DigestToken returns the SHA-256 digest of a token.
func DigestToken(token string) Digest {
	if len(token) == KeyTokenLen {
		// Hash from a stack copy: converting the string would allocate.
		var buf [KeyTokenLen]byte
		copy(buf[:], token)
		return sha256.Sum256(buf[:])
	}
	return sha256.Sum256([]byte(token))
}

// KeyHint returns the last four characters of a token, which listings show
// so people can tell keys apart without the value.
func KeyHint(token string) string {
	if len(token) < 4 {
		return ""
	}
	return token[len(token)-4:]
}

// keyChecksum is CRC-32 (IEEE) of prefix||random. It starts from the
// register after the prefix, computed once per key type, and takes random
// eight bytes at a time (crcUpdate); nothing escapes to the heap, as it
// would through hash/crc32.
func keyChecksum(prefix string, random []byte) uint32 {
	var c uint32
	switch prefix {
	case "sk_":
		c = crcAfterSecret
	case "pk_":
		c = crcAfterPublic
	default:
		c = crcUpdate(^uint32(0), []byte(prefix))
	}
	return ^crcUpdate(c, random)
}

// crcTables[0] is the IEEE table; crcTables[k][b] is the register change of
// byte b followed by k zero bytes.
var crcTables = func() (t [8][256]uint32) {
	t[0] = *crc32.IEEETable
	for b := range 256 {
		for k := 1; k < 8; k++ {
			p := t[k-1][b]
			t[k][b] = t[0][byte(p)] ^ p>>8
		}
	}
	return t
}()

// The CRC register after each key prefix.
var (
	crcAfterSecret = crcUpdate(^uint32(0), []byte(KeySecret.Prefix()))
	crcAfterPublic = crcUpdate(^uint32(0), []byte(KeyPublic.Prefix()))
)

// crcUpdate runs the (inverted) CRC-32 register c over p.
func crcUpdate(c uint32, p []byte) uint32 {
	t := &crcTables
	for ; len(p) >= 8; p = p[8:] {
		c ^= binary.LittleEndian.Uint32(p)
		c = t[7][byte(c)] ^ t[6][byte(c>>8)] ^ t[5][byte(c>>16)] ^ t[4][c>>24] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
	}
	for _, b := range p {
		c = t[0][byte(c)^b] ^ c>>8
	}
	return c
}
