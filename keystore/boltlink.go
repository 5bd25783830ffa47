package keystore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The link ledger in bbolt. Buckets (created at open, so a file of an
// earlier release gains them, empty); ms is unix ms in 8 bytes big-endian,
// id the URL id's 22-character text form:
//
//	links            id -> JSON record (linkRecord, whole)
//	links_by_time    ms(CreatedAt) id -> ""          every record, by creation
//	links_by_key     key id 0x00 ms(CreatedAt) id -> ""
//	links_by_user    user 0x00 ms(CreatedAt) id -> ""
//	links_by_path    path 0x00 id -> ms(CreatedAt)   for prefix filters
//	links_by_expiry  ms(lifetime) id -> ""           what the sweep deletes, in order
//	links_moved      id -> ""                        records with ExpiresAt != SignedExpiresAt
//	link_clients     id 0x00 client -> ms            UseLink's per-client uses
//
// A record lives until its lifetime (Link.lifetime) ends; the sweep, run
// at open and every linkSweepInterval by a goroutine that Close stops,
// then deletes it with its index entries. Reads hide the records whose
// ExpiresAt has passed before that.
var (
	bucketLinks       = []byte("links")
	bucketLinksTime   = []byte("links_by_time")
	bucketLinksKey    = []byte("links_by_key")
	bucketLinksUser   = []byte("links_by_user")
	bucketLinksPath   = []byte("links_by_path")
	bucketLinksExpiry = []byte("links_by_expiry")
	bucketLinksMoved  = []byte("links_moved")
	bucketLinkClients = []byte("link_clients")

	linkBuckets = [][]byte{bucketLinks, bucketLinksTime, bucketLinksKey, bucketLinksUser,
		bucketLinksPath, bucketLinksExpiry, bucketLinksMoved, bucketLinkClients}
)

// boltPutIndexes writes the record l's index entries.
func boltPutIndexes(tx *bolt.Tx, l *Link) error {
	return linkIndexEntries(l, func(bucket, key, value []byte) error {
		if value == nil {
			value = []byte{}
		}
		return tx.Bucket(bucket).Put(key, value)
	})
}

// boltSweepBatch bounds the records one sweep transaction deletes, so the
// sweep never holds the writer lock for long.
const boltSweepBatch = 5000

// boltTimeKey is an entry of a time-ordered index: prefix, ms, id.
func boltTimeKey(prefix []byte, ms int64, id string) []byte {
	k := make([]byte, 0, len(prefix)+8+len(id))
	k = append(k, prefix...)
	k = binary.BigEndian.AppendUint64(k, uint64(ms))
	return append(k, id...)
}

// boltOwnerPrefix is the prefix of a key's or user's entries in
// links_by_key or links_by_user.
func boltOwnerPrefix(owner string) []byte { return append([]byte(owner), 0) }

// boltClientKey is a client's entry in link_clients.
func boltClientKey(id, client string) []byte {
	return append(append([]byte(id), 0), client...)
}

// linkInTx reads and decodes the record id, or returns ErrNotFound.
func linkInTx(tx *bolt.Tx, id string) (*Link, error) {
	b := tx.Bucket(bucketLinks).Get([]byte(id))
	if b == nil {
		return nil, ErrNotFound
	}
	return decodeLink(id, b)
}

// liveLinkInTx is linkInTx for a record that must not be expired at now.
func liveLinkInTx(tx *bolt.Tx, id string, now time.Time) (*Link, error) {
	l, err := linkInTx(tx, id)
	if err == nil && l.Expired(now) {
		return nil, ErrNotFound
	}
	return l, err
}

// putLinkInTx writes the record l (its index entries are the caller's).
func putLinkInTx(tx *bolt.Tx, l *Link) error {
	b, err := encodeLink(l)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLinks).Put([]byte(l.ID), b)
}

// linkIndexEntries calls fn with the bucket and key of every index entry
// of l but link_clients': those CreateLink writes and the sweep deletes.
func linkIndexEntries(l *Link, fn func(bucket, key, value []byte) error) error {
	ms := l.CreatedAt.UnixMilli()
	if err := fn(bucketLinksTime, boltTimeKey(nil, ms, l.ID), nil); err != nil {
		return err
	}
	if l.KeyID != "" {
		if err := fn(bucketLinksKey, boltTimeKey(boltOwnerPrefix(l.KeyID), ms, l.ID), nil); err != nil {
			return err
		}
	}
	if l.User != "" {
		if err := fn(bucketLinksUser, boltTimeKey(boltOwnerPrefix(l.User), ms, l.ID), nil); err != nil {
			return err
		}
	}
	if err := fn(bucketLinksPath, []byte(linkPathEntry(l.Path, l.ID)), encodeMs(l.CreatedAt)); err != nil {
		return err
	}
	if err := fn(bucketLinksExpiry, boltTimeKey(nil, l.lifetime().UnixMilli(), l.ID), nil); err != nil {
		return err
	}
	if l.moved() {
		return fn(bucketLinksMoved, []byte(l.ID), nil)
	}
	return nil
}

// CreateLink implements Store.
func (s *BoltStore) CreateLink(_ context.Context, l *Link) error {
	stored, err := s.newLinkRecord(l)
	if err != nil {
		return err
	}
	// Batch: concurrent signings share one transaction and one fsync (the
	// function may run again if another one in its batch fails; it is
	// idempotent).
	err = s.db.Batch(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketLinks).Get([]byte(l.ID)) != nil {
			return ErrExists
		}
		if err := putLinkInTx(tx, stored); err != nil {
			return err
		}
		return boltPutIndexes(tx, stored)
	})
	if errors.Is(err, ErrExists) {
		return err
	}
	if err != nil {
		return s.unavailable(err)
	}
	l.Rev = 1
	if stored.moved() {
		e := stored.expiry()
		s.feed.send(Change{Kind: LinkExpiryChanged, Link: &e})
	}
	return nil
}

// GetLink implements Store.
func (s *BoltStore) GetLink(_ context.Context, id string, now time.Time) (*Link, error) {
	var l *Link
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		l, err = liveLinkInTx(tx, id, now)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return l, s.unavailable(err)
}

// ListLinks implements Store.
func (s *BoltStore) ListLinks(_ context.Context, f LinkFilter, cursor string, limit int, now time.Time) ([]*Link, string, error) {
	from, hasFrom, err := checkListArgs(f, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	var out []*Link
	err = s.db.View(func(tx *bolt.Tx) error {
		out = out[:0]
		records := tx.Bucket(bucketLinks)
		var decodeErr error
		// take adds the record id if it is live and matches; it
		// reports true once the page and one more are found.
		take := func(id []byte) bool {
			b := records.Get(id)
			if b == nil {
				return false // cannot happen: entries go with their record
			}
			l, err := decodeLink(string(id), b)
			if err != nil {
				decodeErr = err
				return true
			}
			if !l.Expired(now) && f.matches(l) {
				out = append(out, l)
			}
			return len(out) > limit
		}
		walk := func(bucket, prefix []byte) {
			boltWalkBack(tx.Bucket(bucket), prefix, from, hasFrom, take)
		}
		switch {
		case f.KeyID != "":
			walk(bucketLinksKey, boltOwnerPrefix(f.KeyID))
		case f.User != "":
			walk(bucketLinksUser, boltOwnerPrefix(f.User))
		default:
			exact, below, ok := pathRanges(f.PathPrefix)
			if !ok {
				walk(bucketLinksTime, nil)
				break
			}
			cands, few := boltPathCandidates(tx.Bucket(bucketLinksPath), exact, below)
			if !few {
				walk(bucketLinksTime, nil)
				break
			}
			for _, p := range cands {
				if hasFrom && !from.before(p) {
					continue
				}
				if take([]byte(p.id)) {
					break
				}
			}
		}
		return decodeErr
	})
	if err != nil {
		return nil, "", s.unavailable(err)
	}
	return pageOf(out, limit)
}

// pageOf cuts a listing of up to limit+1 records to limit, and returns
// the cursor of the next page if there is one.
func pageOf(out []*Link, limit int) ([]*Link, string, error) {
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	return out, linkPosOf(out[limit-1]).encode(), nil
}

// boltWalkBack calls fn with the id of each entry of a time-ordered index
// under prefix, newest first, from the position after from (or from the
// newest, when hasFrom is false), until fn returns true.
func boltWalkBack(b *bolt.Bucket, prefix []byte, from linkPos, hasFrom bool, fn func(id []byte) bool) {
	c := b.Cursor()
	var seek []byte
	if hasFrom {
		seek = boltTimeKey(prefix, from.created, from.id)
	} else {
		seek = append(slices.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...)
	}
	// The greatest key before seek.
	k, _ := c.Seek(seek)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(k) >= len(prefix)+8; k, _ = c.Prev() {
		if fn(k[len(prefix)+8:]) {
			return
		}
	}
}

// boltPathCandidates returns the positions of the records in the path
// index ranges, newest first, if there are at most linkPathScanMax of
// them (few); otherwise few is false.
func boltPathCandidates(b *bolt.Bucket, ranges ...[2]string) (cands []linkPos, few bool) {
	c := b.Cursor()
	for _, r := range ranges {
		for k, v := c.Seek([]byte(r[0])); k != nil && inRange(k, r); k, v = c.Next() {
			if len(cands) == linkPathScanMax {
				return nil, false
			}
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) != 8 {
				continue
			}
			cands = append(cands, linkPos{created: int64(binary.BigEndian.Uint64(v)), id: string(k[i+1:])})
		}
	}
	slices.SortFunc(cands, func(a, b linkPos) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	return cands, true
}

// SetLinkExpiry implements Store.
func (s *BoltStore) SetLinkExpiry(_ context.Context, id string, exp, now time.Time) (*Link, error) {
	var updated *Link
	err := s.db.Update(func(tx *bolt.Tx) error {
		l, err := liveLinkInTx(tx, id, now)
		if err != nil {
			return err
		}
		expiry := tx.Bucket(bucketLinksExpiry)
		if err := expiry.Delete(boltTimeKey(nil, l.lifetime().UnixMilli(), id)); err != nil {
			return err
		}
		l.ExpiresAt = truncMs(exp)
		l.Rev++
		if err := putLinkInTx(tx, l); err != nil {
			return err
		}
		if err := expiry.Put(boltTimeKey(nil, l.lifetime().UnixMilli(), id), []byte{}); err != nil {
			return err
		}
		if l.moved() {
			err = tx.Bucket(bucketLinksMoved).Put([]byte(id), []byte{})
		} else {
			err = tx.Bucket(bucketLinksMoved).Delete([]byte(id))
		}
		updated = l
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, s.unavailable(err)
	}
	e := updated.expiry()
	s.feed.send(Change{Kind: LinkExpiryChanged, Link: &e})
	return updated, nil
}

// ListLinkExpiries implements Store.
func (s *BoltStore) ListLinkExpiries(_ context.Context, now time.Time) ([]LinkExpiry, error) {
	var out []LinkExpiry
	err := s.db.View(func(tx *bolt.Tx) error {
		out = out[:0]
		return tx.Bucket(bucketLinksMoved).ForEach(func(k, _ []byte) error {
			l, err := linkInTx(tx, string(k))
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if l.lifetime().After(now) {
				out = append(out, l.expiry())
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.unavailable(err)
	}
	return out, nil
}

// TouchLinks implements Store. Records are live or expired by the clock.
func (s *BoltStore) TouchLinks(_ context.Context, uses map[string]LinkUse) error {
	if len(uses) == 0 {
		return nil
	}
	now := time.Now()
	return s.unavailable(s.db.Update(func(tx *bolt.Tx) error {
		for id, u := range uses {
			l, err := liveLinkInTx(tx, id, now)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			l.Uses = max(l.Uses+u.Uses, 0)
			if !u.LastUsed.IsZero() && (l.LastUsed == nil || u.LastUsed.After(*l.LastUsed)) {
				t := truncMs(u.LastUsed)
				l.LastUsed = &t
			}
			if err := putLinkInTx(tx, l); err != nil {
				return err
			}
		}
		return nil
	}))
}

// UseLink implements Store: one write transaction.
func (s *BoltStore) UseLink(_ context.Context, id string, max int64, client string, resume bool, grace time.Duration, now time.Time) (ok bool, uses int64, err error) {
	// Batch, as CreateLink; the function sets its results afresh each run.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		ok, uses = false, 0
		l, err := liveLinkInTx(tx, id, now)
		if err != nil {
			return err
		}
		uses = l.Uses
		clients := tx.Bucket(bucketLinkClients)
		ck := boltClientKey(id, client)
		nowMs := now.UnixMilli()
		if resume {
			last := clients.Get(ck)
			if len(last) != 8 || nowMs-int64(binary.BigEndian.Uint64(last)) > grace.Milliseconds() {
				return nil
			}
			ok = true
			return nil
		}
		if max > 0 && l.Uses >= max {
			return nil
		}
		l.Uses++
		if l.LastUsed == nil || now.After(*l.LastUsed) {
			t := truncMs(now)
			l.LastUsed = &t
		}
		if err := putLinkInTx(tx, l); err != nil {
			return err
		}
		ok, uses = true, l.Uses
		return clients.Put(ck, encodeMs(now))
	})
	if errors.Is(err, ErrNotFound) {
		return false, 0, err
	}
	if err != nil {
		return false, 0, s.unavailable(err)
	}
	return ok, uses, nil
}

// ReleaseUse implements Store.
func (s *BoltStore) ReleaseUse(_ context.Context, id string, client string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		l, err := linkInTx(tx, id)
		if err != nil {
			return err
		}
		// The client made no download: it has nothing to resume.
		if err := tx.Bucket(bucketLinkClients).Delete(boltClientKey(id, client)); err != nil {
			return err
		}
		if l.Uses == 0 {
			return nil
		}
		l.Uses--
		return putLinkInTx(tx, l)
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	return s.unavailable(err)
}

// sweepLinks deletes the records whose lifetime ended at or before now
// (the clock), with all their index entries, a batch per transaction. It
// returns how many it deleted.
func (s *BoltStore) sweepLinks(ctx context.Context, now time.Time) (int, error) {
	total := 0
	limit := boltTimeKey(nil, now.UnixMilli()+1, "") // keys below are due
	due := func(tx *bolt.Tx) bool {
		k, _ := tx.Bucket(bucketLinksExpiry).Cursor().First()
		return k != nil && bytes.Compare(k, limit) < 0
	}
	for ctx.Err() == nil {
		// Most runs find nothing due: a read transaction says so without
		// the write (and the fsync) of an empty commit.
		var any bool
		if err := s.db.View(func(tx *bolt.Tx) error { any = due(tx); return nil }); err != nil {
			return total, s.unavailable(err)
		}
		if !any {
			break
		}
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			n = 0
			var due [][]byte
			c := tx.Bucket(bucketLinksExpiry).Cursor()
			for k, _ := c.First(); k != nil && bytes.Compare(k, limit) < 0 && len(due) < boltSweepBatch; k, _ = c.Next() {
				due = append(due, slices.Clone(k))
			}
			for _, k := range due {
				if err := deleteLinkInTx(tx, string(k[8:])); err != nil {
					return err
				}
				if err := tx.Bucket(bucketLinksExpiry).Delete(k); err != nil {
					return err
				}
			}
			n = len(due)
			return nil
		})
		if err != nil {
			return total, s.unavailable(err)
		}
		total += n
		if n < boltSweepBatch {
			break
		}
	}
	return total, nil
}

// deleteLinkInTx deletes the record id, its index entries and its client
// records (its entry in links_by_expiry is the caller's).
func deleteLinkInTx(tx *bolt.Tx, id string) error {
	l, err := linkInTx(tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	err = linkIndexEntries(l, func(bucket, key, _ []byte) error {
		if bytes.Equal(bucket, bucketLinksExpiry) {
			return nil
		}
		return tx.Bucket(bucket).Delete(key)
	})
	if err != nil {
		return err
	}
	prefix := boltClientKey(id, "")
	c := tx.Bucket(bucketLinkClients).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketLinksMoved).Delete([]byte(id)); err != nil {
		return err
	}
	return tx.Bucket(bucketLinks).Delete([]byte(id))
}

// sweepLoop runs the sweep at once and every interval until ctx is
// cancelled (by Close). Failures are left to the next run.
func (s *BoltStore) sweepLoop(ctx context.Context, interval time.Duration) {
	defer s.sweeping.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, _ = s.sweepLinks(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
