package keystore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// cacheTestStore is a real BoltStore that a test can pause and observe:
// hooks run inside ListKeys and UpdateKey after the real call returned,
// TouchKeys calls are counted, and when detached the store's own change
// feed is not forwarded, so the test alone decides what the cache hears
// (through inject).
type cacheTestStore struct {
	*BoltStore

	mu             sync.Mutex
	afterList      func(ctx context.Context, keys []*Key)
	afterListUsers func(ctx context.Context, users []*User)
	afterUpdate    func(k *Key)
	touches        []map[string]time.Time
	detached       bool
	feed           fanout // what the test injects
}

func newCacheTestStore(t *testing.T, detached bool) *cacheTestStore {
	return &cacheTestStore{BoltStore: boltOpen(t), detached: detached}
}

func (s *cacheTestStore) ListKeys(ctx context.Context) ([]*Key, error) {
	keys, err := s.BoltStore.ListKeys(ctx)
	s.mu.Lock()
	hook := s.afterList
	s.mu.Unlock()
	if hook != nil && err == nil {
		hook(ctx, keys)
	}
	return keys, err
}

func (s *cacheTestStore) ListUsers(ctx context.Context) ([]*User, error) {
	users, err := s.BoltStore.ListUsers(ctx)
	s.mu.Lock()
	hook := s.afterListUsers
	s.mu.Unlock()
	if hook != nil && err == nil {
		hook(ctx, users)
	}
	return users, err
}

func (s *cacheTestStore) UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error) {
	k, err := s.BoltStore.UpdateKey(ctx, id, fn)
	s.mu.Lock()
	hook := s.afterUpdate
	s.mu.Unlock()
	if hook != nil && err == nil {
		hook(k)
	}
	return k, err
}

func (s *cacheTestStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	s.mu.Lock()
	s.touches = append(s.touches, maps.Clone(lastUsed))
	s.mu.Unlock()
	return s.BoltStore.TouchKeys(ctx, lastUsed)
}

func (s *cacheTestStore) Subscribe(fn func(Change)) func() {
	cancelInjected := s.feed.subscribe(fn)
	cancelInner := func() {}
	if !s.detached {
		cancelInner = s.BoltStore.Subscribe(fn)
	}
	return func() {
		cancelInner()
		cancelInjected()
	}
}

// inject delivers c to every subscriber, as a change feed would.
func (s *cacheTestStore) inject(c Change) { s.feed.send(c) }

func (s *cacheTestStore) setAfterList(fn func(context.Context, []*Key)) {
	s.mu.Lock()
	s.afterList = fn
	s.mu.Unlock()
}

func (s *cacheTestStore) setAfterListUsers(fn func(context.Context, []*User)) {
	s.mu.Lock()
	s.afterListUsers = fn
	s.mu.Unlock()
}

func (s *cacheTestStore) setAfterUpdate(fn func(*Key)) {
	s.mu.Lock()
	s.afterUpdate = fn
	s.mu.Unlock()
}

func (s *cacheTestStore) touchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.touches)
}

func (s *cacheTestStore) subscribers() int { return s.feed.len() }

func newTestCache(t *testing.T, s Store, opts CacheOptions) *Cache {
	t.Helper()
	c, err := NewCache(context.Background(), s, opts)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(confWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheLoadsExistingKeys(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	plain := confCreate(t, s, confNewKey(t, "plain", confBase))
	exp := confBase.Add(time.Hour)
	expiring := confNewKey(t, "expiring", confBase.Add(time.Minute))
	expiring.ExpiresAt = &exp
	confCreate(t, s, expiring)
	used := confCreate(t, s, confNewKey(t, "used", confBase.Add(2*time.Minute)))
	usedAt := confBase.Add(30 * time.Minute)
	if err := s.TouchKeys(ctx, map[string]time.Time{used.ID: usedAt}); err != nil {
		t.Fatal(err)
	}
	touchesBefore := s.touchCount()

	c := newTestCache(t, s, CacheOptions{Derive: func(k *Key, _ *User) any { return "derived:" + k.Name }})
	if c.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", c.Len())
	}
	if c.LoadedAt().IsZero() {
		t.Error("LoadedAt() is zero after the initial load")
	}
	if c.Store() != Store(s) {
		t.Error("Store() is not the store given to NewCache")
	}
	for _, k := range []*Key{plain, expiring, used} {
		e := c.Lookup(k.Digest)
		if e == nil {
			t.Fatalf("Lookup(%s) = nil", k.Name)
		}
		if d := confDiff(e.Key, confGet(t, s, k.ID)); d != "" {
			t.Errorf("Lookup(%s): %s", k.Name, d)
		}
		if c.ByID(k.ID) != e {
			t.Errorf("ByID(%s) is not the entry Lookup returns", k.Name)
		}
		if e.Any != "derived:"+k.Name {
			t.Errorf("Entry.Any = %v, want derived:%s", e.Any, k.Name)
		}
	}
	e := c.Lookup(expiring.Digest)
	if e.Expired(exp.Add(-time.Nanosecond)) || !e.Expired(exp) || !e.Expired(exp.Add(time.Hour)) {
		t.Error("Entry.Expired does not switch exactly at ExpiresAt")
	}
	if c.Lookup(plain.Digest).Expired(exp.Add(1000 * time.Hour)) {
		t.Error("a key without expiry expired")
	}
	if got := c.Lookup(used.Digest).LastUsed(); !got.Equal(usedAt) {
		t.Errorf("LastUsed() of a loaded key = %v, want %v", got, usedAt)
	}
	if !c.Lookup(plain.Digest).LastUsed().IsZero() {
		t.Error("LastUsed() of an unused key is not zero")
	}
	// Loaded last-used times are not written back.
	if err := c.FlushLastUsed(); err != nil {
		t.Fatal(err)
	}
	if s.touchCount() != touchesBefore {
		t.Error("FlushLastUsed wrote last-used times it had just loaded")
	}
	missing := confNewKey(t, "missing", confBase)
	if c.Lookup(missing.Digest) != nil || c.ByID(missing.ID) != nil {
		t.Error("unknown key found")
	}
}

func TestCacheNewCacheLoadError(t *testing.T) {
	s := newCacheTestStore(t, false)
	if err := s.BoltStore.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := NewCache(context.Background(), s, CacheOptions{ResyncInterval: time.Millisecond})
	if err == nil {
		c.Close()
		t.Fatal("NewCache on a closed store succeeded")
	}
	if !errors.Is(err, ErrClosed) {
		t.Errorf("NewCache err = %v, want the store's ErrClosed", err)
	}
	if n := s.subscribers(); n != 0 {
		t.Errorf("failed NewCache left %d subscriptions", n)
	}
}

// cacheKeyWriter is what Cache and Store have in common for writing keys.
type cacheKeyWriter interface {
	CreateKey(context.Context, *Key) error
	UpdateKey(context.Context, string, func(*Key) error) (*Key, error)
	DeleteKey(context.Context, string) (*Key, error)
}

// TestCacheChanges follows a key through create, update and delete, once
// through the cache's own write-through (with the store's feed detached) and
// once through the feed alone (changes made on the store by someone else).
func TestCacheChanges(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		detached bool
		via      func(c *Cache, s *cacheTestStore) cacheKeyWriter
	}{
		{"write-through", true, func(c *Cache, _ *cacheTestStore) cacheKeyWriter { return c }},
		{"feed", false, func(_ *Cache, s *cacheTestStore) cacheKeyWriter { return s.BoltStore }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newCacheTestStore(t, tt.detached)
			c := newTestCache(t, s, CacheOptions{})
			w := tt.via(c, s)
			other := confCreate(t, s.BoltStore, confNewKey(t, "other", confBase))
			if tt.detached {
				// Not delivered: bring the view up to date by hand.
				if err := c.Resync(ctx); err != nil {
					t.Fatal(err)
				}
			}

			k := confNewKey(t, "k", confBase)
			if err := w.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			e1 := c.Lookup(k.Digest)
			if e1 == nil || e1.Key.ID != k.ID || e1.Key.Rev != k.Rev || e1.Key.Permissions != verifier.PermRead {
				t.Fatalf("after create Lookup = %+v", e1)
			}
			if c.ByID(k.ID) != e1 || c.Len() != 2 {
				t.Errorf("after create ByID/Len disagree with Lookup")
			}

			if _, err := w.UpdateKey(ctx, k.ID, func(r *Key) error {
				r.Permissions = verifier.PermSign
				r.Scopes = []string{"/bob/"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e2 := c.Lookup(k.Digest) // the digest never changes
			if e2 == nil || e2.Key.Rev != k.Rev+1 || e2.Key.Permissions != verifier.PermSign || e2.Key.Scopes[0] != "/bob/" {
				t.Fatalf("after update Lookup = %+v", e2)
			}
			if c.ByID(k.ID) != e2 {
				t.Error("after update ByID is not the new entry")
			}
			// Published entries are immutable: a request holding the old
			// entry keeps a consistent record.
			if e1.Key.Permissions != verifier.PermRead || e1.Key.Rev != k.Rev {
				t.Errorf("update modified the published entry: %+v", e1.Key)
			}

			if _, err := w.DeleteKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			if c.Lookup(k.Digest) != nil || c.ByID(k.ID) != nil || c.Len() != 1 {
				t.Errorf("after delete the key is still in the view")
			}
			if c.Lookup(other.Digest) == nil {
				t.Errorf("delete removed another key")
			}
		})
	}
}

func TestCacheFailedWritesLeaveViewAlone(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{})
	k := confNewKey(t, "k", confBase)
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	dup := confNewKey(t, "dup", confBase)
	dup.Digest = k.Digest
	if err := c.CreateKey(ctx, dup); !errors.Is(err, ErrExists) {
		t.Errorf("CreateKey(duplicate digest) err = %v, want ErrExists", err)
	}
	errNo := errors.New("no")
	if _, err := c.UpdateKey(ctx, k.ID, func(r *Key) error { r.Permissions = verifier.PermAdmin; return errNo }); err != errNo {
		t.Errorf("UpdateKey err = %v, want fn's error", err)
	}
	if _, err := c.DeleteKey(ctx, "key_unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteKey(unknown) err = %v, want ErrNotFound", err)
	}
	e := c.Lookup(k.Digest)
	if e == nil || e.Key.ID != k.ID || e.Key.Permissions != verifier.PermRead || c.Len() != 1 {
		t.Errorf("failed writes changed the view: %+v, len %d", e, c.Len())
	}
}

func TestCacheIgnoresOlderRevisions(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true) // the test delivers every message
	c := newTestCache(t, s, CacheOptions{})
	k := confNewKey(t, "rev1", confBase)
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	rev1 := k.Clone()
	rename := func(name string) *Key {
		r, err := s.BoltStore.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = name; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rev2, rev3 := rename("rev2"), rename("rev3")

	steps := []struct {
		deliver  *Key
		wantName string
	}{
		{rev3, "rev3"},
		{rev2, "rev3"}, // older, delivered late: ignored
		{rev1, "rev3"},
		{rev3, "rev3"}, // duplicate
	}
	for i, st := range steps {
		before := c.Lookup(k.Digest)
		s.inject(Change{Kind: KeyPut, Key: st.deliver.Clone()})
		e := c.Lookup(k.Digest)
		if e == nil || e.Key.Name != st.wantName {
			t.Fatalf("step %d: delivered rev %d, entry = %+v; want %s", i, st.deliver.Rev, e, st.wantName)
		}
		if i > 0 && e != before {
			t.Errorf("step %d: an ignored message replaced the entry", i)
		}
	}
	// The write-through of a stale record is ignored the same way.
	if _, err := c.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "rev4"; return nil }); err != nil {
		t.Fatal(err)
	}
	s.inject(Change{Kind: KeyPut, Key: rev3.Clone()})
	if e := c.Lookup(k.Digest); e == nil || e.Key.Name != "rev4" || e.Key.Rev != rev3.Rev+1 {
		t.Errorf("after rev4 and a late rev3: entry = %+v", e)
	}
}

func TestCacheIgnoresPutForDeletedKey(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{})
	k := confNewKey(t, "k", confBase)
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	stale := k.Clone()
	if _, err := c.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	for _, rev := range []uint64{stale.Rev, stale.Rev + 1, 1 << 40} {
		r := stale.Clone()
		r.Rev = rev
		s.inject(Change{Kind: KeyPut, Key: r})
		if c.Lookup(k.Digest) != nil || c.ByID(k.ID) != nil {
			t.Fatalf("a KeyPut (rev %d) for a deleted key brought it back", rev)
		}
	}
	// A second delete message is harmless.
	s.inject(Change{Kind: KeyDeleted, ID: k.ID})
	if c.Len() != 0 {
		t.Errorf("Len() = %d, want 0", c.Len())
	}
}

// TestCacheDeleteBeatsLateWriteThrough: an UpdateKey whose store write
// committed before a concurrent DeleteKey must not bring the key back when
// its write-through reaches the view after the delete — even if a periodic
// resync ran in between.
func TestCacheDeleteBeatsLateWriteThrough(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	c := newTestCache(t, s, CacheOptions{})
	k := confNewKey(t, "k", confBase)
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}

	committed, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.setAfterUpdate(func(*Key) {
		once.Do(func() {
			close(committed)
			<-proceed
		})
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "updated"; return nil })
		done <- err
	}()
	<-committed // the update is in the store; its write-through is paused
	s.setAfterUpdate(nil)
	if _, err := c.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if c.Lookup(k.Digest) != nil {
		t.Fatal("key still in the view after DeleteKey")
	}
	if err := c.Resync(ctx); err != nil { // the periodic resync
		t.Fatal(err)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("store still has the key: %v", err)
	}
	if e := c.Lookup(k.Digest); e != nil {
		t.Fatalf("deleted key %s is back in the view (rev %d, name %q): Resync prunes the tombstone of a delete that finished before the load started, so the late write-through KeyPut of an update that committed before the delete is applied; the key stays usable until the next resync", k.ID, e.Key.Rev, e.Key.Name)
	}
}

// TestCacheResyncDoesNotUndoConcurrentChanges pauses a resync after its
// store read and makes a change before letting it finish: the stale load
// must not win.
func TestCacheResyncDoesNotUndoConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	type change struct {
		name string
		// do makes the change, through the cache or on the store (seen by
		// the cache through the feed), and returns the key it touched.
		do    func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key
		check func(t *testing.T, c *Cache, k *Key)
	}
	deleteVia := func(viaCache bool) func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key {
		return func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key {
			var err error
			if viaCache {
				_, err = c.DeleteKey(ctx, victim.ID)
			} else {
				_, err = s.BoltStore.DeleteKey(ctx, victim.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			return victim
		}
	}
	updateVia := func(viaCache bool) func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key {
		return func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key {
			fn := func(r *Key) error { r.Permissions = verifier.PermNone; return nil }
			var err error
			if viaCache {
				_, err = c.UpdateKey(ctx, victim.ID, fn)
			} else {
				_, err = s.BoltStore.UpdateKey(ctx, victim.ID, fn)
			}
			if err != nil {
				t.Fatal(err)
			}
			return victim
		}
	}
	createVia := func(viaCache bool) func(t *testing.T, c *Cache, s *cacheTestStore, victim *Key) *Key {
		return func(t *testing.T, c *Cache, s *cacheTestStore, _ *Key) *Key {
			k := confNewKey(t, "new", confBase)
			var err error
			if viaCache {
				err = c.CreateKey(ctx, k)
			} else {
				err = s.BoltStore.CreateKey(ctx, k)
			}
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	deleted := func(t *testing.T, c *Cache, k *Key) {
		if c.Lookup(k.Digest) != nil || c.ByID(k.ID) != nil {
			t.Errorf("resync resurrected the key deleted while it loaded")
		}
	}
	updated := func(t *testing.T, c *Cache, k *Key) {
		if e := c.Lookup(k.Digest); e == nil || e.Key.Permissions != verifier.PermNone || e.Key.Rev != k.Rev+1 {
			t.Errorf("resync rolled back the update made while it loaded: %+v", e)
		}
	}
	created := func(t *testing.T, c *Cache, k *Key) {
		if e := c.Lookup(k.Digest); e == nil || c.ByID(k.ID) != e {
			t.Errorf("resync dropped the key created while it loaded")
		}
	}
	var changes []change
	for _, viaCache := range []bool{true, false} {
		via := " via feed"
		if viaCache {
			via = " via cache"
		}
		changes = append(changes,
			change{"delete" + via, deleteVia(viaCache), deleted},
			change{"update" + via, updateVia(viaCache), updated},
			change{"create" + via, createVia(viaCache), created},
		)
	}

	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			s := newCacheTestStore(t, false)
			keep := confCreate(t, s, confNewKey(t, "keep", confBase))
			victim := confCreate(t, s, confNewKey(t, "victim", confBase.Add(time.Minute)))
			c := newTestCache(t, s, CacheOptions{})

			listed, proceed := make(chan []*Key, 1), make(chan struct{})
			var once sync.Once
			s.setAfterList(func(_ context.Context, keys []*Key) {
				once.Do(func() {
					listed <- keys
					<-proceed
				})
			})
			done := make(chan error, 1)
			go func() { done <- c.Resync(ctx) }()
			snapshot := <-listed
			if len(snapshot) != 2 {
				t.Fatalf("paused load holds %d keys, want the 2 from before the change", len(snapshot))
			}
			k := tt.do(t, c, s, victim)
			close(proceed)
			if err := <-done; err != nil {
				t.Fatalf("Resync: %v", err)
			}
			tt.check(t, c, k)
			if c.Lookup(keep.Digest) == nil {
				t.Error("resync lost an unchanged key")
			}

			// The next resync agrees with the store.
			s.setAfterList(nil)
			if err := c.Resync(ctx); err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, k)
		})
	}
}

// TestCacheResyncRepairsMissedMessages: changes the feed never delivered
// are picked up by Resync, by a Resync message and by the periodic resync.
func TestCacheResyncRepairsMissedMessages(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		opts    CacheOptions
		trigger func(t *testing.T, c *Cache, s *cacheTestStore)
	}{
		{"Resync", CacheOptions{}, func(t *testing.T, c *Cache, _ *cacheTestStore) {
			if err := c.Resync(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"Resync message", CacheOptions{}, func(_ *testing.T, _ *Cache, s *cacheTestStore) {
			s.inject(Change{Kind: Resync})
		}},
		{"ResyncInterval", CacheOptions{ResyncInterval: time.Millisecond}, func(*testing.T, *Cache, *cacheTestStore) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newCacheTestStore(t, true) // the feed is lost
			gone := confCreate(t, s, confNewKey(t, "gone", confBase))
			changed := confCreate(t, s, confNewKey(t, "changed", confBase))
			c := newTestCache(t, s, tt.opts)

			added := confCreate(t, s, confNewKey(t, "added", confBase))
			if _, err := s.BoltStore.DeleteKey(ctx, gone.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BoltStore.UpdateKey(ctx, changed.ID, func(r *Key) error { r.Permissions = verifier.PermNone; return nil }); err != nil {
				t.Fatal(err)
			}
			if tt.opts.ResyncInterval == 0 && (c.Lookup(added.Digest) != nil || c.Lookup(gone.Digest) == nil) {
				t.Fatal("the detached feed delivered changes")
			}
			tt.trigger(t, c, s)
			waitFor(t, "the view to match the store", func() bool {
				e := c.Lookup(changed.Digest)
				return c.Lookup(added.Digest) != nil && c.Lookup(gone.Digest) == nil &&
					e != nil && e.Key.Permissions == verifier.PermNone
			})
		})
	}
}

func TestCacheLastUsed(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	c := newTestCache(t, s, CacheOptions{})
	k := confNewKey(t, "k", confBase)
	k2 := confNewKey(t, "k2", confBase)
	for _, k := range []*Key{k, k2} {
		if err := c.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	now := confBase.Add(time.Hour + 123456789*time.Nanosecond)
	storedLastUsed := func(k *Key) *time.Time { return confGet(t, s, k.ID).LastUsedAt }
	at := func(d time.Duration) *time.Time { v := now.Add(d).Truncate(time.Second); return &v }

	steps := []struct {
		name        string
		do          func()
		wantTouches int
		want        *time.Time // k's last_used_at in the store
	}{
		{"nothing used", func() {}, 0, nil},
		{"first use", func() { c.Lookup(k.Digest).MarkUsed(now) }, 1, at(0)},
		{"flush again", func() {}, 1, at(0)},
		{"same second", func() { c.Lookup(k.Digest).MarkUsed(now.Add(500 * time.Millisecond)) }, 1, at(0)},
		{"earlier", func() { c.Lookup(k.Digest).MarkUsed(now.Add(-time.Hour)) }, 1, at(0)},
		{"later", func() { c.Lookup(k.Digest).MarkUsed(now.Add(2 * time.Second)) }, 2, at(2 * time.Second)},
		{"update keeps it", func() {
			if _, err := c.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "renamed"; return nil }); err != nil {
				t.Fatal(err)
			}
		}, 2, at(2 * time.Second)},
		{"resync keeps it", func() {
			if err := c.Resync(ctx); err != nil {
				t.Fatal(err)
			}
		}, 2, at(2 * time.Second)},
		{"after update", func() { c.Lookup(k.Digest).MarkUsed(now.Add(5 * time.Second)) }, 3, at(5 * time.Second)},
		{"two keys, one batch", func() {
			c.Lookup(k.Digest).MarkUsed(now.Add(6 * time.Second))
			c.Lookup(k2.Digest).MarkUsed(now.Add(6 * time.Second))
		}, 4, at(6 * time.Second)},
	}
	for _, st := range steps {
		st.do()
		if err := c.FlushLastUsed(); err != nil {
			t.Fatalf("%s: FlushLastUsed: %v", st.name, err)
		}
		if got := s.touchCount(); got != st.wantTouches {
			t.Errorf("%s: %d TouchKeys calls, want %d", st.name, got, st.wantTouches)
		}
		if got := storedLastUsed(k); !confTimeEqual(got, st.want) {
			t.Errorf("%s: stored last_used_at = %v, want %v", st.name, got, st.want)
		}
		if st.want != nil {
			if got := c.Lookup(k.Digest).LastUsed(); !got.Equal(*st.want) {
				t.Errorf("%s: Entry.LastUsed() = %v, want %v", st.name, got, *st.want)
			}
		}
	}
	if got := storedLastUsed(k2); !confTimeEqual(got, at(6*time.Second)) {
		t.Errorf("k2 last_used_at = %v, want %v", got, at(6*time.Second))
	}
	if last := s.touches[len(s.touches)-1]; len(last) != 2 {
		t.Errorf("last batch = %v, want both keys in one TouchKeys call", last)
	}
	if got := confGet(t, s, k.ID).Rev; got != k.Rev+1 {
		t.Errorf("Rev = %d, want %d: last-used writes must not count as changes", got, k.Rev+1)
	}
}

func TestCacheCloseFlushesLastUsed(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	k := confCreate(t, s, confNewKey(t, "k", confBase))
	// An interval that never fires during the test: only Close flushes.
	c, err := NewCache(ctx, s, CacheOptions{LastUsedInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	used := confBase.Add(time.Hour)
	c.Lookup(k.Digest).MarkUsed(used)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := confGet(t, s, k.ID).LastUsedAt; !confTimeEqual(got, &used) {
		t.Errorf("after Close last_used_at = %v, want %v", got, used)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := s.touchCount(); n != 1 {
		t.Errorf("%d TouchKeys calls, want 1", n)
	}
}

func TestCacheCloseStopsBackgroundWork(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	k := confCreate(t, s, confNewKey(t, "k", confBase))
	baseline := runtime.NumGoroutine()

	var (
		errMu sync.Mutex
		errs  []error
	)
	c, err := NewCache(ctx, s, CacheOptions{
		ResyncInterval:   time.Millisecond,
		LastUsedInterval: time.Millisecond,
		OnError: func(op string, err error) {
			errMu.Lock()
			errs = append(errs, err)
			errMu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Both loops are running: the view is reloaded and last-used times
	// are written without anyone calling Resync or FlushLastUsed.
	first := c.LoadedAt()
	waitFor(t, "a periodic resync", func() bool { return c.LoadedAt().After(first) })
	used := confBase.Add(time.Hour)
	c.Lookup(k.Digest).MarkUsed(used)
	waitFor(t, "a periodic last-used flush", func() bool {
		got, err := s.GetKey(ctx, k.ID)
		return err == nil && confTimeEqual(got.LastUsedAt, &used)
	})

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitFor(t, "the cache's goroutines to exit", func() bool { return runtime.NumGoroutine() <= baseline })
	if n := s.subscribers(); n != 0 {
		t.Errorf("Close left %d subscriptions", n)
	}
	// The view no longer follows the store.
	later := confCreate(t, s, confNewKey(t, "later", confBase))
	if c.Lookup(later.Digest) != nil {
		t.Error("a closed cache still applies changes from the feed")
	}
	loaded, touches := c.LoadedAt(), s.touchCount()
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !c.LoadedAt().Equal(loaded) || s.touchCount() != touches {
		t.Error("background work continued after Close")
	}
	errMu.Lock()
	defer errMu.Unlock()
	if len(errs) != 0 {
		t.Errorf("background errors: %v", errs)
	}
}

// TestCacheCloseStopsFeedResync: a resync started by a Resync message is
// background work too; once Close returns it must be finished or cancelled.
func TestCacheCloseStopsFeedResync(t *testing.T) {
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{})
	entered, release, hookDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var inFlight atomic.Bool
	var once sync.Once
	s.setAfterList(func(ctx context.Context, _ []*Key) {
		once.Do(func() {
			defer close(hookDone)
			inFlight.Store(true)
			close(entered)
			select {
			case <-release:
			case <-ctx.Done(): // a Close that cancels the resync
			}
			inFlight.Store(false)
		})
	})
	s.inject(Change{Kind: Resync})
	<-entered

	closed := make(chan struct{})
	go func() {
		_ = c.Close()
		close(closed)
	}()
	timer := time.NewTimer(confWait)
	defer timer.Stop()
	select {
	case <-closed:
		stillRunning := inFlight.Load()
		close(release)
		<-hookDone
		if stillRunning {
			t.Fatal("Cache.Close returned while a resync started by a Resync change message was still running: apply starts it in an untracked goroutine (not in c.done, its context not tied to Close), so it can replace the view and call OnError after Close")
		}
	case <-timer.C:
		// Close waits for the in-flight resync, which is fine.
		close(release)
		<-closed
	}
}

func TestCacheReportsBackgroundErrors(t *testing.T) {
	s := newCacheTestStore(t, false)
	k := confCreate(t, s, confNewKey(t, "k", confBase))
	type report struct {
		op  string
		err error
	}
	reports := make(chan report, 64)
	c := newTestCache(t, s, CacheOptions{
		ResyncInterval:   time.Millisecond,
		LastUsedInterval: time.Millisecond,
		OnError: func(op string, err error) {
			select {
			case reports <- report{op, err}:
			default:
			}
		},
	})
	e := c.Lookup(k.Digest)
	if err := s.BoltStore.Close(); err != nil {
		t.Fatal(err)
	}
	e.MarkUsed(confBase.Add(time.Hour))
	seen := map[string]bool{}
	timer := time.NewTimer(confWait)
	defer timer.Stop()
	for !seen["resync"] || !seen["flush last-used"] {
		select {
		case r := <-reports:
			if !errors.Is(r.err, ErrClosed) {
				t.Errorf("OnError(%q, %v), want ErrClosed", r.op, r.err)
			}
			seen[r.op] = true
		case <-timer.C:
			t.Fatalf("OnError reports seen: %v; want resync and flush last-used", seen)
		}
	}
	// The last good view is still served.
	if c.Lookup(k.Digest) == nil {
		t.Error("a failed resync emptied the view")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close with a closed store: %v", err)
	}
}

func TestCacheLookupDoesNotAllocate(t *testing.T) {
	s := newCacheTestStore(t, false)
	c := newTestCache(t, s, CacheOptions{})
	var digests []verifier.Digest
	var offline verifier.KeyRef
	for i := range 100 {
		k := confNewKey(t, "k", confBase)
		if i == 7 {
			k.OfflineSecret = make([]byte, 32)
			copy(offline[:], k.ID)
		}
		if err := c.CreateKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, k.Digest)
	}
	if c.OfflineKey(offline) == nil {
		t.Fatal("OfflineKey: no secret for the key that has one")
	}
	var unknown verifier.KeyRef
	copy(unknown[:], "key_unknown")
	hit, miss := digests[42], verifier.DigestToken("sk_unknown")
	for name, fn := range map[string]func(){
		"Lookup hit":         func() { _ = c.Lookup(hit) },
		"Lookup miss":        func() { _ = c.Lookup(miss) },
		"OfflineKey hit":     func() { _ = c.OfflineKey(offline) },
		"OfflineKey unknown": func() { _ = c.OfflineKey(unknown) },
		"MarkUsed": func() {
			if e := c.Lookup(hit); e != nil {
				e.MarkUsed(confBase)
			}
		},
	} {
		if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
			t.Errorf("%s allocates %v times per call, want 0", name, allocs)
		}
	}
}

// hangingStore is a real BoltStore that, once hang is set, never answers:
// every call blocks until its context is done, as a call to a backend that
// accepted the connection and went silent does. Ping answers while
// answerPing is set, so the health loop sees the store come back and
// starts a resync that then hangs.
type hangingStore struct {
	*BoltStore
	hang, answerPing atomic.Bool
	blocked          chan string // the name of each call that blocks
}

func (s *hangingStore) block(ctx context.Context, op string) error {
	select {
	case s.blocked <- op:
	default:
	}
	<-ctx.Done()
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, ctx.Err())
}

func (s *hangingStore) Ping(ctx context.Context) error {
	if s.hang.Load() && !s.answerPing.Load() {
		return s.block(ctx, "Ping")
	}
	return s.BoltStore.Ping(ctx)
}

func (s *hangingStore) ListKeys(ctx context.Context) ([]*Key, error) {
	if s.hang.Load() {
		return nil, s.block(ctx, "ListKeys")
	}
	return s.BoltStore.ListKeys(ctx)
}

func (s *hangingStore) ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	if s.hang.Load() {
		return nil, s.block(ctx, "ListRevocations")
	}
	return s.BoltStore.ListRevocations(ctx, now)
}

func (s *hangingStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if s.hang.Load() {
		return s.block(ctx, "TouchKeys")
	}
	return s.BoltStore.TouchKeys(ctx, lastUsed)
}

// TestCacheCloseWhileStoreHangs: whatever background work is waiting on a
// store that never answers (the health check's ping, the resync it starts
// when the store is back, a periodic resync or last-used flush), Close
// cancels it and returns within a second.
func TestCacheCloseWhileStoreHangs(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts CacheOptions
		// hangIn is the call that must be blocked when Close is called.
		hangIn string
		// answerPing: the store answers pings (and only pings).
		answerPing bool
		used       bool // a key was used, so Close has last-used times to save
	}{
		{"health check ping", CacheOptions{HealthInterval: 5 * time.Millisecond}, "Ping", false, false},
		{"resync after an outage", CacheOptions{HealthInterval: 5 * time.Millisecond}, "ListKeys", true, false},
		{"periodic resync", CacheOptions{HealthInterval: time.Hour, ResyncInterval: 5 * time.Millisecond}, "ListKeys", false, false},
		{"last-used flush", CacheOptions{HealthInterval: time.Hour, LastUsedInterval: 5 * time.Millisecond}, "TouchKeys", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &hangingStore{BoltStore: boltOpen(t), blocked: make(chan string, 16)}
			k := confCreate(t, s, confNewKey(t, "k", confBase))
			c, err := NewCache(context.Background(), s, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.used {
				c.Lookup(k.Digest).MarkUsed(confBase.Add(time.Hour))
			}
			s.hang.Store(true)
			if tt.answerPing {
				// First the pings go unanswered (an outage starts) …
				if op := <-s.blocked; op != "Ping" {
					t.Fatalf("blocked in %s, want Ping", op)
				}
				// … then only pings are answered: the store is back, and
				// the resync that follows hangs.
				s.answerPing.Store(true)
			}
			deadline := time.NewTimer(confWait)
			defer deadline.Stop()
		wait:
			for {
				select {
				case op := <-s.blocked:
					if op == tt.hangIn {
						break wait
					}
				case <-deadline.C:
					t.Fatalf("background work never blocked in %s", tt.hangIn)
				}
			}

			start := time.Now()
			closed := make(chan struct{})
			go func() {
				_ = c.Close()
				close(closed)
			}()
			limit := time.NewTimer(5 * time.Second) // generous: the promise is 1s
			defer limit.Stop()
			select {
			case <-closed:
				t.Logf("Close returned after %v", time.Since(start))
			case <-limit.C:
				t.Fatalf("Close has not returned after 5s with background work blocked in %s: it must cancel it", tt.hangIn)
			}
		})
	}
}
