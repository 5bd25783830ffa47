package keystore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

// deriveWithUser is a CacheOptions.Derive that shows what an entry was
// derived from: the key's name and its user's permissions and revision.
func deriveWithUser(k *Key, u *User) any {
	if u == nil {
		return k.Name + "|no user"
	}
	return fmt.Sprintf("%s|%s|%d", k.Name, u.Permissions, u.Rev)
}

// wantDerived is what deriveWithUser gives k with u.
func wantDerived(k *Key, u *User) string { return deriveWithUser(k, u).(string) }

// checkEntry fails the test unless the view holds k derived with the
// view's record of k's user, which must be want (nil: none).
func checkEntry(t *testing.T, c *Cache, k *Key, want *User) {
	t.Helper()
	e := c.ByID(k.ID)
	if e == nil {
		t.Fatalf("key %s is not in the view", k.ID)
	}
	if want == nil {
		if e.User != nil || e.Any != wantDerived(k, nil) {
			t.Errorf("entry of %s: User %v, Any %v; want no user", k.ID, e.User, e.Any)
		}
		return
	}
	if e.User == nil || e.User.Rev != want.Rev || e.User != c.User(want.Name) {
		t.Errorf("entry of %s: User %+v, want the view's record rev %d", k.ID, e.User, want.Rev)
	}
	if e.Any != wantDerived(k, want) {
		t.Errorf("entry of %s: Any %v, want %v", k.ID, e.Any, wantDerived(k, want))
	}
}

func TestCacheUsers(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true) // the write-through path alone
	c := newTestCache(t, s, CacheOptions{Derive: deriveWithUser})

	u := confNewUser("alice")
	if err := c.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got := c.User("alice"); got == nil || confUserDiff(got, u) != "" || c.UserCount() != 1 {
		t.Fatalf("User(alice) = %+v, count %d; want %+v", got, c.UserCount(), u)
	}
	if c.User("bob") != nil {
		t.Error("User(bob) is not nil")
	}
	mine := confUserKey(t, "mine", "alice")
	site := confNewKey(t, "site-wide", confBase)
	for _, k := range []*Key{mine, site} {
		if err := c.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	checkEntry(t, c, mine, u)
	checkEntry(t, c, site, nil)
	if err := c.CreateKey(ctx, confUserKey(t, "orphan", "bob")); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("CreateKey for a missing user: %v, want ErrNoSuchUser", err)
	}

	// Changing the user derives its keys' entries again, in a new
	// snapshot: the old entry is left as it was.
	before := c.ByID(mine.ID)
	before.MarkUsed(confBase.Add(time.Hour))
	updated, err := c.UpdateUser(ctx, "alice", func(u *User) error { u.Permissions = verifier.PermNone; return nil })
	if err != nil {
		t.Fatal(err)
	}
	checkEntry(t, c, mine, updated)
	if before.Any != wantDerived(mine, u) || before.User.Permissions != verifier.PermSign {
		t.Errorf("the published entry was modified: %v", before.Any)
	}
	if got := c.ByID(mine.ID).LastUsed(); !got.Equal(confBase.Add(time.Hour)) {
		t.Errorf("re-derived entry lost its last-used time: %v", got)
	}
	if c.Lookup(mine.Digest) != c.ByID(mine.ID) {
		t.Error("Lookup and ByID disagree after the user changed")
	}
	if e := c.ByID(site.ID); e.Any != wantDerived(site, nil) {
		t.Errorf("site-wide entry: %v", e.Any)
	}

	// Deleting the user deletes its keys from the view.
	gone, keys, err := c.DeleteUser(ctx, "alice")
	if err != nil || gone.Name != "alice" || len(keys) != 1 || keys[0].ID != mine.ID {
		t.Fatalf("DeleteUser = %v, %v, %v", gone, keys, err)
	}
	if c.User("alice") != nil || c.UserCount() != 0 || c.ByID(mine.ID) != nil || c.Lookup(mine.Digest) != nil {
		t.Error("the deleted user or its key is still in the view")
	}
	checkEntry(t, c, site, nil)
	if c.Len() != 1 {
		t.Errorf("Len = %d, want the site-wide key", c.Len())
	}
	// A late message about the deleted key does not bring it back.
	s.inject(Change{Kind: KeyPut, Key: mine.Clone()})
	if c.ByID(mine.ID) != nil {
		t.Error("a late KeyPut resurrected a key of the deleted user")
	}
}

func TestCacheUserChangesInAnyOrder(t *testing.T) {
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{Derive: deriveWithUser})
	rec := func(rev uint64, perm verifier.Permission) *User {
		u := confNewUser("alice")
		u.Rev, u.Permissions = rev, perm
		return u
	}
	k := confUserKey(t, "k", "alice")
	k.Rev = 1
	s.inject(Change{Kind: KeyPut, Key: k})
	checkEntry(t, c, k, nil) // no record yet

	steps := []struct {
		what    string
		change  Change
		wantRev uint64 // of the record in the view; 0: none
		wantKey bool
	}{
		{"put", Change{Kind: UserPut, User: rec(5, verifier.PermRead)}, 5, true},
		{"older put", Change{Kind: UserPut, User: rec(3, verifier.PermAdmin)}, 5, true},
		{"same put again", Change{Kind: UserPut, User: rec(5, verifier.PermAdmin)}, 5, true},
		{"deletion", Change{Kind: UserDeleted, ID: "alice", User: rec(5, verifier.PermRead)}, 0, false},
		{"late put of the deleted user", Change{Kind: UserPut, User: rec(4, verifier.PermRead)}, 0, false},
		{"user created again", Change{Kind: UserPut, User: rec(9, verifier.PermSign)}, 9, false},
		// The key of the new user arrives; then a late deletion of the
		// earlier user must leave both alone.
		{"key of the new user", Change{Kind: KeyPut, Key: func() *Key { k := confUserKey(t, "k2", "alice"); k.Rev = 1; return k }()}, 9, false},
		{"late deletion", Change{Kind: UserDeleted, ID: "alice", User: rec(5, verifier.PermRead)}, 9, false},
		{"deletion without a record", Change{Kind: UserDeleted, ID: "alice"}, 0, false},
	}
	var k2 *Key
	for _, st := range steps {
		s.inject(st.change)
		if st.change.Kind == KeyPut {
			k2 = st.change.Key
		}
		got := c.User("alice")
		switch {
		case st.wantRev == 0 && got != nil:
			t.Fatalf("after %s: User = rev %d, want none", st.what, got.Rev)
		case st.wantRev != 0 && (got == nil || got.Rev != st.wantRev):
			t.Fatalf("after %s: User = %+v, want rev %d", st.what, got, st.wantRev)
		}
		if (c.ByID(k.ID) != nil) != st.wantKey {
			t.Fatalf("after %s: key in view = %v, want %v", st.what, c.ByID(k.ID) != nil, st.wantKey)
		}
		if st.wantKey {
			checkEntry(t, c, k, got)
		}
		if k2 != nil && st.wantRev != 0 {
			checkEntry(t, c, k2, got)
		}
	}
	if c.ByID(k2.ID) != nil {
		t.Error("the deletion without a record left the user's key")
	}
}

// TestCacheResyncDoesNotResurrectUser: a user (with its key) deleted while
// a resync's load is in flight stays deleted, and a user created meanwhile
// stays.
func TestCacheResyncDoesNotResurrectUser(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, false)
	c := newTestCache(t, s, CacheOptions{Derive: deriveWithUser})
	if err := c.CreateUser(ctx, confNewUser("alice")); err != nil {
		t.Fatal(err)
	}
	k := confUserKey(t, "k", "alice")
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	bob := confNewUser("bob")
	s.setAfterListUsers(func(context.Context, []*User) {
		s.setAfterListUsers(nil)
		if _, _, err := c.DeleteUser(ctx, "alice"); err != nil {
			t.Error(err)
		}
		if err := c.CreateUser(ctx, bob); err != nil {
			t.Error(err)
		}
	})
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.User("alice") != nil || c.ByID(k.ID) != nil {
		t.Error("the resync resurrected the user deleted during its load, or its key")
	}
	if c.User("bob") == nil {
		t.Error("the resync dropped the user created during its load")
	}
	// The same holds when the deletion is heard from the feed only.
	if err := s.BoltStore.CreateUser(ctx, confNewUser("carol")); err != nil {
		t.Fatal(err)
	}
	k2 := confUserKey(t, "k2", "carol")
	if err := c.CreateKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	s.setAfterListUsers(func(context.Context, []*User) {
		s.setAfterListUsers(nil)
		if _, _, err := s.BoltStore.DeleteUser(ctx, "carol"); err != nil {
			t.Error(err)
		}
	})
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.User("carol") != nil || c.ByID(k2.ID) != nil {
		t.Error("the resync resurrected the user deleted (through the feed) during its load, or its key")
	}
}

// TestCacheResyncRepairsUsers: changes to users the cache never heard of
// are picked up by a resync, and the keys' entries derived again.
func TestCacheResyncRepairsUsers(t *testing.T) {
	ctx := context.Background()
	s := newCacheTestStore(t, true)
	c := newTestCache(t, s, CacheOptions{Derive: deriveWithUser})
	u := confNewUser("alice")
	if err := s.BoltStore.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	k := confCreate(t, s.BoltStore, confUserKey(t, "k", "alice"))
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, c, k, u)
	updated, err := s.BoltStore.UpdateUser(ctx, "alice", func(u *User) error { u.Permissions = verifier.PermRead; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, c, k, updated)
	if _, _, err := s.BoltStore.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.User("alice") != nil || c.ByID(k.ID) != nil || c.UserCount() != 0 {
		t.Error("the resync kept a user deleted in the store, or its key")
	}
}

// TestRedisCacheSeesUserChanges: user changes made through one instance
// reach another's view, which derives the user's keys' entries again.
func TestRedisCacheSeesUserChanges(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newTestCache(t, redisOpen(t, srv, ""), CacheOptions{Derive: deriveWithUser})
	b := newTestCache(t, redisOpen(t, srv, ""), CacheOptions{Derive: deriveWithUser})

	u := confNewUser("alice")
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	k := confUserKey(t, "k", "alice")
	if err := a.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	other := confNewKey(t, "site-wide", confBase)
	if err := a.CreateKey(ctx, other); err != nil {
		t.Fatal(err)
	}
	redisWait(t, "b to see the user and its key", func() bool {
		return b.User("alice") != nil && b.ByID(k.ID) != nil && b.ByID(other.ID) != nil
	})
	checkEntry(t, b, k, u)

	updated, err := a.UpdateUser(ctx, "alice", func(u *User) error {
		u.Permissions, u.Scopes = verifier.PermRead, []string{"/alice/reports/"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	redisWait(t, "b to see the UserPut", func() bool {
		e := b.ByID(k.ID)
		return e != nil && e.User != nil && e.User.Rev == updated.Rev
	})
	checkEntry(t, b, k, updated)
	if got := b.User("alice"); confUserDiff(got, updated) != "" {
		t.Errorf("b's record: %s", confUserDiff(got, updated))
	}

	if _, _, err := a.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	redisWait(t, "b to see the UserDeleted", func() bool {
		return b.User("alice") == nil && b.ByID(k.ID) == nil && b.Lookup(k.Digest) == nil
	})
	if b.UserCount() != 0 || b.ByID(other.ID) == nil {
		t.Errorf("b: %d users, site-wide key present %v; want 0, true", b.UserCount(), b.ByID(other.ID) != nil)
	}
	// A resync on b does not bring the user back.
	if err := b.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if b.User("alice") != nil || b.ByID(k.ID) != nil {
		t.Error("b's resync resurrected the deleted user or its key")
	}
}
