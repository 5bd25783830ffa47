package keystore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
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

// BenchmarkRevocationPropagation measures how long a revocation made
// through one instance's cache takes to be enforced by another's, both on
// one real redis-server (as two Caddy instances would be). It reports the
// median and 99th percentile over b.N revocations.
func BenchmarkRevocationPropagation(b *testing.B) {
	srv := redistest.Start(b)
	open := func() *Cache {
		st := NewRedisStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "bench")
		c, err := NewCache(context.Background(), st, CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close(); _ = st.Close() })
		return c
	}
	a, other := open(), open()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		id, _ := verifier.NewURLID()
		cl := verifier.Claims{ID: id}
		start := time.Now()
		if err := a.Revoke(context.Background(), Revocation{Kind: RevokeURL, Target: id.String(), ExpiresAt: start.Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
		for other.Revoked(&cl, "/x", time.Now()) == "" {
			if time.Since(start) > 10*time.Second {
				b.Fatal("revocation never arrived")
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
