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

// NewURLID returns a new random URL id: 16 bytes from crypto/rand, drawn
// again while the text form would start with "-" (one time in 64), so
// that no id reads as a flag on a command line. Ids keep 127.9 bits of
// randomness.
func NewURLID() (URLID, error) {
	var id URLID
	for {
		if _, err := rand.Read(id[:]); err != nil {
			return id, err
		}
		if !id.dashFirst() {
			return id, nil
		}
	}
}

// dashFirst reports whether the text form of id starts with "-": its
// first six bits are 62.
func (id URLID) dashFirst() bool { return id[0]>>2 == 62 }

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
