package keystore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

// urlID is the URL id of a ledger record, as the request path has it.
func urlID(t testing.TB, l *Link) verifier.URLID {
	t.Helper()
	id, err := verifier.ParseURLID(l.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// linkTouchStore is a BoltStore whose TouchLinks can be made to fail and
// whose batches are recorded.
type linkTouchStore struct {
	*BoltStore
	mu      sync.Mutex
	fail    error
	batches []map[string]LinkUse
}

func (s *linkTouchStore) TouchLinks(ctx context.Context, uses map[string]LinkUse) error {
	s.mu.Lock()
	fail := s.fail
	s.batches = append(s.batches, uses)
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.BoltStore.TouchLinks(ctx, uses)
}

func (s *linkTouchStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *linkTouchStore) touches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func TestCacheLinkExpiryView(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	now := confLinkNow()
	signed := now.Add(time.Hour)
	// Moved before the cache starts: loaded at once.
	early := confNewLink(t, "/v/early.txt", now, signed)
	early.ExpiresAt = now.Add(10 * time.Minute)
	confCreateLink(t, s, early)
	plain := confCreateLink(t, s, confNewLink(t, "/v/plain.txt", now, signed))

	c := newTestCache(t, s, CacheOptions{})
	if got := c.LinkExpiry(urlID(t, early), signed.Unix()); got != early.ExpiresAt.Unix() {
		t.Errorf("LinkExpiry(loaded) = %d, want %d", got, early.ExpiresAt.Unix())
	}
	if got := c.LinkExpiry(urlID(t, plain), signed.Unix()); got != signed.Unix() {
		t.Errorf("LinkExpiry(never moved) = %d, want the token's %d", got, signed.Unix())
	}
	if c.LinkExpiryCount() != 1 {
		t.Errorf("LinkExpiryCount() = %d, want 1 (only moved links are held)", c.LinkExpiryCount())
	}

	// Through the cache: enforced at once.
	longer := signed.Add(24 * time.Hour)
	if _, err := c.SetLinkExpiry(ctx, plain.ID, longer, now); err != nil {
		t.Fatal(err)
	}
	if got := c.LinkExpiry(urlID(t, plain), signed.Unix()); got != longer.Unix() {
		t.Errorf("LinkExpiry after SetLinkExpiry = %d, want %d", got, longer.Unix())
	}
	// Through the store, someone else: the feed brings it.
	shorter := now.Add(time.Minute)
	if _, err := s.BoltStore.SetLinkExpiry(ctx, early.ID, shorter, now); err != nil {
		t.Fatal(err)
	}
	if got := c.LinkExpiry(urlID(t, early), signed.Unix()); got != shorter.Unix() {
		t.Errorf("LinkExpiry after the feed = %d, want %d", got, shorter.Unix())
	}
	// Created moved through the cache.
	created := confNewLink(t, "/v/created.txt", now, signed)
	created.ExpiresAt = now.Add(5 * time.Minute)
	confCreateLink(t, c, created)
	if got := c.LinkExpiry(urlID(t, created), signed.Unix()); got != created.ExpiresAt.Unix() {
		t.Errorf("LinkExpiry(created moved) = %d, want %d", got, created.ExpiresAt.Unix())
	}
	// A late message about an older revision is ignored.
	s.inject(Change{Kind: LinkExpiryChanged, Link: &LinkExpiry{ID: early.ID, ExpiresAt: signed.Add(time.Hour), SignedExpiresAt: signed, Rev: 1}})
	if got := c.LinkExpiry(urlID(t, early), signed.Unix()); got != shorter.Unix() {
		t.Errorf("LinkExpiry after a stale message = %d, want %d", got, shorter.Unix())
	}
	// A resync keeps what it loads.
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		l    *Link
		want time.Time
	}{{early, shorter}, {plain, longer}, {created, created.ExpiresAt}} {
		if got := c.LinkExpiry(urlID(t, tt.l), signed.Unix()); got != tt.want.Unix() {
			t.Errorf("after a resync LinkExpiry(%s) = %d, want %d", tt.l.Path, got, tt.want.Unix())
		}
	}
	// Shortened into the past: still enforced, after a resync too, until
	// the token expires.
	if _, err := c.SetLinkExpiry(ctx, created.ID, now, now); err != nil {
		t.Fatal(err)
	}
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.LinkExpiry(urlID(t, created), signed.Unix()); got != now.Unix() {
		t.Errorf("LinkExpiry of a link shortened to now, after a resync = %d, want %d", got, now.Unix())
	}
}

func TestCacheLinkExpiryResyncDropsMovedBack(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true) // the feed is not delivered
	now := confLinkNow()
	signed := now.Add(time.Hour)
	l := confNewLink(t, "/v/a.txt", now, signed)
	l.ExpiresAt = now.Add(time.Minute)
	confCreateLink(t, s, l)
	c := newTestCache(t, s, CacheOptions{})
	if got := c.LinkExpiry(urlID(t, l), signed.Unix()); got != l.ExpiresAt.Unix() {
		t.Fatalf("LinkExpiry = %d, want %d", got, l.ExpiresAt.Unix())
	}
	// Moved back to the token's expiry by someone whose message was lost.
	if _, err := s.BoltStore.SetLinkExpiry(ctx, l.ID, signed, now); err != nil {
		t.Fatal(err)
	}
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.LinkExpiry(urlID(t, l), signed.Unix()); got != signed.Unix() || c.LinkExpiryCount() != 0 {
		t.Errorf("after a resync LinkExpiry = %d (%d held), want the token's %d", got, c.LinkExpiryCount(), signed.Unix())
	}
}

// TestCacheLinkExpiryResyncKeepsInFlight: a change applied while a resync's
// load is in flight is not rolled back by the older loaded state.
func TestCacheLinkExpiryResyncKeepsInFlight(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true)
	now := confLinkNow()
	signed := now.Add(time.Hour)
	l := confCreateLink(t, s, confNewLink(t, "/v/a.txt", now, signed))
	c := newTestCache(t, s, CacheOptions{})
	moved := now.Add(2 * time.Hour)
	var once sync.Once
	s.setAfterList(func(context.Context, []*Key) {
		once.Do(func() {
			// The store is read after this for the expiries, so the
			// loaded list holds the move as well; what must not happen
			// is that the write-through applied now is dropped.
			if _, err := c.SetLinkExpiry(ctx, l.ID, moved, now); err != nil {
				t.Error(err)
			}
		})
	})
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.LinkExpiry(urlID(t, l), signed.Unix()); got != moved.Unix() {
		t.Errorf("LinkExpiry = %d, want the move made during the resync %d", got, moved.Unix())
	}
	// A slot applied during the load and missing from the list (a store
	// that lags) stays too.
	c.mu.Lock()
	start := c.seq
	c.seq++
	id2, _ := verifier.NewURLID()
	c.putLinkExpiry(&LinkExpiry{ID: id2.String(), ExpiresAt: now.Add(time.Minute), SignedExpiresAt: signed, Rev: 2})
	v := c.resyncLinks(nil, start, time.Now().Unix())
	c.mu.Unlock()
	if _, ok := v.m[id2]; !ok {
		t.Error("resyncLinks dropped an entry applied while the load was in flight")
	}
}

func TestCacheCountUse(t *testing.T) {
	ctx := context.Background()
	s := &linkTouchStore{BoltStore: boltOpen(t)}
	now := confLinkNow()
	a := confCreateLink(t, s, confNewLink(t, "/c/a.txt", now, now.Add(time.Hour)))
	b := confCreateLink(t, s, confNewLink(t, "/c/b.txt", now, now.Add(time.Hour)))
	c := newTestCache(t, s, CacheOptions{LastUsedInterval: time.Hour})
	for i := range 5 {
		c.CountUse(urlID(t, a), now.Add(time.Duration(i)*time.Second))
	}
	c.CountUse(urlID(t, b), now.Add(time.Minute))
	c.CountUse(urlID(t, b), now) // earlier: the latest use stays
	if s.touches() != 0 {
		t.Fatal("CountUse wrote to the store")
	}
	if err := c.FlushLastUsed(); err != nil {
		t.Fatal(err)
	}
	check := func(l *Link, uses int64, last time.Time) {
		t.Helper()
		got := confGetLink(t, s, l.ID, now)
		if got.Uses != uses || got.LastUsed == nil || !got.LastUsed.Equal(last) {
			t.Errorf("%s: uses %d last %v, want %d, %v", l.Path, got.Uses, got.LastUsed, uses, last)
		}
	}
	check(a, 5, now.Add(4*time.Second))
	check(b, 2, now.Add(time.Minute))
	// Nothing new: no write.
	if err := c.FlushLastUsed(); err != nil || s.touches() != 1 {
		t.Errorf("an idle flush: %v, %d batches written; want nil, 1", err, s.touches())
	}
	// A failed flush keeps the counts for the next one.
	c.CountUse(urlID(t, a), now.Add(2*time.Minute))
	errDown := fmt.Errorf("%w: down", ErrUnavailable)
	s.setFail(errDown)
	if err := c.FlushLastUsed(); !errors.Is(err, errDown) {
		t.Errorf("FlushLastUsed = %v, want the store's error", err)
	}
	c.CountUse(urlID(t, a), now.Add(3*time.Minute))
	s.setFail(nil)
	if err := c.FlushLastUsed(); err != nil {
		t.Fatal(err)
	}
	check(a, 7, now.Add(3*time.Minute))
	// Close writes what is pending.
	c.CountUse(urlID(t, b), now.Add(4*time.Minute))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	check(b, 3, now.Add(4*time.Minute))
	_ = ctx
}

func TestCacheCountUseDisabled(t *testing.T) {
	s := &linkTouchStore{BoltStore: boltOpen(t)}
	now := confLinkNow()
	a := confCreateLink(t, s, confNewLink(t, "/c/a.txt", now, now.Add(time.Hour)))
	c := newTestCache(t, s, CacheOptions{}) // LastUsedInterval zero: writing disabled
	c.CountUse(urlID(t, a), now)
	if err := c.FlushLastUsed(); err != nil || s.touches() != 0 {
		t.Errorf("FlushLastUsed = %v with %d batches; want nothing counted or written", err, s.touches())
	}
}

// TestCacheCountUseFlushLoop: the periodic flush writes link uses with the
// key last-used times.
func TestCacheCountUseFlushLoop(t *testing.T) {
	s := &linkTouchStore{BoltStore: boltOpen(t)}
	now := confLinkNow()
	a := confCreateLink(t, s, confNewLink(t, "/c/a.txt", now, now.Add(time.Hour)))
	c := newTestCache(t, s, CacheOptions{LastUsedInterval: 10 * time.Millisecond})
	c.CountUse(urlID(t, a), now)
	waitFor(t, "the flush loop to write the use", func() bool {
		l, err := s.GetLink(context.Background(), a.ID, now)
		return err == nil && l.Uses == 1
	})
}

// TestRedisCacheSeesLinkExpiry: an expiry moved through one instance is
// enforced by another, and loaded by an instance that starts later.
func TestRedisCacheSeesLinkExpiry(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newTestCache(t, redisOpen(t, srv, ""), CacheOptions{})
	b := newTestCache(t, redisOpen(t, srv, ""), CacheOptions{})
	now := confLinkNow()
	signed := now.Add(time.Hour)
	l := confCreateLink(t, a, confNewLink(t, "/r/a.txt", now, signed))
	id := urlID(t, l)
	for i, exp := range []time.Time{signed.Add(time.Hour), now.Add(time.Minute), signed, now} {
		if _, err := a.SetLinkExpiry(ctx, l.ID, exp, now); err != nil {
			t.Fatalf("SetLinkExpiry #%d: %v", i, err)
		}
		if got := a.LinkExpiry(id, signed.Unix()); got != exp.Unix() {
			t.Errorf("#%d: a.LinkExpiry = %d, want %d", i, got, exp.Unix())
		}
		redisWait(t, fmt.Sprintf("b to see move #%d", i), func() bool { return b.LinkExpiry(id, signed.Unix()) == exp.Unix() })
	}
	moved := confNewLink(t, "/r/b.txt", now, signed)
	moved.ExpiresAt = now.Add(2 * time.Minute)
	confCreateLink(t, a, moved)
	redisWait(t, "b to see a link created moved", func() bool {
		return b.LinkExpiry(urlID(t, moved), signed.Unix()) == moved.ExpiresAt.Unix()
	})
	c := newTestCache(t, redisOpen(t, srv, ""), CacheOptions{})
	if got := c.LinkExpiry(id, signed.Unix()); got != now.Unix() {
		t.Errorf("a new instance: LinkExpiry(shortened to now) = %d, want %d", got, now.Unix())
	}
	if got := c.LinkExpiry(urlID(t, moved), signed.Unix()); got != moved.ExpiresAt.Unix() {
		t.Errorf("a new instance: LinkExpiry(created moved) = %d, want %d", got, moved.ExpiresAt.Unix())
	}
	if c.LinkExpiryCount() != 2 {
		t.Errorf("a new instance holds %d moved expiries, want 2", c.LinkExpiryCount())
	}
}

// TestCacheLinkExpiryAllocs: the request path's lookup allocates nothing,
// with an empty view and with a full one.
func TestCacheLinkExpiryAllocs(t *testing.T) {
	c := &Cache{}
	c.links.Store(emptyLinkView)
	id, _ := verifier.NewURLID()
	if n := testing.AllocsPerRun(100, func() { _ = c.LinkExpiry(id, 1) }); n != 0 {
		t.Errorf("LinkExpiry (empty view) allocates %v times", n)
	}
	c.links.Store(benchLinkView(1000, id))
	if n := testing.AllocsPerRun(100, func() { _ = c.LinkExpiry(id, 1) }); n != 0 {
		t.Errorf("LinkExpiry (1000 moved) allocates %v times", n)
	}
	c.opts.LastUsedInterval = time.Hour
	for i := range c.uses {
		c.uses[i].m = map[verifier.URLID]useCount{}
	}
	now := time.Now()
	c.CountUse(id, now)
	if n := testing.AllocsPerRun(100, func() { c.CountUse(id, now) }); n != 0 {
		t.Errorf("CountUse of a counted link allocates %v times", n)
	}
}

// benchLinkView is a view of n moved expiries, one of them for id.
func benchLinkView(n int, id verifier.URLID) *linkView {
	m := make(map[verifier.URLID]linkSlot, n)
	for range n - 1 {
		other, _ := verifier.NewURLID()
		m[other] = linkSlot{exp: 1, until: 2, rev: 2}
	}
	m[id] = linkSlot{exp: 5, until: 6, rev: 2}
	return &linkView{m: m}
}

// BenchmarkLinkExpiry is the request path's expiry check: with no moved
// expiry (the common case), and with 1000.
func BenchmarkLinkExpiry(b *testing.B) {
	id, _ := verifier.NewURLID()
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("moved=%d", n), func(b *testing.B) {
			c := &Cache{}
			c.links.Store(emptyLinkView)
			if n > 0 {
				c.links.Store(benchLinkView(n, id))
			}
			b.ReportAllocs()
			var sum int64
			for b.Loop() {
				sum += c.LinkExpiry(id, 1)
			}
			_ = sum
		})
	}
}

// BenchmarkCountUse counts uses of 10k links from every CPU at once.
func BenchmarkCountUse(b *testing.B) {
	c := &Cache{opts: CacheOptions{LastUsedInterval: time.Hour}}
	for i := range c.uses {
		c.uses[i].m = map[verifier.URLID]useCount{}
	}
	ids := make([]verifier.URLID, 10_000)
	now := time.Now()
	for i := range ids {
		ids[i], _ = verifier.NewURLID()
		c.CountUse(ids[i], now) // the steady state: every link counted once since the flush
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			c.CountUse(ids[r.IntN(len(ids))], now)
		}
	})
}
