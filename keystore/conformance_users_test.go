package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// The user part of the store contract (testStoreConformance runs it).

// confNewUser returns a fresh, valid user record (not yet stored).
func confNewUser(name string) *User {
	return &User{
		Name:        name,
		Scopes:      []string{"/" + name + "/"},
		Permissions: verifier.PermSign,
		CreatedAt:   confBase,
		UpdatedAt:   confBase,
	}
}

// confCreateUser stores u or fails the test.
func confCreateUser(t testing.TB, s Store, u *User) *User {
	t.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Name, err)
	}
	return u
}

// confUserKey returns a fresh key record of the user name (not yet stored).
func confUserKey(t testing.TB, name, user string) *Key {
	t.Helper()
	k := confNewKey(t, name, confBase)
	k.User = user
	k.Scopes = []string{"/" + user + "/"}
	return k
}

// confUserDiff describes how two user records differ, or returns "".
func confUserDiff(got, want *User) string { return confRecordDiff(got, want) }

// confGetUser returns the stored record of name or fails the test.
func confGetUser(t testing.TB, s Store, name string) *User {
	t.Helper()
	u, err := s.GetUser(context.Background(), name)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", name, err)
	}
	return u
}

// confKeyIDs returns the ids of keys, in order.
func confKeyIDs(keys []*Key) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

func confUsers(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("UserCreateAndGet", func(t *testing.T) {
		s := open(t)
		u := confNewUser("alice")
		u.Scopes = []string{"/alice/", "/shared/alice/"}
		u.SelfService = true
		want := u.Clone()
		confCreateUser(t, s, u)
		if u.Rev == 0 {
			t.Fatal("CreateUser did not set Rev")
		}
		want.Rev = u.Rev
		if d := confUserDiff(confGetUser(t, s, "alice"), want); d != "" {
			t.Errorf("GetUser: %s", d)
		}
		for _, name := range []string{"zed", "bob", "a.b_c-9"} {
			confCreateUser(t, s, confNewUser(name))
		}
		list, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range list {
			names = append(names, u.Name)
		}
		if want := []string{"a.b_c-9", "alice", "bob", "zed"}; !slices.Equal(names, want) {
			t.Errorf("ListUsers = %v, want %v (by name)", names, want)
		}
		if d := confUserDiff(list[1], want); d != "" {
			t.Errorf("ListUsers: alice: %s", d)
		}
	})

	t.Run("UserExists", func(t *testing.T) {
		s := open(t)
		orig := confCreateUser(t, s, confNewUser("alice"))
		want := orig.Clone()
		dup := confNewUser("alice")
		dup.Permissions = verifier.PermAdmin
		dup.Scopes = []string{"/"}
		if err := s.CreateUser(ctx, dup); !errors.Is(err, ErrExists) {
			t.Errorf("CreateUser(duplicate) err = %v, want ErrExists", err)
		}
		if d := confUserDiff(confGetUser(t, s, "alice"), want); d != "" {
			t.Errorf("the duplicate changed the record: %s", d)
		}
	})

	t.Run("UserInvalid", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		bad := map[string]func(*User){
			"empty name":      func(u *User) { u.Name = "" },
			"upper case":      func(u *User) { u.Name = "Alice" },
			"space":           func(u *User) { u.Name = "alice smith" },
			"slash":           func(u *User) { u.Name = "a/b" },
			"65 characters":   func(u *User) { u.Name = string(slices.Repeat([]byte("a"), 65)) },
			"no scopes":       func(u *User) { u.Scopes = nil },
			"unclean scope":   func(u *User) { u.Scopes = []string{"/a/../b/"} },
			"relative scope":  func(u *User) { u.Scopes = []string{"alice/"} },
			"bad permissions": func(u *User) { u.Permissions = "root" },
		}
		for what, spoil := range bad {
			u := confNewUser("alice")
			spoil(u)
			err := s.CreateUser(ctx, u)
			if err == nil {
				t.Errorf("CreateUser(%s) succeeded", what)
				continue
			}
			if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrExists) {
				t.Errorf("CreateUser(%s) = %v: a bad record is neither a backend failure nor a duplicate", what, err)
			}
		}
		if list, err := s.ListUsers(ctx); err != nil || len(list) != 0 {
			t.Errorf("ListUsers after invalid records = %v, %v; want none", list, err)
		}
		// 64 characters is the longest name.
		long := confNewUser(string(slices.Repeat([]byte("a"), 64)))
		long.Scopes = []string{"/long/"}
		confCreateUser(t, s, long)
		// The same checks apply to the result of an update.
		for what, spoil := range bad {
			if what == "empty name" || what == "upper case" || what == "space" || what == "slash" || what == "65 characters" {
				continue // the name cannot change
			}
			if _, err := s.UpdateUser(ctx, long.Name, func(u *User) error { spoil(u); return nil }); err == nil {
				t.Errorf("UpdateUser(%s) succeeded", what)
			}
		}
		if got := confGetUser(t, s, long.Name); got.Rev != long.Rev {
			t.Errorf("refused updates changed the record: rev %d, want %d", got.Rev, long.Rev)
		}
		// Refused records are not changes.
		if c := feed.next(t); c.Kind != UserPut || c.User == nil || c.User.Name != long.Name {
			t.Errorf("first change = %+v, want UserPut of the valid record", c)
		}
	})

	t.Run("UserNotFound", func(t *testing.T) {
		s := open(t)
		confCreateUser(t, s, confNewUser("other"))
		for _, name := range []string{"alice", "", "Not A Name"} {
			if _, err := s.GetUser(ctx, name); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetUser(%q) err = %v, want ErrNotFound", name, err)
			}
			called := false
			if _, err := s.UpdateUser(ctx, name, func(*User) error { called = true; return nil }); !errors.Is(err, ErrNotFound) {
				t.Errorf("UpdateUser(%q) err = %v, want ErrNotFound", name, err)
			}
			if called {
				t.Errorf("UpdateUser(%q) called fn", name)
			}
			if _, _, err := s.DeleteUser(ctx, name); !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteUser(%q) err = %v, want ErrNotFound", name, err)
			}
		}
		if list, err := s.ListUsers(ctx); err != nil || len(list) != 1 {
			t.Errorf("ListUsers = %d users, %v; want the 1 user", len(list), err)
		}
	})

	t.Run("UserUpdate", func(t *testing.T) {
		s := open(t)
		u := confCreateUser(t, s, confNewUser("alice"))
		want := u.Clone()
		for i, perm := range []verifier.Permission{verifier.PermRead, verifier.PermNone, verifier.PermAdmin} {
			updated := confBase.Add(time.Duration(i+1) * time.Minute)
			got, err := s.UpdateUser(ctx, "alice", func(u *User) error {
				u.Name = "mallory" // ignored: the name is the id
				u.Rev = 1000       // ignored: stores set it
				u.Permissions = perm
				u.Scopes = []string{"/alice/", "/x" + strconv.Itoa(i) + "/"}
				u.SelfService = i%2 == 0
				u.UpdatedAt = updated
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateUser #%d: %v", i, err)
			}
			if got.Rev <= want.Rev {
				t.Errorf("UpdateUser #%d: Rev %d, want more than %d", i, got.Rev, want.Rev)
			}
			want.Permissions, want.Scopes, want.SelfService, want.UpdatedAt = perm, []string{"/alice/", "/x" + strconv.Itoa(i) + "/"}, i%2 == 0, updated
			want.Rev = got.Rev
			if d := confUserDiff(got, want); d != "" {
				t.Errorf("UpdateUser #%d returned: %s", i, d)
			}
			if d := confUserDiff(confGetUser(t, s, "alice"), want); d != "" {
				t.Errorf("GetUser after update #%d: %s", i, d)
			}
		}
		if _, err := s.GetUser(ctx, "mallory"); !errors.Is(err, ErrNotFound) {
			t.Errorf("the update moved the user: GetUser(mallory) err = %v", err)
		}
		// An error from fn aborts the update and is returned as is.
		errStop := fmt.Errorf("validating: %w", errors.New("stop"))
		got, err := s.UpdateUser(ctx, "alice", func(u *User) error { u.Permissions = verifier.PermRead; return errStop })
		if err != errStop || got != nil {
			t.Errorf("UpdateUser = %v, %v; want nil, fn's error as is", got, err)
		}
		if d := confUserDiff(confGetUser(t, s, "alice"), want); d != "" {
			t.Errorf("aborted update changed the record: %s", d)
		}
	})

	t.Run("UserUpdateIsAtomic", func(t *testing.T) {
		s := open(t)
		confCreateUser(t, s, confNewUser("alice"))
		const n = 16
		confConcurrently(t, n, func() error {
			_, err := s.UpdateUser(ctx, "alice", func(u *User) error {
				u.Scopes = append(u.Scopes, "/s"+strconv.Itoa(len(u.Scopes))+"/")
				return nil
			})
			return err
		})
		if got := confGetUser(t, s, "alice"); len(got.Scopes) != n+1 {
			t.Errorf("after %d concurrent appends: %d scopes %v, want %d", n, len(got.Scopes), got.Scopes, n+1)
		}
	})

	t.Run("UserRevGrowsAcrossDeletion", func(t *testing.T) {
		s := open(t)
		first := confCreateUser(t, s, confNewUser("alice"))
		other := confCreateUser(t, s, confNewUser("bob"))
		updated, err := s.UpdateUser(ctx, "alice", func(u *User) error { u.Permissions = verifier.PermRead; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if updated.Rev <= first.Rev {
			t.Errorf("update: Rev %d after %d", updated.Rev, first.Rev)
		}
		if _, _, err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		again := confCreateUser(t, s, confNewUser("alice"))
		if again.Rev <= updated.Rev || again.Rev <= other.Rev {
			t.Errorf("a user created again under a deleted name has Rev %d, want more than every earlier one (%d, %d)",
				again.Rev, updated.Rev, other.Rev)
		}
	})

	t.Run("KeyNeedsItsUser", func(t *testing.T) {
		s := open(t)
		orphan := confUserKey(t, "orphan", "bob")
		if err := s.CreateKey(ctx, orphan); !errors.Is(err, ErrNoSuchUser) {
			t.Fatalf("CreateKey for a missing user: err = %v, want ErrNoSuchUser", err)
		}
		if _, err := s.GetKey(ctx, orphan.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the refused key was stored (GetKey err = %v)", err)
		}
		if confDigestTaken(t, s, orphan.Digest) {
			t.Error("the refused key's digest was stored")
		}
		feed, cancel := confSubscribe(s)
		defer cancel()
		// A label of the previous release is no user name: no record can
		// exist for it.
		if err := s.CreateKey(ctx, confUserKey(t, "label", "Bob Smith")); !errors.Is(err, ErrNoSuchUser) {
			t.Errorf("CreateKey for user %q: err = %v, want ErrNoSuchUser", "Bob Smith", err)
		}
		confCreateUser(t, s, confNewUser("alice"))
		k := confCreate(t, s, confUserKey(t, "alice's", "alice"))
		site := confCreate(t, s, confNewKey(t, "site-wide", confBase))

		// An update may not point a key at a missing user either.
		want := confGet(t, s, k.ID)
		for _, id := range []string{k.ID, site.ID} {
			_, err := s.UpdateKey(ctx, id, func(r *Key) error { r.User = "bob"; r.Name = "moved"; return nil })
			if !errors.Is(err, ErrNoSuchUser) {
				t.Errorf("UpdateKey(User = missing user) err = %v, want ErrNoSuchUser", err)
			}
		}
		if d := confDiff(confGet(t, s, k.ID), want); d != "" {
			t.Errorf("the refused update changed the key: %s", d)
		}
		// Updates that keep the user, or make the key site-wide, are fine.
		if _, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "renamed"; return nil }); err != nil {
			t.Errorf("UpdateKey of a user key: %v", err)
		}
		if _, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.User = ""; return nil }); err != nil {
			t.Errorf("UpdateKey to a site-wide key: %v", err)
		}
		if _, err := s.UpdateKey(ctx, site.ID, func(r *Key) error { r.User = "alice"; return nil }); err != nil {
			t.Errorf("UpdateKey to a user key: %v", err)
		}
		// The refused writes were not changes.
		var kinds []ChangeKind
		for range 6 { // user put, key puts ×2, key updates ×3
			kinds = append(kinds, feed.next(t).Kind)
		}
		if want := []ChangeKind{UserPut, KeyPut, KeyPut, KeyPut, KeyPut, KeyPut}; !slices.Equal(kinds, want) {
			t.Errorf("changes = %v, want %v", kinds, want)
		}
	})

	t.Run("DeleteUserDeletesItsKeys", func(t *testing.T) {
		s := open(t)
		for _, name := range []string{"alice", "alice2", "bob"} {
			confCreateUser(t, s, confNewUser(name))
		}
		var mine []*Key
		for i := range 3 {
			k := confUserKey(t, "mine "+strconv.Itoa(i), "alice")
			k.CreatedAt = confBase.Add(time.Duration(3-i) * time.Minute) // ListKeys order differs from creation order
			mine = append(mine, confCreate(t, s, k))
		}
		if err := s.TouchKeys(ctx, map[string]time.Time{mine[0].ID: confBase.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		// Keys that must stay: another user's, one whose name contains the
		// text a user field would have, a site-wide one.
		keep := []*Key{
			confCreate(t, s, confUserKey(t, "alice2's", "alice2")),
			confCreate(t, s, confUserKey(t, `"user":"alice"`, "bob")),
			confCreate(t, s, confNewKey(t, "site-wide", confBase)),
		}
		wantUser := confGetUser(t, s, "alice")
		var wantKeys []*Key
		for _, k := range mine {
			wantKeys = append(wantKeys, confGet(t, s, k.ID))
		}
		SortKeys(wantKeys)

		feed, cancel := confSubscribe(s)
		defer cancel()
		u, keys, err := s.DeleteUser(ctx, "alice")
		if err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if d := confUserDiff(u, wantUser); d != "" {
			t.Errorf("DeleteUser returned user: %s", d)
		}
		if len(keys) != len(wantKeys) {
			t.Fatalf("DeleteUser returned keys %v, want %v", confKeyIDs(keys), confKeyIDs(wantKeys))
		}
		for i := range keys {
			if d := confDiff(keys[i], wantKeys[i]); d != "" {
				t.Errorf("DeleteUser returned key #%d: %s", i, d)
			}
		}
		if _, err := s.GetUser(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(deleted) err = %v, want ErrNotFound", err)
		}
		for _, k := range mine {
			if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetKey(%s of the deleted user) err = %v, want ErrNotFound", k.ID, err)
			}
		}
		list, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, wantIDs := confKeyIDs(list), confKeyIDs(keep)
		slices.Sort(got)
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("ListKeys after DeleteUser = %v, want the other keys %v", got, wantIDs)
		}
		if users, err := s.ListUsers(ctx); err != nil || len(users) != 2 {
			t.Errorf("ListUsers after DeleteUser = %d users, %v; want 2", len(users), err)
		}
		// The digest index entries went with the keys.
		for _, k := range mine {
			if confDigestTaken(t, s, k.Digest) {
				t.Errorf("the digest of deleted key %s is still taken", k.ID)
			}
		}
		// No key can be created for the deleted user.
		if err := s.CreateKey(ctx, confUserKey(t, "late", "alice")); !errors.Is(err, ErrNoSuchUser) {
			t.Errorf("CreateKey for the deleted user: err = %v, want ErrNoSuchUser", err)
		}
		if _, _, err := s.DeleteUser(ctx, "alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteUser err = %v, want ErrNotFound", err)
		}
		// The feed: UserDeleted, then KeyDeleted for each key.
		c := feed.next(t)
		if c.Kind != UserDeleted || c.ID != "alice" || c.User == nil || c.User.Rev != wantUser.Rev {
			t.Fatalf("first change = %+v, want UserDeleted alice with its record", c)
		}
		var deleted []string
		for range mine {
			c := feed.next(t)
			if c.Kind != KeyDeleted {
				t.Fatalf("change = %+v, want KeyDeleted", c)
			}
			deleted = append(deleted, c.ID)
		}
		slices.Sort(deleted)
		wantDeleted := confKeyIDs(mine)
		slices.Sort(wantDeleted)
		if !slices.Equal(deleted, wantDeleted) {
			t.Errorf("KeyDeleted for %v, want %v", deleted, wantDeleted)
		}
	})

	t.Run("DeleteUserWithoutKeys", func(t *testing.T) {
		s := open(t)
		confCreateUser(t, s, confNewUser("alice"))
		site := confCreate(t, s, confNewKey(t, "site-wide", confBase))
		u, keys, err := s.DeleteUser(ctx, "alice")
		if err != nil || u == nil || u.Name != "alice" || len(keys) != 0 {
			t.Fatalf("DeleteUser = %v, %v, %v; want alice and no keys", u, keys, err)
		}
		confGet(t, s, site.ID)
	})

	t.Run("DeleteUserRacesCreateKey", func(t *testing.T) {
		s := open(t)
		confCreateUser(t, s, confNewUser("alice"))
		const n = 24
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			created []string
		)
		for i := range n {
			wg.Go(func() {
				<-start
				k := confUserKey(t, strconv.Itoa(i), "alice")
				switch err := s.CreateKey(ctx, k); {
				case err == nil:
					mu.Lock()
					created = append(created, k.ID)
					mu.Unlock()
				case !errors.Is(err, ErrNoSuchUser):
					t.Errorf("CreateKey: %v", err)
				}
			})
		}
		var deleted []*Key
		wg.Go(func() {
			<-start
			var err error
			if _, deleted, err = s.DeleteUser(ctx, "alice"); err != nil {
				t.Errorf("DeleteUser: %v", err)
			}
		})
		close(start)
		wg.Wait()
		// Every key created was created before the deletion, and went with
		// it; none is left.
		got, want := confKeyIDs(deleted), slices.Clone(created)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("DeleteUser deleted %d keys, %d were created", len(got), len(want))
		}
		if list, err := s.ListKeys(ctx); err != nil || len(list) != 0 {
			t.Errorf("ListKeys = %d keys, %v; want none left of the deleted user", len(list), err)
		}
	})

	t.Run("UserSubscribe", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		u := confCreateUser(t, s, confNewUser("alice"))
		c := feed.next(t)
		if c.Kind != UserPut || confUserDiff(c.User, u) != "" {
			t.Fatalf("create: change = %+v, want UserPut of %+v", c, u)
		}
		c.User.Scopes[0] = "/"
		if got := confGetUser(t, s, "alice"); got.Scopes[0] != "/alice/" {
			t.Errorf("mutating a change record changed the store: %v", got.Scopes)
		}
		updated, err := s.UpdateUser(ctx, "alice", func(u *User) error { u.SelfService = true; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != UserPut || confUserDiff(c.User, updated) != "" {
			t.Fatalf("update: change = %+v, want UserPut of %+v", c, updated)
		}
		// Failed operations are not changes.
		_ = s.CreateUser(ctx, confNewUser("alice"))
		_, _ = s.UpdateUser(ctx, "alice", func(*User) error { return errors.New("no") })
		_, _ = s.UpdateUser(ctx, "nobody", func(*User) error { return nil })
		_, _, _ = s.DeleteUser(ctx, "nobody")
		if _, _, err := s.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != UserDeleted || c.ID != "alice" || confUserDiff(c.User, updated) != "" {
			t.Fatalf("delete: change = %+v, want UserDeleted alice with its last record", c)
		}
	})

	t.Run("UserRecordsAreCopies", func(t *testing.T) {
		s := open(t)
		u := confNewUser("alice")
		confCreateUser(t, s, u)
		want := confGetUser(t, s, "alice")
		mutate := func(u *User) {
			u.Scopes[0] = "/"
			u.Permissions = verifier.PermAdmin
		}
		check := func(what string) {
			t.Helper()
			if d := confUserDiff(confGetUser(t, s, "alice"), want); d != "" {
				t.Errorf("mutating the record from %s changed the store: %s", what, d)
			}
		}
		mutate(u)
		check("CreateUser's argument")
		mutate(confGetUser(t, s, "alice"))
		check("GetUser")
		list, err := s.ListUsers(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListUsers = %v, %v", list, err)
		}
		mutate(list[0])
		check("ListUsers")
		var inFn *User
		updated, err := s.UpdateUser(ctx, "alice", func(u *User) error { inFn = u; return nil })
		if err != nil {
			t.Fatal(err)
		}
		want.Rev = updated.Rev
		mutate(updated)
		check("UpdateUser's result")
		mutate(inFn)
		check("UpdateUser's fn argument")
	})
}
