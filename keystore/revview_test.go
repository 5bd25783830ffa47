package keystore

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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
