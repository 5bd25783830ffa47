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

// Store is where key records, user records, revocations, the link ledger
// and the generated signing secret live. Implementations are safe for concurrent use. Every
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

	// CreateLink records the link l until it expires (see Link for how
	// long that is). It refuses, wrapping ErrInvalid, a record that fails
	// Link.Validate or whose ExpiresAt has passed by the clock, and fails
	// with ErrExists if the id is taken. It sets l.Rev (1). A link created
	// with ExpiresAt other than SignedExpiresAt is announced as for
	// SetLinkExpiry (LinkExpiryChanged). Uses and LastUsed are stored as
	// given.
	CreateLink(ctx context.Context, l *Link) error
	// GetLink returns the record of the link id, or ErrNotFound if there
	// is none or its ExpiresAt is at or before now.
	GetLink(ctx context.Context, id string, now time.Time) (*Link, error)
	// ListLinks returns the records that match f and whose ExpiresAt is
	// after now, newest first (CreatedAt, to the millisecond, then ID,
	// both descending), at most limit (1 to MaxLinkListLimit) of them,
	// from the position cursor names ("" for the start), and the cursor
	// of the next page ("" when there is none). Pages are stable: a
	// record created or expiring meanwhile never makes another record
	// appear twice or be skipped. With f.KeyID or f.User set only that
	// key's or user's index is read. A malformed filter, limit or cursor
	// is ErrInvalid.
	ListLinks(ctx context.Context, f LinkFilter, cursor string, limit int, now time.Time) (links []*Link, next string, err error)
	// SetLinkExpiry moves the ExpiresAt of the link id to exp (which may
	// be before now: the link then expires at once), increments its Rev,
	// tells subscribers (LinkExpiryChanged) in the same atomic step, and
	// returns the updated record. It fails with ErrNotFound if the record
	// is gone or expired at now.
	SetLinkExpiry(ctx context.Context, id string, exp, now time.Time) (*Link, error)
	// ListLinkExpiries returns the moved expiries: those of the records
	// whose ExpiresAt is not their SignedExpiresAt, for as long as either
	// is after now (so a link shortened into the past is still reported
	// until its token expires), in no particular order. It reads a small
	// index of its own, never the whole ledger.
	ListLinkExpiries(ctx context.Context, now time.Time) ([]LinkExpiry, error)
	// TouchLinks adds uses to records and raises their LastUsed. It is not
	// a change: it neither bumps Rev nor notifies subscribers. Unknown or
	// expired ids are ignored.
	TouchLinks(ctx context.Context, uses map[string]LinkUse) error
	// UseLink counts one use of the link id, whose token allows max uses
	// (max <= 0: no limit), atomically across every instance sharing the
	// store. A new download (resume false) is allowed (ok) while Uses <
	// max: Uses is incremented, LastUsed set to now, and client recorded
	// as having a counted use at now. A resumed download (resume true, a
	// Range request continuing one) is allowed iff client had a counted
	// use at most grace before now (resuming does not move that time, so
	// the grace runs out); Uses is unchanged. uses is the record's Uses after the call.
	// The client records go with the record. It fails with ErrNotFound if
	// the record is gone or expired at now.
	UseLink(ctx context.Context, id string, max int64, client string, resume bool, grace time.Duration, now time.Time) (ok bool, uses int64, err error)
	// ReleaseUse gives back one use of the link id (Uses decremented,
	// never below 0), when what UseLink counted turned out not to be a
	// download; client's counted use is forgotten with it, so it gives
	// no right to resume. It fails with ErrNotFound if the record is gone.
	ReleaseUse(ctx context.Context, id string, client string) error

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
