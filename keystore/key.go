package keystore

import (
	"errors"
	"strings"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// Errors returned by stores. Backend failures (I/O, network) are returned
// wrapped in ErrUnavailable so callers can answer 503, never "unauthorized".
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrUnavailable = errors.New("key store unavailable")
	ErrClosed      = errors.New("key store closed")
)

// Key is an API-key record. The key value itself is never stored: only its
// SHA-256 digest, and a four-character hint for listings.
type Key struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Type        verifier.KeyType    `json:"type"`
	User        string              `json:"user,omitempty"`
	Scopes      []string            `json:"scopes"`
	Permissions verifier.Permission `json:"permissions"`
	Hint        string              `json:"hint"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	ExpiresAt   *time.Time          `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time          `json:"last_used_at,omitempty"`
	// Rev counts changes to the record; stores set it. Caches use it to
	// ignore change messages older than what they already hold.
	Rev uint64 `json:"rev"`
	// Digest is the SHA-256 digest of the key value.
	Digest verifier.Digest `json:"-"`
	// OfflineSecret is the key's offline signing secret
	// (verifier.OfflineSecret of its value), kept only for keys that sign
	// links themselves; nil for the others. It is stored like the digest
	// and never shown.
	OfflineSecret []byte `json:"-"`
}

// Clone returns a deep copy of k.
func (k *Key) Clone() *Key {
	c := *k
	c.Scopes = append([]string(nil), k.Scopes...)
	if k.OfflineSecret != nil {
		c.OfflineSecret = append([]byte(nil), k.OfflineSecret...)
	}
	if k.ExpiresAt != nil {
		t := *k.ExpiresAt
		c.ExpiresAt = &t
	}
	if k.LastUsedAt != nil {
		t := *k.LastUsedAt
		c.LastUsedAt = &t
	}
	return &c
}

// Expired reports whether the key has an expiry at or before now.
func (k *Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// ValidKeyID reports whether id has the shape of a key id: "key_" and 16
// characters of a-z 2-7, as verifier.KeyIDOf derives them from key values
// (and earlier releases drew them at random).
func ValidKeyID(id string) bool {
	if len(id) != 20 || !strings.HasPrefix(id, "key_") {
		return false
	}
	for _, c := range id[4:] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Secret is a signing secret of the signed-URL ring, as kept in a store.
type Secret struct {
	ID        string    `json:"id"`
	Key       []byte    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
}

// ChangeKind says what a Change is about.
type ChangeKind uint8

// The kinds of change a store reports.
const (
	// KeyPut: a key was created or updated; Change.Key holds the record.
	KeyPut ChangeKind = iota + 1
	// KeyDeleted: the key Change.ID was deleted.
	KeyDeleted
	// Resync: changes may have been missed; reload everything.
	Resync
	// RevocationAdded: Change.Revocation was stored.
	RevocationAdded
	// UserPut: a user was created or updated; Change.User holds the
	// record.
	UserPut
	// UserDeleted: the user Change.ID was deleted; Change.User holds the
	// record as it was, whose Rev is the last of that user (a user
	// created later under the same name has a greater one). Its keys
	// were deleted with it: KeyDeleted follows for each.
	UserDeleted
	// LinkExpiryChanged: the expiry in force of a ledger record moved (or
	// a record was created with one other than its token's);
	// Change.Link holds it.
	LinkExpiryChanged
)

// Change is one message of a store's change feed.
type Change struct {
	Kind       ChangeKind
	Key        *Key
	ID         string
	Revocation *Revocation
	User       *User
	Link       *LinkExpiry
}
