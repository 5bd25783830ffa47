package keystore

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

func TestUserNameFromLabel(t *testing.T) {
	for label, want := range map[string]string{
		"Bob Smith":                     "bob-smith",
		"  Alice  ":                     "alice",
		"ALICE":                         "alice",
		"A__B.c-D":                      "a__b.c-d",
		"Tab\tand\nnewline":             "tab-and-newline",
		"Ünïcode Näme":                  "n-code-n-me",
		"a / b \\ c":                    "a-b-c",
		"--x--":                         "x",
		"---":                           "user",
		".":                             "user",
		"..":                            "user",
		"!!!":                           "user",
		"中文":                            "user",
		"":                              "user",
		strings.Repeat("a", 100) + " b": strings.Repeat("a", 64),
		strings.Repeat("x", 63) + " y":  strings.Repeat("x", 63) + "-",
		"\xff\xfeok":                    "ok",
	} {
		got := userNameFromLabel(label)
		if got != want {
			t.Errorf("userNameFromLabel(%q) = %q, want %q", label, got, want)
		}
		if !ValidUserName(got) {
			t.Errorf("userNameFromLabel(%q) = %q is not a valid user name", label, got)
		}
	}
}

func TestOutermostScopes(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{[]string{"/alice/shared/", "/alice/"}, []string{"/alice/"}},
		{[]string{"/a/", "/a"}, []string{"/a"}},
		{[]string{"/b/", "/a/", "/b/", "/ab/"}, []string{"/a/", "/ab/", "/b/"}},
		{[]string{"/x/z/", "/x/y/"}, []string{"/x/y/", "/x/z/"}},
		{[]string{"/a/", "/"}, []string{"/"}},
		{[]string{"/alice2/", "/alice/"}, []string{"/alice/", "/alice2/"}},
		{nil, nil},
	} {
		if got := outermostScopes(slices.Clone(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("outermostScopes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// seedLabelledKeys stores keys as the previous release did, with any label
// in User and no user records (which CreateKey now refuses).
func seedLabelledKeys(t *testing.T, s Store, keys ...*Key) {
	t.Helper()
	for _, k := range keys {
		k.Rev = 1
	}
	switch s := s.(type) {
	case *BoltStore:
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, k := range keys {
				b, err := encodeKey(k)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketKeys).Put([]byte(k.ID), b); err != nil {
					return err
				}
				if err := tx.Bucket(bucketDigests).Put(k.Digest[:], []byte(k.ID)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	case *RedisStore:
		ctx := context.Background()
		for _, k := range keys {
			rec, err := encodeStored(k)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.client.HSet(ctx, s.kKeys, k.ID, rec).Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.client.HSet(ctx, s.kDigests, hex.EncodeToString(k.Digest[:]), k.ID).Err(); err != nil {
				t.Fatal(err)
			}
		}
	default:
		t.Fatalf("seedLabelledKeys: %T", s)
	}
}

// labelledKey is a key of the previous release with the user label user.
func labelledKey(t *testing.T, user string, perm verifier.Permission, scopes ...string) *Key {
	t.Helper()
	k := confNewKey(t, user+" "+strings.Join(scopes, ","), confBase)
	k.User, k.Permissions, k.Scopes = user, perm, scopes
	return k
}

func TestMigrateUsers(t *testing.T) {
	srv := redistest.Start(t)
	for name, open := range map[string]func(t *testing.T) Store{
		"bolt":  func(t *testing.T) Store { return boltOpen(t) },
		"redis": func(t *testing.T) Store { return redisOpen(t, srv, "migrate") },
	} {
		t.Run(name, func(t *testing.T) { testMigrateUsers(t, open(t)) })
	}
}

func testMigrateUsers(t *testing.T, s Store) {
	ctx := context.Background()
	now := confBase.Add(24 * time.Hour)
	carol := confCreateUser(t, s, confNewUser("carol"))
	aliceRead := labelledKey(t, "alice", verifier.PermRead, "/alice/")
	aliceSign := labelledKey(t, "alice", verifier.PermSign, "/alice/shared/")
	bob1 := labelledKey(t, "Bob Smith", verifier.PermRead, "/bob/")
	bob2 := labelledKey(t, "bob smith", verifier.PermNone, "/bob/archive/", "/bobx/")
	root := labelledKey(t, "Root Admin", verifier.PermAdmin, "/ops/")
	root2 := labelledKey(t, "Root Admin", verifier.PermRead, "/x/")
	carolLabel := labelledKey(t, "carol", verifier.PermSign, "/c/")
	carolUpper := labelledKey(t, "Carol", verifier.PermRead, "/c/more/")
	dave := labelledKey(t, "dave", verifier.PermRead, "/pub/")
	dave.Type = verifier.KeyPublic
	site := confNewKey(t, "site-wide", confBase)
	seedLabelledKeys(t, s, aliceRead, aliceSign, bob1, bob2, root, root2, carolLabel, carolUpper, dave, site)

	created, err := MigrateUsers(ctx, s, now)
	if err != nil {
		t.Fatalf("MigrateUsers: %v", err)
	}
	want := []*User{
		{Name: "alice", Scopes: []string{"/alice/"}, Permissions: verifier.PermSign},
		{Name: "bob-smith", Scopes: []string{"/bob/", "/bobx/"}, Permissions: verifier.PermRead},
		{Name: "dave", Scopes: []string{"/pub/"}, Permissions: verifier.PermRead},
		{Name: "root-admin", Scopes: []string{"/"}, Permissions: verifier.PermAdmin},
	}
	if len(created) != len(want) {
		t.Fatalf("MigrateUsers created %d users %v, want %d", len(created), created, len(want))
	}
	for i, w := range want {
		w.CreatedAt, w.UpdatedAt = now, now
		stored := confGetUser(t, s, w.Name)
		w.Rev = stored.Rev
		if d := confUserDiff(created[i], w); d != "" {
			t.Errorf("created user %s: %s", w.Name, d)
		}
		if d := confUserDiff(stored, w); d != "" {
			t.Errorf("stored user %s: %s", w.Name, d)
		}
	}
	if d := confUserDiff(confGetUser(t, s, "carol"), carol); d != "" {
		t.Errorf("the existing user changed: %s", d)
	}
	// Invalid labels were rewritten to the names; nothing else changed.
	wantUser := map[string]string{bob1.ID: "bob-smith", bob2.ID: "bob-smith", root.ID: "root-admin", root2.ID: "root-admin", carolUpper.ID: "carol"}
	for _, k := range []*Key{aliceRead, aliceSign, bob1, bob2, root, root2, carolLabel, carolUpper, dave, site} {
		w := k.Clone()
		if u, ok := wantUser[k.ID]; ok {
			w.User = u
			w.Rev++
		}
		if d := confDiff(confGet(t, s, k.ID), w); d != "" {
			t.Errorf("key %q after MigrateUsers: %s", k.Name, d)
		}
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.User != "" {
			if _, err := s.GetUser(ctx, k.User); err != nil {
				t.Errorf("key %q names user %q: %v", k.Name, k.User, err)
			}
		}
	}

	// Idempotent: a second run creates nothing and changes nothing.
	again, err := MigrateUsers(ctx, s, now.Add(time.Hour))
	if err != nil || len(again) != 0 {
		t.Fatalf("second MigrateUsers = %v, %v; want nothing created", again, err)
	}
	users2, _ := s.ListUsers(ctx)
	keys2, _ := s.ListKeys(ctx)
	if len(users2) != len(users) || len(keys2) != len(keys) {
		t.Fatalf("second run: %d users, %d keys; want %d, %d", len(users2), len(keys2), len(users), len(keys))
	}
	for i := range users {
		if d := confUserDiff(users2[i], users[i]); d != "" {
			t.Errorf("second run changed user %s: %s", users[i].Name, d)
		}
	}
	for i := range keys {
		if d := confDiff(keys2[i], keys[i]); d != "" {
			t.Errorf("second run changed key %q: %s", keys[i].Name, d)
		}
	}
}

// TestMigrateUsersConcurrent: two instances upgrading one Redis at once
// create each user once and rewrite each key once.
func TestMigrateUsersConcurrent(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	for round := range 5 {
		ns := "concurrent" + strconv.Itoa(round)
		a, b := redisOpen(t, srv, ns), redisOpen(t, srv, ns)
		var keys []*Key
		wantNames := map[string]bool{}
		for i := range 12 {
			label := fmt.Sprintf("user%d", i)
			if i%2 == 1 {
				label = fmt.Sprintf("User %d", i) // rewritten to user-N
			}
			wantNames[userNameFromLabel(label)] = true
			keys = append(keys, labelledKey(t, label, verifier.PermRead, "/u"+strconv.Itoa(i)+"/"),
				labelledKey(t, label, verifier.PermSign, "/u"+strconv.Itoa(i)+"/x/"))
		}
		seedLabelledKeys(t, a, keys...)

		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results [2][]*User
			errs    [2]error
		)
		for i, s := range []Store{a, b} {
			wg.Go(func() {
				<-start
				results[i], errs[i] = MigrateUsers(ctx, s, confBase)
			})
		}
		close(start)
		wg.Wait()
		created := map[string]int{}
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("round %d: MigrateUsers #%d: %v", round, i, errs[i])
			}
			for _, u := range results[i] {
				created[u.Name]++
			}
		}
		for name := range wantNames {
			if created[name] != 1 {
				t.Errorf("round %d: user %s created %d times, want once", round, name, created[name])
			}
		}
		if len(created) != len(wantNames) {
			t.Errorf("round %d: created %v, want %v", round, created, wantNames)
		}
		for _, k := range keys {
			got := confGet(t, a, k.ID)
			wantRev := k.Rev
			if !ValidUserName(k.User) {
				wantRev++ // rewritten once
			}
			if !wantNames[got.User] || got.Rev != wantRev {
				t.Errorf("round %d: key of %q: user %q rev %d; want a created user, rev %d", round, k.User, got.User, got.Rev, wantRev)
			}
			if got.Permissions != k.Permissions || !slices.Equal(got.Scopes, k.Scopes) {
				t.Errorf("round %d: key of %q changed: %s %v", round, k.User, got.Permissions, got.Scopes)
			}
		}
	}
}
