package verifier

import (
	"crypto/rand"
	"encoding/base64"
)

// URLIDLen is the length of a URL id as text: unpadded base64url of 16
// bytes.
const URLIDLen = 22

const urlIDRawLen = len(URLID{})

// URLID identifies one signed URL: 16 random bytes, shown as 22 characters
// of unpadded base64url (String, ParseURLID). Tokens carry the bytes, and
// Verify returns them without encoding, so revocation lookups need no
// decoding either.
type URLID [16]byte

// NewURLID returns a new random URL id: 16 bytes from crypto/rand.
func NewURLID() (URLID, error) {
	var id URLID
	_, err := rand.Read(id[:])
	return id, err
}

// ParseURLID decodes the text form of a URL id strictly: exactly 22
// characters of the base64url alphabet with zero trailing bits, so each id
// has one spelling. It returns ErrMalformedURLID otherwise, and does not
// allocate.
func ParseURLID(s string) (URLID, error) {
	var id URLID
	if len(s) != URLIDLen {
		return URLID{}, ErrMalformedURLID
	}
	if n, ok := decodeBase64URL(id[:], s); !ok || n != urlIDRawLen {
		return URLID{}, ErrMalformedURLID
	}
	return id, nil
}

// String returns the 22-character text form of id.
func (id URLID) String() string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
