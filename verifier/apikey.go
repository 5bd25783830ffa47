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
	n, err := decodeRawURL(raw[:], token[3:])
	if err != nil || n != len(raw) {
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

// keyChecksum is CRC-32 (IEEE) of prefix||random, computed with the table
// directly so that nothing escapes to the heap.
func keyChecksum(prefix string, random []byte) uint32 {
	tab := crc32.IEEETable
	c := ^uint32(0)
	for i := 0; i < len(prefix); i++ {
		c = tab[byte(c)^prefix[i]] ^ (c >> 8)
	}
	for _, b := range random {
		c = tab[byte(c)^b] ^ (c >> 8)
	}
	return ^c
}

var strictRawURL = base64.RawURLEncoding.Strict()

// decodeRawURL decodes unpadded base64url from a string into dst without
// allocating. It rejects characters outside the alphabet and non-canonical
// trailing bits, so every token has exactly one accepted spelling.
func decodeRawURL(dst []byte, s string) (int, error) {
	if base64.RawURLEncoding.DecodedLen(len(s)) > len(dst) {
		return 0, ErrMalformedKey
	}
	var buf [128]byte
	if len(s) > len(buf) {
		return 0, ErrMalformedKey
	}
	copy(buf[:], s)
	return strictRawURL.Decode(dst, buf[:len(s)])
}
