package keystore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryRevokedURLs reports the in-process memory per revoked
// link id, for a view of 1M revoked links.
func BenchmarkMemoryRevokedURLs(b *testing.B) {
	const n = 1_000_000
	exp := time.Now().Add(time.Hour)
	revs := make([]Revocation, n)
	for i := range revs {
		var id [16]byte
		_, _ = rand.Read(id[:])
		revs[i] = Revocation{Kind: RevokeURL, Target: base64.RawURLEncoding.EncodeToString(id[:]), ExpiresAt: exp}
	}
	for b.Loop() {
		before := heapInUse()
		v := newRevView().union(revs, time.Now().Unix())
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "bytes/revoked-url")
		runtime.KeepAlive(v)
	}
}

// BenchmarkMemoryKeys reports the in-process memory per API key, for a
// view of 100k keys.
func BenchmarkMemoryKeys(b *testing.B) {
	const n = 100_000
	keys := make([]*Key, n)
	for i := range keys {
		token, _ := verifier.NewKeyToken(verifier.KeySecret)
		id, _ := NewKeyID()
		keys[i] = &Key{ID: id, Name: fmt.Sprintf("key %d", i), Type: verifier.KeySecret, User: fmt.Sprintf("user%d", i),
			Scopes: []string{fmt.Sprintf("/users/user%d/", i)}, Permissions: verifier.PermRead, Hint: token[len(token)-4:],
			CreatedAt: time.Now(), UpdatedAt: time.Now(), Rev: 1, Digest: verifier.DigestToken(token)}
	}
	for b.Loop() {
		before := heapInUse()
		c := &Cache{opts: CacheOptions{}}
		v := &view{byDigest: make(map[verifier.Digest]*Entry, n), byID: make(map[string]*Entry, n)}
		for _, k := range keys {
			e := c.newEntry(k.Clone(), nil, nil)
			v.byDigest[k.Digest], v.byID[k.ID] = e, e
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "bytes/key")
		runtime.KeepAlive(v)
	}
}

// BenchmarkRevokedLookup is the request path's revocation check against a
// view of 1M revoked links (a miss, the common case).
func BenchmarkRevokedLookup(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	revs := make([]Revocation, 1_000_000)
	for i := range revs {
		var id [16]byte
		_, _ = rand.Read(id[:])
		revs[i] = Revocation{Kind: RevokeURL, Target: base64.RawURLEncoding.EncodeToString(id[:]), ExpiresAt: exp}
	}
	revs = append(revs, Revocation{Kind: RevokePrefix, Target: "/old/", Before: time.Now(), ExpiresAt: exp})
	v := newRevView().union(revs, time.Now().Unix())
	id, _ := verifier.NewURLID()
	c := verifier.Claims{ID: id, KeyID: "key_aaaaaaaaaaaaaaaa", IssuedAt: time.Now().Unix()}
	now := time.Now().Unix()
	b.ReportAllocs()
	for b.Loop() {
		if v.revoked(&c, "/reports/q1.pdf", now) != "" {
			b.Fatal("revoked")
		}
	}
}

// BenchmarkMemoryUsers reports the in-process memory per user, for a view
// of 100k users (without keys: BenchmarkMemoryKeys counts those).
func BenchmarkMemoryUsers(b *testing.B) {
	const n = 100_000
	recs := make([][]byte, n) // as stored: each loaded record has its own strings
	for i := range recs {
		name := fmt.Sprintf("user%d", i)
		recs[i], _ = encodeUser(&User{Name: name, Scopes: []string{"/users/" + name + "/"}, Permissions: verifier.PermRead,
			CreatedAt: time.Now(), UpdatedAt: time.Now(), Rev: uint64(i + 1)})
	}
	empty := &view{users: map[string]userSlot{}}
	for b.Loop() {
		before := heapInUse()
		c := &Cache{deletedUsers: map[string]userTombstone{}}
		loaded := make([]*User, n)
		for i, rec := range recs {
			if loaded[i], _ = decodeUser(rec); loaded[i] == nil {
				b.Fatal("bad record")
			}
		}
		v := c.resyncUsers(empty, loaded, 0)
		loaded = nil // the list goes; the view keeps the records
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "bytes/user")
		runtime.KeepAlive(v)
	}
}

// benchPropagation measures how long a change made through one instance's
// cache takes to reach another's, both on one real redis-server (as two
// Caddy instances would be), with viewSize site-wide keys in the view.
// setup runs once on the first cache; change makes one change through it
// and returns the condition that holds once the second cache has it. It
// reports the median and 99th percentile over b.N changes.
func benchPropagation(b *testing.B, viewSize int, setup func(a *Cache), change func(a *Cache) (seen func(*Cache) bool)) {
	ctx := context.Background()
	srv := redistest.Start(b)
	open := func() *Cache {
		st := NewRedisStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "bench")
		c, err := NewCache(ctx, st, CacheOptions{Derive: func(k *Key, u *User) any { return k.Name }})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close(); _ = st.Close() })
		return c
	}
	a, other := open(), open()
	for i := range viewSize {
		if err := a.CreateKey(ctx, confNewKey(b, strconv.Itoa(i), confBase)); err != nil {
			b.Fatal(err)
		}
	}
	if setup != nil {
		setup(a)
	}
	wait := func(what string, start time.Time, cond func() bool) {
		for !cond() {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("%s never arrived", what)
			}
			runtime.Gosched()
		}
	}
	wait("the setup", time.Now(), func() bool { return other.Len() == a.Len() && other.UserCount() == a.UserCount() })
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		seen := change(a)
		wait("the change", start, func() bool { return seen(other) })
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRevocationPropagation: a revocation made through one cache is
// enforced by the other.
func BenchmarkRevocationPropagation(b *testing.B) {
	benchPropagation(b, 0, nil, func(a *Cache) func(*Cache) bool {
		id, _ := verifier.NewURLID()
		cl := verifier.Claims{ID: id}
		if err := a.Revoke(context.Background(), Revocation{Kind: RevokeURL, Target: id.String(), ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
		return func(other *Cache) bool { return other.Revoked(&cl, "/x", time.Now()) != "" }
	})
}

// propagationViewSize is the number of keys in the view of the key and
// user propagation benchmarks, so that the cost of a new snapshot counts.
const propagationViewSize = 1000

// BenchmarkKeyPropagation: a key update made through one cache is in the
// other's view.
func BenchmarkKeyPropagation(b *testing.B) {
	var k *Key
	benchPropagation(b, propagationViewSize, func(a *Cache) {
		k = confNewKey(b, "watched", confBase)
		if err := a.CreateKey(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}, func(a *Cache) func(*Cache) bool {
		updated, err := a.UpdateKey(context.Background(), k.ID, func(k *Key) error { k.Name += "+"; return nil })
		if err != nil {
			b.Fatal(err)
		}
		return func(other *Cache) bool { e := other.ByID(k.ID); return e != nil && e.Key.Rev >= updated.Rev }
	})
}

// BenchmarkUserPropagation: a user update made through one cache is in the
// other's view, with the entries of the user's 10 keys derived again.
func BenchmarkUserPropagation(b *testing.B) {
	ctx := context.Background()
	var k *Key
	benchPropagation(b, propagationViewSize, func(a *Cache) {
		if err := a.CreateUser(ctx, confNewUser("alice")); err != nil {
			b.Fatal(err)
		}
		for i := range 10 {
			k = confUserKey(b, "alice "+strconv.Itoa(i), "alice")
			if err := a.CreateKey(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	}, func(a *Cache) func(*Cache) bool {
		updated, err := a.UpdateUser(ctx, "alice", func(u *User) error {
			if u.Permissions == verifier.PermRead {
				u.Permissions = verifier.PermSign
			} else {
				u.Permissions = verifier.PermRead
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return func(other *Cache) bool {
			e := other.ByID(k.ID)
			return e != nil && e.User != nil && e.User.Rev >= updated.Rev
		}
	})
}
