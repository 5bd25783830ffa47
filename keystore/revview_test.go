package keystore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

func mustURLID(t *testing.T) verifier.URLID {
	t.Helper()
	id, err := verifier.NewURLID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRevViewKinds(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Hour)
	urlID, other := mustURLID(t), mustURLID(t)
	v := newRevView().
		with(Revocation{Kind: RevokeURL, Target: urlID.String(), ExpiresAt: exp}, now.Unix()).
		with(Revocation{Kind: RevokeKey, Target: "key_aaaaaaaaaaaaaaaa", Before: now, ExpiresAt: exp}, now.Unix()).
		with(Revocation{Kind: RevokePrefix, Target: "/old/", Before: now, ExpiresAt: exp}, now.Unix())
	tests := []struct {
		name    string
		c       verifier.Claims
		path    string
		revoked bool
	}{
		{"revoked id", verifier.Claims{ID: urlID, IssuedAt: now.Unix()}, "/a", true},
		{"other id", verifier.Claims{ID: other, IssuedAt: now.Unix()}, "/a", false},
		{"key, issued before", verifier.Claims{ID: other, KeyID: "key_aaaaaaaaaaaaaaaa", IssuedAt: now.Unix() - 10}, "/a", true},
		{"key, issued the same second", verifier.Claims{ID: other, KeyID: "key_aaaaaaaaaaaaaaaa", IssuedAt: now.Unix()}, "/a", true},
		{"key, issued after", verifier.Claims{ID: other, KeyID: "key_aaaaaaaaaaaaaaaa", IssuedAt: now.Unix() + 1}, "/a", false},
		{"other key", verifier.Claims{ID: other, KeyID: "key_bbbbbbbbbbbbbbbb", IssuedAt: now.Unix() - 10}, "/a", false},
		{"prefix, issued before", verifier.Claims{ID: other, IssuedAt: now.Unix() - 10}, "/old/x.pdf", true},
		{"prefix boundary", verifier.Claims{ID: other, IssuedAt: now.Unix() - 10}, "/older/x.pdf", false},
		{"prefix, issued after", verifier.Claims{ID: other, IssuedAt: now.Unix() + 1}, "/old/x.pdf", false},
	}
	for _, tt := range tests {
		if got := v.revoked(&tt.c, tt.path, now.Unix()) != ""; got != tt.revoked {
			t.Errorf("%s: revoked = %v, want %v", tt.name, got, tt.revoked)
		}
	}
	// Everything stops mattering at its expiry.
	c := verifier.Claims{ID: urlID, KeyID: "key_aaaaaaaaaaaaaaaa", IssuedAt: now.Unix() - 10}
	if why := v.revoked(&c, "/old/x", exp.Unix()); why != "" {
		t.Errorf("after expiry: %q", why)
	}
	if n := len(v.records(now.Unix())); n != 3 {
		t.Errorf("records = %d, want 3", n)
	}
}

func TestRevViewMergesAndFolds(t *testing.T) {
	now := time.Now().Unix()
	v := newRevView()
	ids := make([]verifier.URLID, revDeltaMax+10)
	for i := range ids {
		ids[i] = mustURLID(t)
		v = v.with(Revocation{Kind: RevokeURL, Target: ids[i].String(), ExpiresAt: time.Unix(now+60, 0)}, now)
	}
	if len(v.urls) == 0 || len(v.delta) > revDeltaMax {
		t.Fatalf("delta never folded: base %d, delta %d", len(v.urls), len(v.delta))
	}
	for _, id := range ids {
		if v.revoked(&verifier.Claims{ID: id}, "/", now) == "" {
			t.Fatalf("id %s lost in a fold", id)
		}
	}
	// A later "before" for the same key wins; an earlier one does not undo it.
	k := "key_aaaaaaaaaaaaaaaa"
	v = v.with(Revocation{Kind: RevokeKey, Target: k, Before: time.Unix(now, 0), ExpiresAt: time.Unix(now+60, 0)}, now)
	v = v.with(Revocation{Kind: RevokeKey, Target: k, Before: time.Unix(now-100, 0), ExpiresAt: time.Unix(now+30, 0)}, now)
	if e := v.keys[k]; e.before != now || e.expires != now+60 {
		t.Errorf("merged key revocation = %+v", e)
	}
	// A union with nothing loaded keeps everything unexpired (monotonic).
	u := v.union(nil, now)
	if u.len() != v.len()-len(v.delta)+len(v.delta) || len(u.delta) != 0 {
		t.Errorf("union lost records: %d vs %d", u.len(), v.len())
	}
	if u.union(nil, now+61).len() != 0 {
		t.Error("expired records survived a union")
	}
}

func TestRevokedLookupDoesNotAllocate(t *testing.T) {
	now := time.Now()
	v := newRevView().with(Revocation{Kind: RevokeURL, Target: mustURLID(t).String(), ExpiresAt: now.Add(time.Hour)}, now.Unix())
	c := verifier.Claims{ID: mustURLID(t), KeyID: "key_aaaaaaaaaaaaaaaa"}
	if n := testing.AllocsPerRun(100, func() { v.revoked(&c, "/a/b", now.Unix()) }); n != 0 {
		t.Errorf("revoked allocates %v times", n)
	}
}

// flakyStore is a real BoltStore whose Ping the test can make fail, as if
// the network to a shared store were down.
type flakyStore struct {
	*BoltStore
	down atomic.Bool
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return ErrUnavailable
	}
	return f.BoltStore.Ping(ctx)
}

func (f *flakyStore) ListKeys(ctx context.Context) ([]*Key, error) {
	if f.down.Load() {
		return nil, ErrUnavailable
	}
	return f.BoltStore.ListKeys(ctx)
}

func TestCacheStaleness(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	st := &flakyStore{BoltStore: b}
	var reported atomic.Int32
	c, err := NewCache(context.Background(), st, CacheOptions{HealthInterval: 20 * time.Millisecond,
		OnError: func(op string, err error) {
			if errors.Is(err, ErrUnavailable) {
				reported.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	const maxStale = 200 * time.Millisecond
	if c.Stale(time.Now(), maxStale) {
		t.Fatal("stale right after a load")
	}
	if c.Stale(time.Now().Add(time.Hour), 0) {
		t.Fatal("max staleness 0 must mean never stale")
	}
	st.down.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for !c.Stale(time.Now(), maxStale) {
		if time.Now().After(deadline) {
			t.Fatal("never became stale while the store was down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A key written meanwhile straight into the store (as another instance
	// would) is picked up by the resync that recovery runs.
	k := &Key{ID: "key_cccccccccccccccc", Name: "late", Type: verifier.KeySecret, Scopes: []string{"/"}, Permissions: verifier.PermRead}
	k.Digest = verifier.DigestToken("sk_late")
	if err := b.db.Update(func(tx *boltTx) error { return putRaw(tx, k) }); err != nil {
		t.Fatal(err)
	}
	st.down.Store(false)
	for c.Stale(time.Now(), maxStale) || c.ByID(k.ID) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("not recovered: stale %v, key %v", c.Stale(time.Now(), maxStale), c.ByID(k.ID) != nil)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if reported.Load() != 1 {
		t.Errorf("outage reported %d times, want once", reported.Load())
	}
}

type boltTx = bolt.Tx

// putRaw writes a key record without notifying subscribers, as a write by
// another instance that this one's feed missed.
func putRaw(tx *bolt.Tx, k *Key) error {
	b, err := encodeKey(k)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketKeys).Put([]byte(k.ID), b); err != nil {
		return err
	}
	return tx.Bucket(bucketDigests).Put(k.Digest[:], []byte(k.ID))
}

// revDistinct checks that the view's count and listing both hold exactly
// want records, each target once.
func revDistinct(t *testing.T, what string, count int, list []Revocation, want int) {
	t.Helper()
	targets := make(map[string]bool, len(list))
	for _, r := range list {
		targets[r.Target] = true
	}
	if count != want || len(list) != want || len(targets) != want {
		t.Errorf("%s: count %d, listing %d entries with %d distinct targets; want %d of each", what, count, len(list), len(targets), want)
	}
}

// TestRevViewCountsEachRecordOnce: a cache applies every revocation twice,
// once from the store's change feed and once as its own write-through, in
// either order (bolt's feed is synchronous; Redis's may lag behind by a few
// records). Each distinct revocation is counted and listed once, across
// the folds of the delta.
func TestRevViewCountsEachRecordOnce(t *testing.T) {
	now := time.Now().Unix()
	exp := time.Unix(now+3600, 0)
	for _, n := range []int{5000, 10000, 20000} {
		for _, lag := range []int{0, 1, 3} { // how many records the feed trails the write-through
			v := newRevView()
			revs := make([]Revocation, n)
			for i := range revs {
				revs[i] = Revocation{Kind: RevokeURL, Target: mustURLID(t).String(), ExpiresAt: exp}
				v = v.with(revs[i], now) // one delivery
				if i >= lag {
					v = v.with(revs[i-lag], now) // the other
				}
				if v.len() != i+1 {
					t.Fatalf("%d revocations, feed %d behind: count %d after #%d", n, lag, v.len(), i+1)
				}
			}
			for _, r := range revs[n-lag:] {
				v = v.with(r, now)
			}
			revDistinct(t, fmt.Sprintf("%d revocations, feed %d behind", n, lag), v.len(), v.records(now), n)
		}
	}
}

// TestRevViewReRevokeAfterFold: revoking a link again with a later expiry
// after its record was folded into the base map replaces the record: it is
// counted and listed once, with the later expiry, which is enforced.
func TestRevViewReRevokeAfterFold(t *testing.T) {
	now := time.Now().Unix()
	id := mustURLID(t).String()
	v := newRevView().with(Revocation{Kind: RevokeURL, Target: id, ExpiresAt: time.Unix(now+60, 0)}, now)
	for range revDeltaMax {
		v = v.with(Revocation{Kind: RevokeURL, Target: mustURLID(t).String(), ExpiresAt: time.Unix(now+60, 0)}, now)
	}
	if raw, _ := decodeURLID(id); len(v.urls) == 0 || v.urls[raw] == 0 {
		t.Fatalf("no fold: base %d, delta %d", len(v.urls), len(v.delta))
	}
	later := time.Unix(now+120, 0).UTC()
	for range 2 { // feed and write-through
		v = v.with(Revocation{Kind: RevokeURL, Target: id, ExpiresAt: later}, now)
	}
	revDistinct(t, "after a re-revocation", v.len(), v.records(now), revDeltaMax+1)
	for _, r := range v.records(now) {
		if r.Target == id && !r.ExpiresAt.Equal(later) {
			t.Errorf("re-revoked record expires at %v, want %v", r.ExpiresAt, later)
		}
	}
	if v.revoked(&verifier.Claims{ID: mustParseURLID(t, id)}, "/", now+90) == "" {
		t.Error("the later expiry is not enforced")
	}
	// An earlier expiry changes nothing.
	if w := v.with(Revocation{Kind: RevokeURL, Target: id, ExpiresAt: time.Unix(now+90, 0)}, now); w != v {
		t.Error("an earlier expiry made a new view")
	}
	// A resync folds everything: still once.
	u := v.union(v.records(now), now)
	revDistinct(t, "after a union", u.len(), u.records(now), revDeltaMax+1)
}

// TestCacheRevocationsCountedOnce is the operator's view: 5,000 sequential
// revocations of distinct links through a cache on each store give a count
// and a listing of 5,000 (before any resync).
func TestCacheRevocationsCountedOnce(t *testing.T) {
	const n = 5000
	for name, open := range map[string]func(t *testing.T) Store{
		"bolt":  func(t *testing.T) Store { return boltOpen(t) },
		"redis": func(t *testing.T) Store { return redisOpen(t, redistest.Start(t), "") },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			c := newTestCache(t, s, CacheOptions{})
			exp := time.Now().Add(time.Hour)
			for i := range n {
				if err := c.Revoke(ctx, Revocation{Kind: RevokeURL, Target: mustURLID(t).String(), ExpiresAt: exp}); err != nil {
					t.Fatal(err)
				}
				if got := c.RevocationCount(); got != i+1 {
					t.Fatalf("count %d after revocation #%d", got, i+1)
				}
			}
			// A fence through the store alone arrives by the feed only,
			// after every earlier message.
			fence := Revocation{Kind: RevokeKey, Target: "key_ffffffffffffffff", Before: time.Now().Truncate(time.Second), ExpiresAt: exp}
			if err := s.Revoke(ctx, fence); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the feed to deliver the fence", func() bool {
				return c.Revoked(&verifier.Claims{ID: mustURLID(t), KeyID: fence.Target, IssuedAt: 1}, "/", time.Now()) != ""
			})
			revDistinct(t, name, c.RevocationCount(), c.Revocations(time.Now()), n+1)
		})
	}
}

// TestRevViewConcurrentWritersAndReaders runs writers (each revocation
// applied twice, as the feed and the write-through do, with re-revocations
// and key and prefix records) against readers of the published snapshots.
// Run with -race: a snapshot changed after it was published is a race.
// Every snapshot a reader sees is consistent, and nothing is lost.
func TestRevViewConcurrentWritersAndReaders(t *testing.T) {
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{})
	const writers, perWriter = 4, revDeltaMax
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	ids := make([][]string, writers)
	for w := range ids {
		for range perWriter {
			ids[w] = append(ids[w], mustURLID(t).String())
		}
	}
	var writing sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		writing.Go(func() {
			for i, id := range ids[w] {
				r := Revocation{Kind: RevokeURL, Target: id, ExpiresAt: exp}
				if i%7 == 0 && i > 0 { // a re-revocation, later, of an earlier id
					r = Revocation{Kind: RevokeURL, Target: ids[w][i/2], ExpiresAt: exp.Add(time.Duration(i) * time.Second)}
					c.apply(Change{Kind: RevocationAdded, Revocation: &r})
					r = Revocation{Kind: RevokeURL, Target: id, ExpiresAt: exp}
				}
				if i%100 == 0 {
					k := Revocation{Kind: RevokePrefix, Target: fmt.Sprintf("/w%d/", w), Before: exp.Add(-time.Hour), ExpiresAt: exp.Add(time.Duration(i) * time.Second)}
					c.apply(Change{Kind: RevocationAdded, Revocation: &k})
				}
				c.apply(Change{Kind: RevocationAdded, Revocation: &r})
				c.apply(Change{Kind: RevocationAdded, Revocation: &r})
			}
		})
	}
	var reading sync.WaitGroup
	errs := make(chan string, 8)
	for range 2 {
		reading.Go(func() {
			for !done.Load() {
				now := time.Now().Unix()
				v := c.revs.Load()
				list := v.records(now)
				targets := map[string]bool{}
				for _, r := range list {
					targets[string(r.Kind)+"|"+r.Target] = true
				}
				if v.len() != len(list) || len(targets) != len(list) {
					select {
					case errs <- fmt.Sprintf("snapshot: count %d, listing %d, distinct %d", v.len(), len(list), len(targets)):
					default:
					}
				}
				for _, id := range ids[0][:8] {
					_ = c.Revoked(&verifier.Claims{ID: mustParseURLID(t, id), IssuedAt: 1}, "/w0/x", time.Now())
				}
				_ = c.RevocationCount()
			}
		})
	}
	writing.Wait()
	done.Store(true)
	reading.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	want := writers*perWriter + writers // the URL ids and one prefix each
	revDistinct(t, "after the writers", c.RevocationCount(), c.Revocations(time.Now()), want)
	for w := range writers {
		for _, id := range ids[w] {
			if c.Revoked(&verifier.Claims{ID: mustParseURLID(t, id)}, "/", time.Now()) == "" {
				t.Fatalf("revocation of %s lost", id)
			}
		}
	}
}

func mustParseURLID(t *testing.T, s string) verifier.URLID {
	t.Helper()
	id, err := verifier.ParseURLID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
