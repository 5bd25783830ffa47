package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketKeys    = []byte("keys")        // key id -> JSON record
	bucketDigests = []byte("digests")     // digest -> key id
	bucketSecrets = []byte("secrets")     // "generated" -> JSON secret
	bucketRevs    = []byte("revocations") // Revocation.Ident() -> expires_at, unix ns, big-endian
	bucketUsers   = []byte("users")       // user name -> JSON record; the bucket's sequence numbers revisions
	secretName    = []byte("generated")
)

// BoltStore is the embedded Store: one bbolt file, for a single instance.
// bbolt holds an exclusive lock on the file, so a process must open it once
// and share the handle (Caddy does this through a caddy.UsagePool).
type BoltStore struct {
	closeState
	db   *bolt.DB
	feed fanout
	// stopSweep cancels the ledger's sweep (boltlink.go), sweeping waits
	// for it: Close does both before closing the file.
	stopSweep context.CancelFunc
	sweeping  sync.WaitGroup
}

// OpenBolt opens (creating if needed) the embedded store at path. It gives
// up after timeout if another process holds the file lock.
func OpenBolt(path string, timeout time.Duration) (*BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("opening %s: the file is locked by another process (is another Caddy using it?)", path)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// Ledger writes (CreateLink, UseLink) are batched: a lone write waits at
	// most this long for company before its transaction commits.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{bucketKeys, bucketDigests, bucketSecrets, bucketRevs, bucketUsers}, linkBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialising %s: %w", path, err)
	}
	s := &BoltStore{db: db}
	ctx, stop := context.WithCancel(context.Background())
	s.stopSweep = stop
	s.sweeping.Add(1)
	go s.sweepLoop(ctx, linkSweepInterval)
	return s, nil
}

// Path returns the file the store uses.
func (s *BoltStore) Path() string { return s.db.Path() }

// CreateKey implements Store.
func (s *BoltStore) CreateKey(_ context.Context, k *Key) error {
	k.Rev = 1
	var stored *Key
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys, digests := tx.Bucket(bucketKeys), tx.Bucket(bucketDigests)
		if keys.Get([]byte(k.ID)) != nil || digests.Get(k.Digest[:]) != nil {
			return ErrExists
		}
		if err := userExistsInTx(tx, k.User); err != nil {
			return err
		}
		b, err := encodeKey(k)
		if err != nil {
			return err
		}
		if err := keys.Put([]byte(k.ID), b); err != nil {
			return err
		}
		stored = k.Clone()
		return digests.Put(k.Digest[:], []byte(k.ID))
	})
	if err != nil {
		if errors.Is(err, ErrExists) || errors.Is(err, ErrNoSuchUser) {
			return err
		}
		return s.unavailable(err)
	}
	s.feed.send(Change{Kind: KeyPut, Key: stored})
	return nil
}

// userExistsInTx returns nil if name is empty (a site-wide key) or names a
// user record, and ErrNoSuchUser otherwise.
func userExistsInTx(tx *bolt.Tx, name string) error {
	if name != "" && tx.Bucket(bucketUsers).Get([]byte(name)) == nil {
		return noSuchUser(name)
	}
	return nil
}

// recordInTx reads and decodes the record id of bucket inside a
// transaction, or returns ErrNotFound.
func recordInTx[T any](tx *bolt.Tx, bucket []byte, id string, decode func([]byte) (*T, error)) (*T, error) {
	b := tx.Bucket(bucket).Get([]byte(id))
	if b == nil {
		return nil, ErrNotFound
	}
	return decode(b)
}

// getRecord is GetKey and GetUser: the record id of bucket.
func getRecord[T any](s *BoltStore, bucket []byte, id string, decode func([]byte) (*T, error)) (*T, error) {
	var r *T
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		r, err = recordInTx(tx, bucket, id, decode)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return r, s.unavailable(err)
}

// listRecords is ListKeys and ListUsers: every record of bucket, in the
// bucket's (byte) order.
func listRecords[T any](s *BoltStore, bucket []byte, decode func([]byte) (*T, error)) ([]*T, error) {
	var out []*T
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			r, err := decode(v)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, s.unavailable(err)
	}
	return out, nil
}

// keyInTx reads and decodes the key id inside a transaction.
func keyInTx(tx *bolt.Tx, id string) (*Key, error) { return recordInTx(tx, bucketKeys, id, decodeKey) }

// GetKey implements Store.
func (s *BoltStore) GetKey(_ context.Context, id string) (*Key, error) {
	return getRecord(s, bucketKeys, id, decodeKey)
}

// ListKeys implements Store.
func (s *BoltStore) ListKeys(context.Context) ([]*Key, error) {
	out, err := listRecords(s, bucketKeys, decodeKey)
	if err != nil {
		return nil, err
	}
	SortKeys(out)
	return out, nil
}

// SortKeys orders keys by creation time, then id.
func SortKeys(keys []*Key) {
	slices.SortFunc(keys, func(a, b *Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
}

// UpdateKey implements Store.
func (s *BoltStore) UpdateKey(_ context.Context, id string, fn func(*Key) error) (*Key, error) {
	var updated *Key
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		k, err := keyInTx(tx, id)
		if err != nil {
			return err
		}
		rev, digest := k.Rev, k.Digest
		if fnErr = fn(k); fnErr != nil {
			return fnErr
		}
		k.ID, k.Digest, k.Rev = id, digest, rev+1
		if err := userExistsInTx(tx, k.User); err != nil {
			return err
		}
		b, err := encodeKey(k)
		if err != nil {
			return err
		}
		updated = k
		return tx.Bucket(bucketKeys).Put([]byte(id), b)
	})
	switch {
	case fnErr != nil:
		return nil, fnErr
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrNoSuchUser):
		return nil, err
	case err != nil:
		return nil, s.unavailable(err)
	}
	s.feed.send(Change{Kind: KeyPut, Key: updated.Clone()})
	return updated, nil
}

// DeleteKey implements Store.
func (s *BoltStore) DeleteKey(_ context.Context, id string) (*Key, error) {
	var deleted *Key
	err := s.db.Update(func(tx *bolt.Tx) error {
		k, err := keyInTx(tx, id)
		if err != nil {
			return err
		}
		deleted = k
		if err := tx.Bucket(bucketDigests).Delete(k.Digest[:]); err != nil {
			return err
		}
		return tx.Bucket(bucketKeys).Delete([]byte(id))
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, s.unavailable(err)
	}
	s.feed.send(Change{Kind: KeyDeleted, ID: id})
	return deleted, nil
}

// TouchKeys implements Store.
func (s *BoltStore) TouchKeys(_ context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	return s.unavailable(s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketKeys)
		for id, t := range lastUsed {
			b := keys.Get([]byte(id))
			if b == nil {
				continue
			}
			k, err := decodeKey(b)
			if err != nil {
				return err
			}
			if k.LastUsedAt != nil && !t.After(*k.LastUsedAt) {
				continue
			}
			t := t.UTC()
			k.LastUsedAt = &t
			if b, err = encodeKey(k); err != nil {
				return err
			}
			if err := keys.Put([]byte(id), b); err != nil {
				return err
			}
		}
		return nil
	}))
}

// CreateUser implements Store.
func (s *BoltStore) CreateUser(_ context.Context, u *User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	var stored *User
	err := s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(u.Name)) != nil {
			return ErrExists
		}
		var err error
		if stored, err = putUserInTx(users, u); err != nil {
			return err
		}
		u.Rev = stored.Rev
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrExists) {
			return err
		}
		return s.unavailable(err)
	}
	s.feed.send(Change{Kind: UserPut, User: stored})
	return nil
}

// putUserInTx stores a copy of u under the next revision and returns it.
func putUserInTx(users *bolt.Bucket, u *User) (*User, error) {
	rev, err := users.NextSequence()
	if err != nil {
		return nil, err
	}
	stored := u.Clone()
	stored.Rev = rev
	b, err := encodeUser(stored)
	if err != nil {
		return nil, err
	}
	return stored, users.Put([]byte(u.Name), b)
}

// userInTx reads and decodes the user name inside a transaction.
func userInTx(tx *bolt.Tx, name string) (*User, error) {
	return recordInTx(tx, bucketUsers, name, decodeUser)
}

// GetUser implements Store.
func (s *BoltStore) GetUser(_ context.Context, name string) (*User, error) {
	return getRecord(s, bucketUsers, name, decodeUser)
}

// ListUsers implements Store: the bucket's byte order is name order.
func (s *BoltStore) ListUsers(context.Context) ([]*User, error) {
	return listRecords(s, bucketUsers, decodeUser)
}

// UpdateUser implements Store.
func (s *BoltStore) UpdateUser(_ context.Context, name string, fn func(*User) error) (*User, error) {
	var updated *User
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		u, err := userInTx(tx, name)
		if err != nil {
			return err
		}
		if fnErr = fn(u); fnErr != nil {
			return fnErr
		}
		u.Name = name
		if fnErr = u.Validate(); fnErr != nil {
			return fnErr
		}
		updated, err = putUserInTx(tx.Bucket(bucketUsers), u)
		return err
	})
	switch {
	case fnErr != nil:
		return nil, fnErr
	case errors.Is(err, ErrNotFound):
		return nil, err
	case err != nil:
		return nil, s.unavailable(err)
	}
	s.feed.send(Change{Kind: UserPut, User: updated.Clone()})
	return updated, nil
}

// DeleteUser implements Store. It reads every key record to find the
// user's, in the same transaction.
func (s *BoltStore) DeleteUser(_ context.Context, name string) (*User, []*Key, error) {
	var (
		deleted *User
		keys    []*Key
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if deleted, err = userInTx(tx, name); err != nil {
			return err
		}
		err = tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			k, err := decodeKey(v)
			if err == nil && k.User == name {
				keys = append(keys, k)
			}
			return err
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Bucket(bucketDigests).Delete(k.Digest[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketKeys).Delete([]byte(k.ID)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketUsers).Delete([]byte(name))
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, s.unavailable(err)
	}
	SortKeys(keys)
	s.feed.send(Change{Kind: UserDeleted, ID: name, User: deleted.Clone()})
	for _, k := range keys {
		s.feed.send(Change{Kind: KeyDeleted, ID: k.ID})
	}
	return deleted, keys, nil
}

// Secret implements Store.
func (s *BoltStore) Secret(_ context.Context, generate func() (Secret, error)) (Secret, error) {
	var sec Secret
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		var err error
		if v := b.Get(secretName); v != nil {
			sec, err = decodeSecret(v)
			return err
		}
		if sec, err = generate(); err != nil {
			return err
		}
		v, err := encodeSecret(sec)
		if err != nil {
			return err
		}
		return b.Put(secretName, v)
	})
	return sec, s.unavailable(err)
}

// Revoke implements Store.
func (s *BoltStore) Revoke(_ context.Context, r Revocation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	ident := []byte(r.Ident())
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevs)
		if old, ok := decodeBoltExpiry(b.Get(ident)); ok && !old.Before(r.ExpiresAt) {
			return nil // keeps the later expiry
		}
		return b.Put(ident, encodeBoltExpiry(r.ExpiresAt))
	})
	if err != nil {
		return s.unavailable(err)
	}
	s.feed.send(Change{Kind: RevocationAdded, Revocation: &r})
	return nil
}

// ListRevocations implements Store. It also deletes the records that have
// stopped mattering by the real clock (never by the caller's now, which may
// lie in the future).
func (s *BoltStore) ListRevocations(_ context.Context, now time.Time) ([]Revocation, error) {
	var out []Revocation
	wall := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRevs).Cursor()
		for k, v := c.First(); k != nil; {
			exp, ok := decodeBoltExpiry(v)
			if !ok {
				return fmt.Errorf("revocation %q: bad expiry", k)
			}
			if !exp.After(wall) {
				if err := c.Delete(); err != nil {
					return err
				}
				k, v = c.Seek(k) // Delete moves the cursor; re-seek
				continue
			}
			if exp.After(now) {
				r, err := parseStoredIdent(string(k), exp)
				if err != nil {
					return err
				}
				out = append(out, r)
			}
			k, v = c.Next()
		}
		return nil
	})
	return out, s.unavailable(err)
}

// Ping implements Store: the embedded store answers while it is open.
func (s *BoltStore) Ping(context.Context) error {
	return s.unavailable(s.db.View(func(*bolt.Tx) error { return nil }))
}

// Subscribe implements Store. The embedded store serves one instance, so
// its feed carries the changes made through this handle, delivered
// synchronously after each commit. cancel may be called from fn.
func (s *BoltStore) Subscribe(fn func(Change)) (cancel func()) { return s.feed.subscribe(fn) }

// Close implements Store.
func (s *BoltStore) Close() error {
	s.closed.Store(true)
	s.stopSweep()
	s.sweeping.Wait()
	return s.db.Close()
}

// Interface guard
var _ Store = (*BoltStore)(nil)
