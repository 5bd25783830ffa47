package keystore

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// Entry is one key in the in-process view. Its Key and User are never
// modified after the entry is published; an update of the key or of its
// user publishes a new entry.
type Entry struct {
	Key *Key
	// User is the record of the key's user the entry was derived with:
	// nil for a site-wide key, or when the view has no record of that
	// name.
	User *User
	// Any holds values derived from Key and User once, so the request
	// path does not have to rebuild them (the Caddy handler keeps
	// pre-boxed placeholder values here). Set by CacheOptions.Derive.
	Any any
	// Offline verifies the links the key signs itself: nil unless the
	// key has an offline secret. Its Owner is the entry.
	Offline *verifier.OfflineKey

	expires  int64        // unix nanoseconds; 0 = never
	seq      uint64       // Cache.seq when the entry was applied
	lastUsed atomic.Int64 // unix seconds of the last accepted request
	flushed  atomic.Int64 // lastUsed value last written to the store
}

// Expired reports whether the key is expired at now.
func (e *Entry) Expired(now time.Time) bool {
	return e.expires != 0 && now.UnixNano() >= e.expires
}

// MarkUsed records that the key was accepted at now. It writes shared
// memory at most once per second per key, so it does not contend.
func (e *Entry) MarkUsed(now time.Time) {
	s := now.Unix()
	if e.lastUsed.Load() < s {
		e.lastUsed.Store(s)
	}
}

// LastUsed returns the last time the key was accepted, as seen by this
// instance, or the zero time.
func (e *Entry) LastUsed() time.Time {
	if s := e.lastUsed.Load(); s != 0 {
		return time.Unix(s, 0).UTC()
	}
	return time.Time{}
}

type view struct {
	byDigest map[verifier.Digest]*Entry
	byID     map[string]*Entry
	// users maps user names to records. Snapshots made by a key change
	// share it; a user change copies it.
	users  map[string]userSlot
	loaded time.Time // when the last full load finished
}

// userSlot is a user record in the view.
type userSlot struct {
	u   *User
	seq uint64 // Cache.seq when the record was applied
}

// userOf returns the record of k's user in v, or nil.
func (v *view) userOf(k *Key) *User {
	if k.User == "" {
		return nil
	}
	return v.users[k.User].u
}

// tombstone remembers a deletion, so that a change message about the key
// that arrives late (from the feed, or a write-through that lost a race)
// cannot bring it back. Key ids are never reused; tombstones are dropped
// after tombstoneTTL, far longer than any message can be in flight.
type tombstone struct {
	seq uint64
	at  time.Time
}

const tombstoneTTL = time.Hour

// userTombstone remembers a deleted user's last revision. User names may be
// used again, but revisions only grow: a message about the name with a
// revision up to rev is about the deleted user, and ignored.
type userTombstone struct {
	rev uint64
	at  time.Time
}

// CacheOptions tune a Cache.
type CacheOptions struct {
	// LastUsedInterval is how often last-used times are written to the
	// store. Zero disables writing them.
	LastUsedInterval time.Duration
	// ResyncInterval is how often the whole view is reloaded from the
	// store, to repair change messages that were lost. Zero disables it.
	ResyncInterval time.Duration
	// HealthInterval is how often the store is pinged to track staleness
	// (see Stale). Default: 1s.
	HealthInterval time.Duration
	// Derive, if set, computes Entry.Any for each new entry: from the key
	// and its user's record (nil for a site-wide key, and nil when there
	// is no record of that name). Entries are derived again whenever
	// their user changes.
	Derive func(k *Key, u *User) any
	// OnError is told about failures of background work (resync, flush).
	OnError func(op string, err error)
}

// Cache is the in-process view of a Store. Lookups read an immutable
// snapshot through an atomic pointer: no lock, no network. Writes go
// through the Cache to the store and are applied to the view as soon as
// the store confirms them; the store's change feed applies everyone
// else's. A periodic resync repairs anything the feed missed.
type Cache struct {
	store Store
	opts  CacheOptions
	view  atomic.Pointer[view]
	revs  atomic.Pointer[revView]
	links atomic.Pointer[linkView] // moved link expiries (linkview.go)

	// uses counts the uses of ordinary links until they are flushed
	// (linkview.go).
	uses [useShards]useShard

	// lastOK is when the store last answered and the view was known to be
	// complete (unix ns): pings refresh it, except after an outage, until a
	// full resync has caught up with what the feed missed.
	lastOK atomic.Int64

	mu           sync.Mutex               // serialises changes to the view
	seq          uint64                   // counts applied changes (under mu)
	deleted      map[string]tombstone     // ids deleted recently
	deletedUsers map[string]userTombstone // user names deleted recently

	resync chan struct{} // asks the background loop for a full resync

	// ctx owns the background work: every call it makes to the store
	// derives from it, and Close cancels it, so Close returns promptly
	// even when the store hangs.
	ctx        context.Context
	cancel     context.CancelFunc
	cancelFeed func()
	done       sync.WaitGroup
	closeOnce  sync.Once
}

// NewCache loads the full view from store and starts background work
// (change feed, resync, last-used flushing). Close stops it.
func NewCache(ctx context.Context, store Store, opts CacheOptions) (*Cache, error) {
	c := &Cache{
		store:        store,
		opts:         opts,
		deleted:      make(map[string]tombstone),
		deletedUsers: make(map[string]userTombstone),
		resync:       make(chan struct{}, 1),
	}
	// Not derived from ctx, which bounds the initial load only.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.view.Store(&view{byDigest: map[verifier.Digest]*Entry{}, byID: map[string]*Entry{}, users: map[string]userSlot{}})
	c.revs.Store(newRevView())
	c.links.Store(emptyLinkView)
	for i := range c.uses {
		c.uses[i].m = make(map[verifier.URLID]useCount)
	}
	c.cancelFeed = store.Subscribe(c.apply)
	if err := c.Resync(ctx); err != nil {
		c.cancelFeed()
		c.cancel()
		return nil, err
	}
	c.resyncLoop()
	c.healthLoop()
	if opts.LastUsedInterval > 0 {
		c.every(opts.LastUsedInterval, "flush last-used", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, min(opts.LastUsedInterval, flushTimeout))
			defer cancel()
			return c.flushLastUsed(ctx)
		})
	}
	return c, nil
}

// resyncLoop performs the periodic resync and the ones the change feed
// asks for (after it may have lost messages), one at a time, until Close.
func (c *Cache) resyncLoop() {
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		var tick <-chan time.Time
		if c.opts.ResyncInterval > 0 {
			t := time.NewTicker(c.opts.ResyncInterval)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-tick:
			case <-c.resync:
			}
			if err := c.backgroundResync(c.ctx); err != nil && c.ctx.Err() == nil && c.opts.OnError != nil {
				c.opts.OnError("resync", err)
			}
		}
	}()
}

// healthLoop pings the store. While it answers, the view is fresh; after it
// stopped answering, the view is fresh again only once a resync succeeded
// (the change feed may have lost messages meanwhile).
func (c *Cache) healthLoop() {
	every := c.opts.HealthInterval
	if every <= 0 {
		every = time.Second
	}
	failing := false
	c.every(every, "health check", func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, every)
		err := c.store.Ping(pctx)
		cancel()
		if err == nil && failing {
			err = c.backgroundResync(ctx) // refreshes lastOK on success
		}
		wasFailing := failing
		failing = err != nil
		switch {
		case err == nil:
			c.lastOK.Store(time.Now().UnixNano())
		case !wasFailing:
			return err // report the start of an outage once
		}
		return nil
	})
}

// Stale reports whether the store has not answered (or the view has not
// caught up after an outage) for longer than maxStaleness. Zero means
// never stale. It is one atomic load: cheap enough for every request.
func (c *Cache) Stale(now time.Time, maxStaleness time.Duration) bool {
	return maxStaleness > 0 && now.UnixNano()-c.lastOK.Load() > int64(maxStaleness)
}

// LastOK returns when the store last answered with the view complete.
func (c *Cache) LastOK() time.Time { return time.Unix(0, c.lastOK.Load()) }

// Revoked says why a signed URL with claims cl, requested for path, is
// revoked, or returns "". It is lock-free and does not allocate.
func (c *Cache) Revoked(cl *verifier.Claims, path string, now time.Time) string {
	return c.revs.Load().revoked(cl, path, now.Unix())
}

// Revocations returns the unexpired revocations this instance enforces.
func (c *Cache) Revocations(now time.Time) []Revocation {
	return c.revs.Load().records(now.Unix())
}

// RevocationCount returns the number of revocation records in the view.
func (c *Cache) RevocationCount() int { return c.revs.Load().len() }

// Revoke stores r and enforces it at once.
func (c *Cache) Revoke(ctx context.Context, r Revocation) error {
	if err := c.store.Revoke(ctx, r); err != nil {
		return err
	}
	c.apply(Change{Kind: RevocationAdded, Revocation: &r})
	return nil
}

// every runs fn every d until Close, with the cache's context, and tells
// OnError about its failures (not those Close caused by cancelling it).
func (c *Cache) every(d time.Duration, op string, fn func(context.Context) error) {
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
				if err := fn(c.ctx); err != nil && c.ctx.Err() == nil && c.opts.OnError != nil {
					c.opts.OnError(op, err)
				}
			}
		}
	}()
}

// resyncTimeout bounds a resync that background work starts.
const resyncTimeout = 30 * time.Second

// backgroundResync is a Resync bounded by resyncTimeout and cancelled by
// Close (through ctx, the cache's context).
func (c *Cache) backgroundResync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, resyncTimeout)
	defer cancel()
	return c.Resync(ctx)
}

// Store returns the store behind the cache.
func (c *Cache) Store() Store { return c.store }

// Lookup returns the entry for a key digest, or nil. It is the request
// path: lock-free and allocation-free.
func (c *Cache) Lookup(d verifier.Digest) *Entry {
	return c.view.Load().byDigest[d]
}

// ByID returns the entry for a key id, or nil.
func (c *Cache) ByID(id string) *Entry {
	return c.view.Load().byID[id]
}

// OfflineKey returns the offline signing secret of the key id, or nil when
// the key is unknown or signs no links itself: the verifier's
// WithOfflineKeys hook. It is the request path: lock-free and
// allocation-free.
func (c *Cache) OfflineKey(id verifier.KeyRef) *verifier.OfflineKey {
	if e := c.view.Load().byID[string(id.Bytes())]; e != nil {
		return e.Offline
	}
	return nil
}

// Len returns the number of keys in the view.
func (c *Cache) Len() int { return len(c.view.Load().byID) }

// User returns the record of the user name in the view, or nil. It is
// lock-free; the record is shared and must not be modified.
func (c *Cache) User(name string) *User { return c.view.Load().users[name].u }

// UserCount returns the number of users in the view.
func (c *Cache) UserCount() int { return len(c.view.Load().users) }

// LoadedAt returns when the last full load from the store finished.
func (c *Cache) LoadedAt() time.Time { return c.view.Load().loaded }

// newEntry returns the entry for k, derived with u, its user's record; it
// keeps prev's last-used times.
func (c *Cache) newEntry(k *Key, u *User, prev *Entry) *Entry {
	e := &Entry{Key: k, User: u}
	if k.ExpiresAt != nil {
		e.expires = k.ExpiresAt.UnixNano()
	}
	if c.opts.Derive != nil {
		e.Any = c.opts.Derive(k, u)
	}
	if k.OfflineSecret != nil {
		// The store checked the length; an id it holds is valid.
		e.Offline, _ = verifier.NewOfflineKey(k.ID, k.OfflineSecret, e)
	}
	if prev != nil {
		e.lastUsed.Store(prev.lastUsed.Load())
		e.flushed.Store(prev.flushed.Load())
	} else if k.LastUsedAt != nil {
		e.lastUsed.Store(k.LastUsedAt.Unix())
		e.flushed.Store(k.LastUsedAt.Unix())
	}
	return e
}

// Resync replaces the view with a full load from the store. Changes
// applied while the load was in flight win over the loaded records, so a
// slow resync never resurrects a deleted key or user or rolls back an
// update.
func (c *Cache) Resync(ctx context.Context) error {
	c.mu.Lock()
	start := c.seq
	c.mu.Unlock()
	// Keys first: the user of every key loaded existed when the keys were
	// read, so the users read next have it unless it was deleted since
	// (with its keys, which the feed then reports).
	keys, err := c.store.ListKeys(ctx)
	if err != nil {
		return err
	}
	users, err := c.store.ListUsers(ctx)
	if err != nil {
		return err
	}
	revs, err := c.store.ListRevocations(ctx, time.Now())
	if err != nil {
		return err
	}
	exps, err := c.store.ListLinkExpiries(ctx, time.Now())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revs.Store(c.revs.Load().union(revs, time.Now().Unix()))
	c.links.Store(c.resyncLinks(exps, start, time.Now().Unix()))
	old := c.view.Load()
	v := &view{
		byDigest: make(map[verifier.Digest]*Entry, len(keys)),
		byID:     make(map[string]*Entry, len(keys)),
		users:    c.resyncUsers(old, users, start),
		loaded:   time.Now(),
	}
	// kept is an entry of the old view that stays, derived again if its
	// user's record changed.
	kept := func(e *Entry) *Entry {
		if u := v.userOf(e.Key); u != e.User {
			ne := c.newEntry(e.Key, u, e)
			ne.seq = e.seq
			return ne
		}
		return e
	}
	for _, k := range keys {
		if tomb, gone := c.deleted[k.ID]; gone && tomb.seq > start {
			continue
		}
		prev := old.byID[k.ID]
		if prev == nil || prev.seq <= start || prev.Key.Rev < k.Rev {
			v.byID[k.ID] = c.newEntry(k, v.userOf(k), prev)
		} else {
			v.byID[k.ID] = kept(prev)
		}
	}
	for id, e := range old.byID {
		if _, ok := v.byID[id]; !ok && e.seq > start {
			v.byID[id] = kept(e) // created while the load was in flight
		}
	}
	for _, e := range v.byID {
		v.byDigest[e.Key.Digest] = e
	}
	for id, tomb := range c.deleted {
		if time.Since(tomb.at) > tombstoneTTL {
			delete(c.deleted, id)
		}
	}
	for name, tomb := range c.deletedUsers {
		if time.Since(tomb.at) > tombstoneTTL {
			delete(c.deletedUsers, name)
		}
	}
	c.view.Store(v)
	c.lastOK.Store(time.Now().UnixNano())
	return nil
}

// resyncUsers returns the users of the view a resync builds from the
// loaded records: the later of the loaded and the viewed record of each
// name, except deleted users, and the users created while the load was in
// flight (applied after start). A record that did not change keeps its
// pointer, so the entries derived with it stay. Called with c.mu held.
func (c *Cache) resyncUsers(old *view, loaded []*User, start uint64) map[string]userSlot {
	users := make(map[string]userSlot, len(loaded))
	for _, u := range loaded {
		if tomb, gone := c.deletedUsers[u.Name]; gone && tomb.rev >= u.Rev {
			continue
		}
		if prev, ok := old.users[u.Name]; ok && prev.u.Rev >= u.Rev {
			users[u.Name] = prev
			continue
		}
		users[u.Name] = userSlot{u: u}
	}
	for name, prev := range old.users {
		if _, ok := users[name]; !ok && prev.seq > start {
			users[name] = prev
		}
	}
	return users
}

// apply folds one change into the view. It is idempotent and ignores
// changes older than what the view holds, so the write-through path and
// the change feed may both deliver the same change, in any order.
func (c *Cache) apply(ch Change) {
	if ch.Kind == Resync {
		select {
		case c.resync <- struct{}{}:
		default: // one is pending already
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	old := c.view.Load()
	switch ch.Kind {
	case KeyPut:
		k := ch.Key
		if _, gone := c.deleted[k.ID]; gone {
			return
		}
		prev := old.byID[k.ID]
		if prev != nil && prev.Key.Rev >= k.Rev {
			return
		}
		v := old.clone()
		if prev != nil {
			delete(v.byDigest, prev.Key.Digest)
		}
		e := c.newEntry(k, old.userOf(k), prev)
		e.seq = c.seq
		v.byDigest[k.Digest] = e
		v.byID[k.ID] = e
		c.view.Store(v)
	case RevocationAdded:
		if ch.Revocation != nil {
			c.revs.Store(c.revs.Load().with(*ch.Revocation, time.Now().Unix()))
		}
	case KeyDeleted:
		c.deleted[ch.ID] = tombstone{seq: c.seq, at: time.Now()}
		prev := old.byID[ch.ID]
		if prev == nil {
			return
		}
		v := old.clone()
		delete(v.byDigest, prev.Key.Digest)
		delete(v.byID, ch.ID)
		c.view.Store(v)
	case UserPut:
		if ch.User != nil {
			c.putUser(old, ch.User)
		}
	case UserDeleted:
		c.deleteUser(old, ch.ID, ch.User, nil)
	case LinkExpiryChanged:
		if ch.Link != nil {
			c.putLinkExpiry(ch.Link)
		}
	}
}

// clone copies the key maps of v; the users map is shared.
func (v *view) clone() *view {
	return &view{byDigest: maps.Clone(v.byDigest), byID: maps.Clone(v.byID), users: v.users, loaded: v.loaded}
}

// putUser applies a UserPut of u unless the view holds that revision or a
// later one, or the user was deleted at or after it: a new snapshot with
// the record, and with the entries of the user's keys derived again.
// Called with c.mu held.
func (c *Cache) putUser(old *view, u *User) {
	if tomb, gone := c.deletedUsers[u.Name]; gone && tomb.rev >= u.Rev {
		return
	}
	if prev, ok := old.users[u.Name]; ok && prev.u.Rev >= u.Rev {
		return
	}
	v := &view{byDigest: old.byDigest, byID: old.byID, users: maps.Clone(old.users), loaded: old.loaded}
	v.users[u.Name] = userSlot{u: u, seq: c.seq}
	var stale []*Entry
	for _, e := range old.byID {
		if e.Key.User == u.Name {
			stale = append(stale, e)
		}
	}
	if len(stale) > 0 {
		v.byDigest, v.byID = maps.Clone(old.byDigest), maps.Clone(old.byID)
		for _, prev := range stale {
			e := c.newEntry(prev.Key, u, prev)
			e.seq = prev.seq // the key record itself did not change
			v.byDigest[e.Key.Digest], v.byID[e.Key.ID] = e, e
		}
	}
	c.view.Store(v)
}

// deleteUser applies the deletion of the user name, whose record as
// deleted is rec (nil if unknown), in one new snapshot, and removes the
// user's keys: exactly the ids given (and remembers them as deleted), or,
// when ids is nil, every key in the view whose User is name. The change
// feed does the latter; it reports each key deleted next, and those
// messages remember the ids. A deletion older than the record the view
// holds (a user created again under the name) leaves the record and its
// keys alone. Called with c.mu held.
func (c *Cache) deleteUser(old *view, name string, rec *User, ids []string) {
	prev, ok := old.users[name]
	var rev uint64
	switch {
	case rec != nil:
		rev = rec.Rev
	case ok:
		rev = prev.u.Rev
	}
	current := !ok || prev.u.Rev <= rev
	if current && rev > 0 && c.deletedUsers[name].rev < rev {
		c.deletedUsers[name] = userTombstone{rev: rev, at: time.Now()}
	}
	v := &view{byDigest: old.byDigest, byID: old.byID, users: old.users, loaded: old.loaded}
	removeUser := ok && current
	if removeUser {
		v.users = maps.Clone(old.users)
		delete(v.users, name)
	}
	var gone []*Entry
	if ids != nil {
		for _, id := range ids {
			c.deleted[id] = tombstone{seq: c.seq, at: time.Now()}
			if e := old.byID[id]; e != nil {
				gone = append(gone, e)
			}
		}
	} else if current {
		for _, e := range old.byID {
			if e.Key.User == name {
				gone = append(gone, e)
			}
		}
	}
	if len(gone) == 0 && !removeUser {
		return // nothing to remove
	}
	if len(gone) > 0 {
		v.byDigest, v.byID = maps.Clone(old.byDigest), maps.Clone(old.byID)
		for _, e := range gone {
			delete(v.byDigest, e.Key.Digest)
			delete(v.byID, e.Key.ID)
		}
	}
	c.view.Store(v)
}

// CreateKey stores k and adds it to the view.
func (c *Cache) CreateKey(ctx context.Context, k *Key) error {
	if err := c.store.CreateKey(ctx, k); err != nil {
		return err
	}
	c.apply(Change{Kind: KeyPut, Key: k.Clone()})
	return nil
}

// UpdateKey updates the key in the store and in the view.
func (c *Cache) UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error) {
	k, err := c.store.UpdateKey(ctx, id, fn)
	if err != nil {
		return nil, err
	}
	c.apply(Change{Kind: KeyPut, Key: k.Clone()})
	return k, nil
}

// DeleteKey deletes the key from the store and the view.
func (c *Cache) DeleteKey(ctx context.Context, id string) (*Key, error) {
	k, err := c.store.DeleteKey(ctx, id)
	if err != nil {
		return nil, err
	}
	c.apply(Change{Kind: KeyDeleted, ID: id})
	return k, nil
}

// CreateUser stores u and adds it to the view.
func (c *Cache) CreateUser(ctx context.Context, u *User) error {
	if err := c.store.CreateUser(ctx, u); err != nil {
		return err
	}
	c.apply(Change{Kind: UserPut, User: u.Clone()})
	return nil
}

// UpdateUser updates the user in the store and in the view, where the
// entries of its keys are derived again.
func (c *Cache) UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error) {
	u, err := c.store.UpdateUser(ctx, name, fn)
	if err != nil {
		return nil, err
	}
	c.apply(Change{Kind: UserPut, User: u.Clone()})
	return u, nil
}

// DeleteUser deletes the user and its keys from the store and the view.
func (c *Cache) DeleteUser(ctx context.Context, name string) (*User, []*Key, error) {
	u, keys, err := c.store.DeleteUser(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	c.mu.Lock()
	c.seq++
	c.deleteUser(c.view.Load(), name, u.Clone(), ids)
	c.mu.Unlock()
	return u, keys, nil
}

// flushTimeout bounds a write of last-used times, so that neither the
// flush loop nor Close (a config reload) hangs on an unreachable store.
// closeFlushTimeout keeps Close within a second in all.
const (
	flushTimeout      = 5 * time.Second
	closeFlushTimeout = 500 * time.Millisecond
)

// FlushLastUsed writes the last-used times that changed since the last
// flush, and the uses of ordinary links counted since (CountUse), to the
// store, giving up after a few seconds.
func (c *Cache) FlushLastUsed() error {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	return c.flushLastUsed(ctx)
}

// flushLastUsed writes both, and returns the first failure.
func (c *Cache) flushLastUsed(ctx context.Context) error {
	kerr := c.flushKeysLastUsed(ctx)
	lerr := c.flushLinkUses(ctx)
	if kerr != nil {
		return kerr
	}
	return lerr
}

func (c *Cache) flushKeysLastUsed(ctx context.Context) error {
	v := c.view.Load()
	batch := make(map[string]time.Time)
	for id, e := range v.byID {
		if lu := e.lastUsed.Load(); lu > e.flushed.Load() {
			batch[id] = time.Unix(lu, 0)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := c.store.TouchKeys(ctx, batch); err != nil {
		return err
	}
	for id, t := range batch {
		if e := v.byID[id]; e != nil {
			e.flushed.Store(t.Unix())
		}
	}
	return nil
}

// Close stops background work, cancelling what waits on the store, and
// writes pending last-used times and link uses, briefly. It returns within a second even
// when the store hangs. It does not close the store.
func (c *Cache) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.cancel()
		c.cancelFeed()
		c.done.Wait()
		if c.opts.LastUsedInterval > 0 {
			// A last chance to save last-used times, briefly: the store may
			// be the reason this cache is closing.
			ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
			ferr := c.flushLastUsed(ctx)
			cancel()
			if ferr != nil && !errors.Is(ferr, ErrClosed) {
				err = ferr
			}
		}
	})
	return err
}
