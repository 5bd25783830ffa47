package keystore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Store is where key records, user records, revocations and the generated
// signing secret live. Implementations are safe for concurrent use. Every
// method that can fail because the backend is unreachable wraps
// ErrUnavailable.
//
// Records returned are copies the caller may keep; records passed in are
// not retained.
type Store interface {
	// CreateKey stores a new key. It fails with ErrExists if the id or
	// the digest is already present, and with ErrNoSuchUser if k.User is
	// set and names no user record (checked in the same atomic step as
	// the write, so no key is ever stored for a user being deleted). It
	// sets k.Rev.
	CreateKey(ctx context.Context, k *Key) error
	// GetKey returns the key with the given id, or ErrNotFound.
	GetKey(ctx context.Context, id string) (*Key, error)
	// ListKeys returns every key, ordered by creation time then id.
	ListKeys(ctx context.Context) ([]*Key, error)
	// UpdateKey applies fn to the key with the given id atomically (fn may
	// run more than once on optimistic backends) and stores the result
	// with Rev incremented. fn must not change ID or Digest. An error from
	// fn aborts the update and is returned as is. Like CreateKey, it
	// fails with ErrNoSuchUser if the resulting User names no user
	// record.
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)
	// DeleteKey removes the key and returns the removed record.
	DeleteKey(ctx context.Context, id string) (*Key, error)
	// TouchKeys records last-used times. It is not a change: it neither
	// bumps Rev nor notifies subscribers. Unknown ids are ignored.
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error

	// CreateUser stores a new user record (refusing one that fails
	// User.Validate). It fails with ErrExists if the name is taken. It
	// sets u.Rev.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user record of the given name, or ErrNotFound.
	GetUser(ctx context.Context, name string) (*User, error)
	// ListUsers returns every user record, ordered by name.
	ListUsers(ctx context.Context) ([]*User, error)
	// UpdateUser applies fn to the user record of the given name
	// atomically (fn may run more than once on optimistic backends) and
	// stores the result, which must pass User.Validate, with a new Rev.
	// fn must not change Name. An error from fn aborts the update and is
	// returned as is.
	UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error)
	// DeleteUser removes the user record and, in the same atomic step,
	// every key whose User is name, and returns what it removed (keys
	// in ListKeys order). Subscribers are told UserDeleted, then
	// KeyDeleted for each key.
	DeleteUser(ctx context.Context, name string) (*User, []*Key, error)

	// Secret returns the generated signing secret, creating it with
	// generate if the store has none. Creation happens at most once per
	// store, even when several instances race to do it.
	Secret(ctx context.Context, generate func() (Secret, error)) (Secret, error)

	// Revoke stores a revocation until r.ExpiresAt and tells subscribers
	// (RevocationAdded). Storing the same revocation again (same Ident)
	// keeps the later ExpiresAt.
	Revoke(ctx context.Context, r Revocation) error
	// ListRevocations returns the revocations whose ExpiresAt is after
	// now, in no particular order.
	ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error)

	// Ping reports whether the backend answers (nil) or not.
	Ping(ctx context.Context) error

	// Subscribe calls fn for every change made to the store, including
	// changes made by other instances sharing it, until cancel is called.
	// Calls are sequential. A Resync change means messages may have
	// been lost.
	Subscribe(fn func(Change)) (cancel func())

	// Close releases the store's resources.
	Close() error
}

// closeState is what a store knows about having been closed, and where
// both stores turn backend errors into the errors of the Store contract.
type closeState struct {
	closed atomic.Bool
}

// checkOpen returns ErrClosed once the store is closed.
func (c *closeState) checkOpen() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// unavailable maps a backend error to the store's errors: nil stays nil;
// once the store is closed, or when the backend says its handle is closed
// (bbolt's or go-redis's error), ErrClosed; any other failure wraps
// ErrUnavailable.
func (c *closeState) unavailable(err error) error {
	switch {
	case err == nil:
		return nil
	case c.closed.Load() || errors.Is(err, bolterrors.ErrDatabaseNotOpen) || errors.Is(err, redis.ErrClosed):
		return ErrClosed
	default:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}
