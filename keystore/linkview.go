package keystore

import (
	"context"
	"sync"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// The cache's part of the link ledger: the view of moved expiries that the
// request path reads, and the in-memory use counters of ordinary links.

// linkSlot is a moved expiry in the view.
type linkSlot struct {
	exp   int64  // the expiry in force, unix seconds
	until int64  // when the entry stops mattering: the later of exp and the token's expiry, unix seconds
	rev   uint64 // the record's Rev when its expiry took this value
	seq   uint64 // Cache.seq when the entry was applied; 0 when loaded
}

// linkView is an immutable snapshot of the moved expiries, read through an
// atomic pointer. It holds only the links whose expiry was moved (a few,
// typically none), never the whole ledger.
type linkView struct {
	m map[verifier.URLID]linkSlot
}

var emptyLinkView = &linkView{}

func slotOf(e *LinkExpiry, seq uint64) linkSlot {
	return linkSlot{exp: e.ExpiresAt.Unix(), until: max(e.ExpiresAt.Unix(), e.SignedExpiresAt.Unix()), rev: e.Rev, seq: seq}
}

// LinkExpiry returns the expiry in force (unix seconds) of the link id,
// whose token says signed: the moved expiry if the view holds one, signed
// otherwise. It is the request path: lock-free and allocation-free, one
// atomic load and a length test when no expiry was moved.
func (c *Cache) LinkExpiry(id verifier.URLID, signed int64) int64 {
	v := c.links.Load()
	if len(v.m) == 0 {
		return signed
	}
	if s, ok := v.m[id]; ok {
		return s.exp
	}
	return signed
}

// LinkExpiryCount returns the number of moved expiries in the view.
func (c *Cache) LinkExpiryCount() int { return len(c.links.Load().m) }

// putLinkExpiry applies a moved expiry unless the view holds that revision
// of the record or a later one. Called with c.mu held.
func (c *Cache) putLinkExpiry(e *LinkExpiry) {
	id, err := verifier.ParseURLID(e.ID)
	if err != nil {
		return
	}
	old := c.links.Load()
	if prev, ok := old.m[id]; ok && prev.rev >= e.Rev {
		return
	}
	// The copy leaves out the entries that stopped mattering, so the view
	// stays small even without resyncs.
	now := time.Now().Unix()
	m := make(map[verifier.URLID]linkSlot, len(old.m)+1)
	for k, s := range old.m {
		if s.until > now {
			m[k] = s
		}
	}
	m[id] = slotOf(e, c.seq)
	c.links.Store(&linkView{m: m})
}

// resyncLinks returns the view a resync builds from the loaded expiries:
// the later revision of the loaded and the viewed entry of each link, and
// the entries applied while the load was in flight (after start); none
// that stopped mattering by now. An entry the store no longer lists (its
// expiry was moved back to the token's) is dropped. Called with c.mu held.
func (c *Cache) resyncLinks(loaded []LinkExpiry, start uint64, now int64) *linkView {
	old := c.links.Load()
	m := make(map[verifier.URLID]linkSlot, len(loaded))
	for i := range loaded {
		id, err := verifier.ParseURLID(loaded[i].ID)
		if err != nil {
			continue
		}
		s := slotOf(&loaded[i], 0)
		if prev, ok := old.m[id]; ok && prev.rev > s.rev {
			s = prev
		}
		if s.until > now {
			m[id] = s
		}
	}
	for id, prev := range old.m {
		if _, ok := m[id]; !ok && prev.seq > start && prev.until > now {
			m[id] = prev
		}
	}
	if len(m) == 0 {
		return emptyLinkView
	}
	return &linkView{m: m}
}

// useShards is the number of use-counter shards; a link's shard is its
// id's first byte modulo this (ids are random).
const useShards = 64

// useCount is what CountUse collected for one link since the last flush.
type useCount struct {
	uses int64
	last int64 // unix ms of the latest use
}

// useShard is a lock and the counters of its links, padded to a cache
// line of its own so shards never contend through false sharing.
type useShard struct {
	mu sync.Mutex
	m  map[verifier.URLID]useCount
	_  [64 - 16]byte
}

// CountUse counts a use of an ordinary link (one without a use limit) at
// now, in memory: it never waits on the network. The counts reach the
// store (TouchLinks) with the key last-used times (FlushLastUsed, every
// LastUsedInterval, and Close); with LastUsedInterval zero nothing is
// counted. It takes one of 64 locks, chosen by the id, and does not
// allocate once the link has been counted since the last flush.
func (c *Cache) CountUse(id verifier.URLID, now time.Time) {
	if c.opts.LastUsedInterval <= 0 {
		return
	}
	t := now.UnixMilli()
	sh := &c.uses[id[0]%useShards]
	sh.mu.Lock()
	u := sh.m[id]
	u.uses++
	u.last = max(u.last, t)
	sh.m[id] = u
	sh.mu.Unlock()
}

// takeUses empties the use counters into a TouchLinks batch.
func (c *Cache) takeUses() map[string]LinkUse {
	var batch map[string]LinkUse
	for i := range c.uses {
		sh := &c.uses[i]
		sh.mu.Lock()
		if len(sh.m) > 0 && batch == nil {
			batch = make(map[string]LinkUse)
		}
		for id, u := range sh.m {
			batch[id.String()] = LinkUse{Uses: u.uses, LastUsed: time.UnixMilli(u.last)}
		}
		clear(sh.m) // keeps the map's room: the next counts do not allocate
		sh.mu.Unlock()
	}
	return batch
}

// returnUses puts a batch that could not be written back into the
// counters, so the next flush tries again.
func (c *Cache) returnUses(batch map[string]LinkUse) {
	for s, lu := range batch {
		id, err := verifier.ParseURLID(s)
		if err != nil {
			continue
		}
		sh := &c.uses[id[0]%useShards]
		sh.mu.Lock()
		u := sh.m[id]
		u.uses += lu.Uses
		u.last = max(u.last, lu.LastUsed.UnixMilli())
		sh.m[id] = u
		sh.mu.Unlock()
	}
}

// flushLinkUses writes the counted uses to the store; on failure they
// are kept for the next flush.
func (c *Cache) flushLinkUses(ctx context.Context) error {
	batch := c.takeUses()
	if len(batch) == 0 {
		return nil
	}
	if err := c.store.TouchLinks(ctx, batch); err != nil {
		c.returnUses(batch)
		return err
	}
	return nil
}

// CreateLink records l in the store and, if its expiry in force is not its
// token's, in the view.
func (c *Cache) CreateLink(ctx context.Context, l *Link) error {
	if err := c.store.CreateLink(ctx, l); err != nil {
		return err
	}
	if l.moved() {
		e := storedLink(l).expiry()
		c.apply(Change{Kind: LinkExpiryChanged, Link: &e})
	}
	return nil
}

// GetLink returns the ledger record of the link id (Store.GetLink).
func (c *Cache) GetLink(ctx context.Context, id string, now time.Time) (*Link, error) {
	return c.store.GetLink(ctx, id, now)
}

// ListLinks lists ledger records (Store.ListLinks).
func (c *Cache) ListLinks(ctx context.Context, f LinkFilter, cursor string, limit int, now time.Time) ([]*Link, string, error) {
	return c.store.ListLinks(ctx, f, cursor, limit, now)
}

// SetLinkExpiry moves the expiry of the link id in the store and in the
// view, where it is enforced at once.
func (c *Cache) SetLinkExpiry(ctx context.Context, id string, exp, now time.Time) (*Link, error) {
	l, err := c.store.SetLinkExpiry(ctx, id, exp, now)
	if err != nil {
		return nil, err
	}
	e := l.expiry()
	c.apply(Change{Kind: LinkExpiryChanged, Link: &e})
	return l, nil
}

// UseLink counts a use of a link with a use limit (Store.UseLink).
func (c *Cache) UseLink(ctx context.Context, id string, max int64, client string, resume bool, grace time.Duration, now time.Time) (bool, int64, error) {
	return c.store.UseLink(ctx, id, max, client, resume, grace, now)
}

// ReleaseUse gives back a use UseLink counted (Store.ReleaseUse).
func (c *Cache) ReleaseUse(ctx context.Context, id string, client string) error {
	return c.store.ReleaseUse(ctx, id, client)
}
