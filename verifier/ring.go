package verifier

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// MinSecretLen is the minimum length of a signing secret's key.
const MinSecretLen = 32

const maxSecretIDLen = 32

// Secret is one entry of the signing-secret ring.
type Secret struct {
	ID  string // 1–32 chars of [A-Za-z0-9_-]
	Key []byte // at least 32 bytes
}

// Validate reports whether s can sign and verify: a valid id (see
// ValidSecretID) and a key of at least MinSecretLen bytes.
func (s Secret) Validate() error {
	if !ValidSecretID(s.ID) {
		return errors.New("signing secret id must be 1-32 characters of [A-Za-z0-9_-]")
	}
	if len(s.Key) < MinSecretLen {
		return fmt.Errorf("signing secret %q is shorter than %d bytes", s.ID, MinSecretLen)
	}
	return nil
}

// ValidSecretID reports whether id is a valid signing-secret id: 1 to 32
// characters of [A-Za-z0-9_-].
func ValidSecretID(id string) bool { return nameOf(id, maxSecretIDLen, isBase64URL) }

// ring is a Verifier's secrets in order (the first signs, all verify), each
// with its keyed HMAC prepared once.
type ring []ringSecret

type ringSecret struct {
	id   string
	macs sync.Pool // of *macState
}

// macState is a keyed HMAC with scratch space for the MAC input, reused
// through its secret's pool.
type macState struct {
	mac   hash.Hash
	buf   []byte
	spans []span
	sum   [sha256.Size]byte
}

// newRing checks secrets (at least one, each valid, ids unique) and
// prepares an HMAC for each from a copy of its key, so later changes to the
// caller's slices have no effect.
func newRing(secrets []Secret) (ring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no signing secret")
	}
	r := make(ring, len(secrets))
	for i, s := range secrets {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		for _, o := range secrets[:i] {
			if o.ID == s.ID {
				return nil, fmt.Errorf("duplicate signing secret id %q", s.ID)
			}
		}
		r[i].init(s)
	}
	return r, nil
}

// init sets rs up for s (already validated), from a copy of its key.
func (rs *ringSecret) init(s Secret) {
	newMAC := preparedMAC(bytes.Clone(s.Key))
	rs.id = s.ID
	rs.macs.New = func() any {
		return &macState{mac: newMAC(), buf: make([]byte, 0, 512)}
	}
}

// preparedMAC keys an HMAC-SHA256 once and returns a function that makes
// copies of it: hmac's first Reset saves the inner and outer pad states, and
// every clone starts from them instead of hashing the key again.
func preparedMAC(key []byte) func() hash.Hash {
	proto := hmac.New(sha256.New, key)
	proto.Reset()
	if c, ok := proto.(hash.Cloner); ok {
		if _, err := c.Clone(); err == nil {
			return func() hash.Hash {
				m, _ := c.Clone()
				return m
			}
		}
	}
	return func() hash.Hash { return hmac.New(sha256.New, key) }
}

// find returns the ring entry with the given id, or nil.
func (r ring) find(id []byte) *ringSecret {
	for i := range r {
		if r[i].id == string(id) {
			return &r[i]
		}
	}
	return nil
}

func (rs *ringSecret) get() *macState   { return rs.macs.Get().(*macState) }
func (rs *ringSecret) put(ms *macState) { rs.macs.Put(ms) }

// tag returns the HMAC of ms.buf, in ms.sum.
func (ms *macState) tag() []byte {
	ms.mac.Reset()
	ms.mac.Write(ms.buf)
	return ms.mac.Sum(ms.sum[:0])
}
