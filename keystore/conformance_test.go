package keystore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// confWait bounds how long a test waits for something a store does
// asynchronously (a change message). It is a deadline, not a delay: the
// wait ends as soon as the condition holds.
const confWait = 10 * time.Second

var confBase = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// confNewKey returns a fresh, valid key record (not yet stored).
// NewKeyID returns the id of a fresh random key value, as keys get theirs.
func NewKeyID() (string, error) {
	tok, err := verifier.NewKeyToken(verifier.KeySecret)
	if err != nil {
		return "", err
	}
	return verifier.KeyIDOf(tok), nil
}

func confNewKey(t testing.TB, name string, created time.Time) *Key {
	t.Helper()
	tok, err := verifier.NewKeyToken(verifier.KeySecret)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	return &Key{
		ID:          id,
		Name:        name,
		Type:        verifier.KeySecret,
		Scopes:      []string{"/alice/", "/shared/"},
		Permissions: verifier.PermRead,
		Hint:        verifier.KeyHint(tok),
		CreatedAt:   created,
		UpdatedAt:   created,
		Digest:      verifier.DigestToken(tok),
	}
}

// confCreate stores k or fails the test.
func confCreate(t testing.TB, s Store, k *Key) *Key {
	t.Helper()
	if err := s.CreateKey(context.Background(), k); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
	return k
}

// confGet returns the stored record for id or fails the test.
func confGet(t testing.TB, s Store, id string) *Key {
	t.Helper()
	k, err := s.GetKey(context.Background(), id)
	if err != nil {
		t.Fatalf("GetKey(%s): %v", id, err)
	}
	return k
}

func confTimeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// confDigestTaken reports whether the store holds a key with digest d, as
// CreateKey sees it: a new key with that digest is refused with ErrExists.
// An accepted probe is deleted again.
func confDigestTaken(t testing.TB, s Store, d verifier.Digest) bool {
	t.Helper()
	ctx := context.Background()
	probe := confNewKey(t, "probe", confBase)
	probe.Digest = d
	switch err := s.CreateKey(ctx, probe); {
	case errors.Is(err, ErrExists):
		return true
	case err != nil:
		t.Fatalf("CreateKey(probe): %v", err)
	}
	if _, err := s.DeleteKey(ctx, probe.ID); err != nil {
		t.Fatalf("DeleteKey(probe): %v", err)
	}
	return false
}

// confDiff describes how two key records differ, or returns "".
func confDiff(got, want *Key) string { return confRecordDiff(got, want) }

// confRecordDiff describes the first field in which two records differ,
// or returns "". Times are compared with Equal, slices by their elements
// (nil and empty are equal).
func confRecordDiff[T any](got, want *T) string {
	if got == nil || want == nil {
		if got != want {
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		return ""
	}
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		var same bool
		switch gv := gf.(type) {
		case time.Time:
			same = gv.Equal(wf.(time.Time))
		case *time.Time:
			same = confTimeEqual(gv, wf.(*time.Time))
		default:
			if g.Field(i).Kind() == reflect.Slice {
				same = g.Field(i).Len() == w.Field(i).Len() && (g.Field(i).Len() == 0 || reflect.DeepEqual(gf, wf))
			} else {
				same = reflect.DeepEqual(gf, wf)
			}
		}
		if !same {
			return fmt.Sprintf("%s %v, want %v", g.Type().Field(i).Name, confShow(gf), confShow(wf))
		}
	}
	return ""
}

// confShow is how confRecordDiff prints a field: pointers by what they
// point at, a digest by its first bytes.
func confShow(v any) any {
	switch v := v.(type) {
	case *time.Time:
		if v != nil {
			return *v
		}
	case verifier.Digest:
		return fmt.Sprintf("%x…", v[:4])
	}
	return v
}

// confConcurrently runs fn n times at once and fails the test if any of
// them fails.
func confConcurrently(t testing.TB, n int, fn func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- fn() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent call: %v", err)
		}
	}
}

// confFeed collects a subscription's changes.
type confFeed struct {
	ch       chan Change
	overflow atomic.Bool
}

func confSubscribe(s Store) (*confFeed, func()) {
	f := &confFeed{ch: make(chan Change, 1024)}
	cancel := s.Subscribe(func(c Change) {
		select {
		case f.ch <- c:
		default:
			f.overflow.Store(true)
		}
	})
	return f, cancel
}

// next returns the next change, failing the test if none arrives in time.
func (f *confFeed) next(t testing.TB) Change {
	t.Helper()
	timer := time.NewTimer(confWait)
	defer timer.Stop()
	select {
	case c := <-f.ch:
		return c
	case <-timer.C:
		t.Fatal("no change message arrived")
		return Change{}
	}
}

// empty reports whether no change is waiting.
func (f *confFeed) empty() bool { return len(f.ch) == 0 && !f.overflow.Load() }

// testStoreConformance checks that a Store keeps the contract documented on
// the interface. open returns a new, empty store for each subtest and
// arranges for it to be closed. Every Store implementation runs it.
func testStoreConformance(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("CreateAndGet", func(t *testing.T) {
		s := open(t)
		k := confNewKey(t, "reports", confBase)
		exp := confBase.Add(30 * 24 * time.Hour)
		k.ExpiresAt = &exp
		k.Permissions = verifier.PermSign
		want := k.Clone()
		confCreate(t, s, k)
		if k.Rev == 0 {
			t.Fatal("CreateKey did not set Rev")
		}
		want.Rev = k.Rev
		if d := confDiff(confGet(t, s, k.ID), want); d != "" {
			t.Errorf("GetKey: %s", d)
		}
		if !confDigestTaken(t, s, k.Digest) {
			t.Error("another key with the same digest could be created")
		}
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListKeys = %d keys, %v; want 1", len(list), err)
		}
		if d := confDiff(list[0], want); d != "" {
			t.Errorf("ListKeys: %s", d)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		confCreate(t, s, confNewKey(t, "other", confBase))
		missing := confNewKey(t, "missing", confBase)
		if _, err := s.GetKey(ctx, missing.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetKey(unknown) err = %v, want ErrNotFound", err)
		}
		called := false
		if _, err := s.UpdateKey(ctx, missing.ID, func(*Key) error { called = true; return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateKey(unknown) err = %v, want ErrNotFound", err)
		}
		if called {
			t.Error("UpdateKey(unknown) called fn")
		}
		if _, err := s.DeleteKey(ctx, missing.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteKey(unknown) err = %v, want ErrNotFound", err)
		}
		if list, err := s.ListKeys(ctx); err != nil || len(list) != 1 {
			t.Errorf("ListKeys = %d keys, %v; want the 1 key", len(list), err)
		}
	})

	t.Run("EmptyList", func(t *testing.T) {
		s := open(t)
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 0 {
			t.Errorf("ListKeys on an empty store = %d keys, %v", len(list), err)
		}
	})

	t.Run("Exists", func(t *testing.T) {
		s := open(t)
		orig := confCreate(t, s, confNewKey(t, "orig", confBase))
		want := orig.Clone()

		sameID := confNewKey(t, "same id", confBase.Add(time.Hour))
		sameID.ID = orig.ID
		if err := s.CreateKey(ctx, sameID); !errors.Is(err, ErrExists) {
			t.Errorf("CreateKey(duplicate id) err = %v, want ErrExists", err)
		}
		if confDigestTaken(t, s, sameID.Digest) {
			t.Error("the rejected duplicate-id key's digest was stored")
		}

		sameDigest := confNewKey(t, "same digest", confBase.Add(time.Hour))
		sameDigest.Digest = orig.Digest
		if err := s.CreateKey(ctx, sameDigest); !errors.Is(err, ErrExists) {
			t.Errorf("CreateKey(duplicate digest) err = %v, want ErrExists", err)
		}
		if _, err := s.GetKey(ctx, sameDigest.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("rejected duplicate-digest key was stored (err = %v)", err)
		}

		if d := confDiff(confGet(t, s, orig.ID), want); d != "" {
			t.Errorf("original changed: %s", d)
		}
		if list, err := s.ListKeys(ctx); err != nil || len(list) != 1 || list[0].Digest != orig.Digest {
			t.Errorf("ListKeys = %d keys, %v; want 1", len(list), err)
		}
	})

	t.Run("ListOrder", func(t *testing.T) {
		s := open(t)
		at := func(h int) time.Time { return confBase.Add(time.Duration(h) * time.Hour) }
		mk := func(c byte, h int) *Key {
			id := "key_" + strings.Repeat(string(c), 16)
			k := confNewKey(t, id, at(h))
			k.ID = id
			return k
		}
		// Created out of order; two pairs share a creation time.
		for _, k := range []*Key{
			mk('d', 3), mk('a', 2), mk('z', 0), mk('c', 3),
			mk('b', 1), mk('y', 2), mk('x', 5),
		} {
			confCreate(t, s, k)
		}
		list, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range list {
			ids = append(ids, k.ID[4:5])
		}
		want := []string{"z", "b", "a", "y", "c", "d", "x"}
		if !slices.Equal(ids, want) {
			t.Errorf("ListKeys order = %v, want %v", ids, want)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		k := confCreate(t, s, confNewKey(t, "before", confBase))
		want := k.Clone()
		for i, perm := range []verifier.Permission{verifier.PermSign, verifier.PermNone, verifier.PermAdmin} {
			updated := confBase.Add(time.Duration(i+1) * time.Minute)
			got, err := s.UpdateKey(ctx, k.ID, func(k *Key) error {
				k.Name = "after " + strconv.Itoa(i)
				k.Permissions = perm
				k.Scopes = []string{"/alice/"}
				k.UpdatedAt = updated
				return nil
			})
			if err != nil {
				t.Fatalf("UpdateKey #%d: %v", i, err)
			}
			want.Name, want.Permissions, want.Scopes, want.UpdatedAt = "after "+strconv.Itoa(i), perm, []string{"/alice/"}, updated
			want.Rev++
			if d := confDiff(got, want); d != "" {
				t.Errorf("UpdateKey #%d returned: %s", i, d)
			}
			if d := confDiff(confGet(t, s, k.ID), want); d != "" {
				t.Errorf("GetKey after update #%d: %s", i, d)
			}
			if !confDigestTaken(t, s, k.Digest) {
				t.Errorf("after update #%d another key with the same digest could be created", i)
			}
		}
	})

	t.Run("UpdateError", func(t *testing.T) {
		s := open(t)
		k := confCreate(t, s, confNewKey(t, "keep", confBase))
		want := k.Clone()
		errStop := errors.New("stop right there")
		got, err := s.UpdateKey(ctx, k.ID, func(k *Key) error {
			k.Name = "changed"
			k.Permissions = verifier.PermAdmin
			return errStop
		})
		if err != errStop {
			t.Errorf("UpdateKey err = %v, want fn's error returned as is", err)
		}
		if got != nil {
			t.Errorf("UpdateKey returned a record %v with the error", got)
		}
		if d := confDiff(confGet(t, s, k.ID), want); d != "" {
			t.Errorf("aborted update changed the record: %s", d)
		}
		// A wrapped error keeps its chain.
		wrapped := fmt.Errorf("validating: %w", errStop)
		if _, err := s.UpdateKey(ctx, k.ID, func(*Key) error { return wrapped }); err != wrapped {
			t.Errorf("UpdateKey err = %v, want %v as is", err, wrapped)
		}
	})

	t.Run("UpdateCannotChangeIdentity", func(t *testing.T) {
		s := open(t)
		k := confCreate(t, s, confNewKey(t, "id", confBase))
		other := confNewKey(t, "other", confBase)
		got, err := s.UpdateKey(ctx, k.ID, func(r *Key) error {
			r.ID = other.ID
			r.Digest = other.Digest
			r.Rev = 1000
			r.Name = "renamed"
			return nil
		})
		// A store may refuse the update or ignore the identity change; it
		// must never move the key to another id or digest.
		if err == nil {
			if got.ID != k.ID || got.Digest != k.Digest || got.Rev != k.Rev+1 {
				t.Errorf("UpdateKey returned id %s, rev %d, digest changed %v; want %s, %d, unchanged",
					got.ID, got.Rev, got.Digest != k.Digest, k.ID, k.Rev+1)
			}
		}
		stored := confGet(t, s, k.ID)
		if stored.ID != k.ID || stored.Digest != k.Digest {
			t.Errorf("stored record moved to id %s / another digest", stored.ID)
		}
		if !confDigestTaken(t, s, k.Digest) {
			t.Error("the original digest was released")
		}
		if _, err := s.GetKey(ctx, other.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetKey(new id) err = %v, want ErrNotFound", err)
		}
		if confDigestTaken(t, s, other.Digest) {
			t.Error("the key took the new digest")
		}
	})

	t.Run("UpdateIsAtomic", func(t *testing.T) {
		s := open(t)
		k := confNewKey(t, "0", confBase)
		confCreate(t, s, k)
		const n = 16
		confConcurrently(t, n, func() error {
			_, err := s.UpdateKey(ctx, k.ID, func(r *Key) error {
				c, err := strconv.Atoi(r.Name)
				if err != nil {
					return err
				}
				r.Name = strconv.Itoa(c + 1)
				return nil
			})
			return err
		})
		got := confGet(t, s, k.ID)
		if got.Name != strconv.Itoa(n) || got.Rev != k.Rev+n {
			t.Errorf("after %d concurrent increments: counter %s, rev %d; want %d, %d", n, got.Name, got.Rev, n, k.Rev+n)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		keep := confCreate(t, s, confNewKey(t, "keep", confBase))
		k := confCreate(t, s, confNewKey(t, "gone", confBase.Add(time.Hour)))
		want := k.Clone()
		removed, err := s.DeleteKey(ctx, k.ID)
		if err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if d := confDiff(removed, want); d != "" {
			t.Errorf("DeleteKey returned: %s", d)
		}
		if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetKey(deleted) err = %v, want ErrNotFound", err)
		}
		if _, err := s.DeleteKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteKey err = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateKey(ctx, k.ID, func(*Key) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateKey(deleted) err = %v, want ErrNotFound", err)
		}
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 1 || list[0].ID != keep.ID {
			t.Errorf("ListKeys after delete = %v, %v; want only %s", list, err, keep.ID)
		}
		// The digest index entry went with the key.
		reuse := confNewKey(t, "reuse", confBase)
		reuse.Digest = k.Digest
		if err := s.CreateKey(ctx, reuse); err != nil {
			t.Errorf("CreateKey with a deleted key's digest: %v", err)
		}
	})

	t.Run("TouchKeys", func(t *testing.T) {
		s := open(t)
		k := confCreate(t, s, confNewKey(t, "touched", confBase))
		other := confCreate(t, s, confNewKey(t, "fence", confBase))
		feed, cancel := confSubscribe(s)
		defer cancel()

		t1 := confBase.Add(time.Hour)
		t0 := confBase.Add(30 * time.Minute)
		t2 := confBase.Add(2 * time.Hour)
		steps := []struct {
			touch map[string]time.Time
			want  *time.Time
		}{
			{nil, nil},
			{map[string]time.Time{}, nil},
			{map[string]time.Time{k.ID: t1}, &t1},
			{map[string]time.Time{k.ID: t0}, &t1},                           // never backwards
			{map[string]time.Time{k.ID: t1}, &t1},                           // same time
			{map[string]time.Time{"key_unknown": t2, k.ID: t2}, &t2},        // unknown ids ignored
			{map[string]time.Time{"key_unknown": t2, "key_other": t0}, &t2}, // only unknown ids
		}
		for i, st := range steps {
			if err := s.TouchKeys(ctx, st.touch); err != nil {
				t.Fatalf("TouchKeys #%d: %v", i, err)
			}
			got := confGet(t, s, k.ID)
			if !confTimeEqual(got.LastUsedAt, st.want) {
				t.Errorf("after TouchKeys #%d LastUsedAt = %v, want %v", i, got.LastUsedAt, st.want)
			}
			if got.Rev != k.Rev {
				t.Errorf("TouchKeys #%d changed Rev %d → %d", i, k.Rev, got.Rev)
			}
		}
		for _, id := range []string{"key_unknown", "key_other"} {
			if _, err := s.GetKey(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("TouchKeys created %s (err = %v)", id, err)
			}
		}
		// Last-used survives an update, and an update is still a change.
		updated, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "renamed"; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !confTimeEqual(updated.LastUsedAt, &t2) || updated.Rev != k.Rev+1 {
			t.Errorf("after update LastUsedAt = %v, Rev = %d; want %v, %d", updated.LastUsedAt, updated.Rev, t2, k.Rev+1)
		}
		// Touches are not changes: the first message on the feed is the
		// update made after them.
		if _, err := s.UpdateKey(ctx, other.ID, func(r *Key) error { r.Name = "fence"; return nil }); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID || c.Key.Rev != k.Rev+1 {
			t.Errorf("first change after touches = %+v, want the KeyPut of the update", c)
		}
		if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != other.ID {
			t.Errorf("second change = %+v, want the fence KeyPut", c)
		}
	})

	t.Run("OfflineSecret", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		k := confNewKey(t, "offline", confBase)
		k.OfflineSecret = bytes.Repeat([]byte{0xa5}, 32)
		k = confCreate(t, s, k)
		if c := feed.next(t); c.Key == nil || !bytes.Equal(c.Key.OfflineSecret, k.OfflineSecret) {
			t.Fatalf("change of the create: %+v", c)
		}
		if got := confGet(t, s, k.ID); !bytes.Equal(got.OfflineSecret, k.OfflineSecret) {
			t.Fatalf("stored offline secret %x, want %x", got.OfflineSecret, k.OfflineSecret)
		}
		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 1 || !bytes.Equal(list[0].OfflineSecret, k.OfflineSecret) {
			t.Fatalf("ListKeys: %+v %v", list, err)
		}
		// Other changes keep it; clearing it removes it everywhere.
		if _, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "renamed"; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := confGet(t, s, k.ID); !bytes.Equal(got.OfflineSecret, k.OfflineSecret) {
			t.Fatalf("offline secret after a rename: %x", got.OfflineSecret)
		}
		if _, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.OfflineSecret = nil; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := confGet(t, s, k.ID); got.OfflineSecret != nil {
			t.Fatalf("offline secret after clearing: %x", got.OfflineSecret)
		}
		feed.next(t)
		if c := feed.next(t); c.Key == nil || c.Key.OfflineSecret != nil {
			t.Fatalf("change of the clearing: %+v", c)
		}
	})

	t.Run("Secret", func(t *testing.T) {
		s := open(t)
		gen := func(id string, fill byte) func() (Secret, error) {
			return func() (Secret, error) {
				return Secret{ID: id, Key: bytes.Repeat([]byte{fill}, 32), CreatedAt: confBase}, nil
			}
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results [2]Secret
			errs    [2]error
		)
		for i := range results {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.Secret(ctx, gen("sec_"+strconv.Itoa(i), byte('a'+i)))
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Secret #%d: %v", i, err)
			}
		}
		first := results[0]
		if (first.ID != "sec_0" && first.ID != "sec_1") || len(first.Key) != 32 {
			t.Fatalf("Secret = %+v, want one of the generated secrets", first)
		}
		if results[1].ID != first.ID || !bytes.Equal(results[1].Key, first.Key) {
			t.Errorf("concurrent callers got different secrets: %s and %s", first.ID, results[1].ID)
		}
		// Once created, the secret is returned without generating another.
		again, err := s.Secret(ctx, func() (Secret, error) {
			return Secret{}, errors.New("generate called although a secret exists")
		})
		if err != nil || again.ID != first.ID || !bytes.Equal(again.Key, first.Key) || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("Secret again = %+v, %v; want %+v", again, err, first)
		}
		// The returned key is a copy.
		again.Key[0] ^= 0xff
		third, err := s.Secret(ctx, gen("sec_x", 'x'))
		if err != nil || !bytes.Equal(third.Key, first.Key) {
			t.Errorf("mutating a returned secret changed the store: %x, %v", third.Key, err)
		}
	})

	t.Run("SecretGenerateError", func(t *testing.T) {
		s := open(t)
		if _, err := s.Secret(ctx, func() (Secret, error) { return Secret{}, errors.New("no entropy") }); err == nil {
			t.Fatal("Secret ignored the generator's error")
		}
		// Nothing was stored: the next caller generates.
		got, err := s.Secret(ctx, func() (Secret, error) {
			return Secret{ID: "sec_ok", Key: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: confBase}, nil
		})
		if err != nil || got.ID != "sec_ok" {
			t.Errorf("Secret after a failed generate = %+v, %v; want sec_ok", got, err)
		}
	})

	t.Run("Subscribe", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		fence, cancelFence := confSubscribe(s)
		defer cancelFence()

		k := confCreate(t, s, confNewKey(t, "watched", confBase))
		c := feed.next(t)
		if c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID || c.Key.Rev != k.Rev || c.Key.Digest != k.Digest {
			t.Fatalf("create: change = %+v, want KeyPut of %s rev %d with its digest", c, k.ID, k.Rev)
		}
		if d := confDiff(c.Key, k); d != "" {
			t.Errorf("create: change record: %s", d)
		}
		// The record in a change is a copy.
		c.Key.Scopes[0] = "/"
		c.Key.Name = "mutated"
		if got := confGet(t, s, k.ID); got.Scopes[0] != "/alice/" || got.Name != "watched" {
			t.Errorf("mutating a change record changed the store: %v %q", got.Scopes, got.Name)
		}

		if _, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { r.Permissions = verifier.PermSign; return nil }); err != nil {
			t.Fatal(err)
		}
		c = feed.next(t)
		if c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID || c.Key.Rev != k.Rev+1 || c.Key.Permissions != verifier.PermSign {
			t.Fatalf("update: change = %+v, want KeyPut rev %d with permissions sign", c, k.Rev+1)
		}

		if _, err := s.DeleteKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		c = feed.next(t)
		if c.Kind != KeyDeleted || c.ID != k.ID {
			t.Fatalf("delete: change = %+v, want KeyDeleted %s", c, k.ID)
		}

		// Failed operations are not changes.
		_, _ = s.DeleteKey(ctx, k.ID)
		_, _ = s.UpdateKey(ctx, k.ID, func(*Key) error { return nil })

		// After cancel nothing more arrives. The fence subscription, still
		// active, shows when the change has been delivered.
		cancel()
		for range 3 {
			fence.next(t) // the create, update and delete above
		}
		k2 := confCreate(t, s, confNewKey(t, "after cancel", confBase))
		if c := fence.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k2.ID {
			t.Fatalf("fence: change = %+v, want KeyPut %s (failed operations must not be changes)", c, k2.ID)
		}
		if !feed.empty() {
			t.Errorf("a cancelled subscription received %+v", <-feed.ch)
		}
		cancel() // cancelling twice is harmless
	})

	t.Run("SubscribeSequential", func(t *testing.T) {
		s := open(t)
		const n = 16
		var inFlight, overlaps, seen atomic.Int32
		cancel := s.Subscribe(func(Change) {
			if inFlight.Add(1) != 1 {
				overlaps.Add(1)
			}
			seen.Add(1)
			inFlight.Add(-1)
		})
		defer cancel()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { confCreate(t, s, confNewKey(t, strconv.Itoa(i), confBase)) })
		}
		wg.Wait()
		deadline := time.Now().Add(confWait)
		for seen.Load() < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // polling a condition with a deadline
		}
		if seen.Load() != n || overlaps.Load() != 0 {
			t.Errorf("saw %d of %d changes, %d overlapping calls; want all, none overlapping", seen.Load(), n, overlaps.Load())
		}
	})

	t.Run("RecordsAreCopies", func(t *testing.T) {
		s := open(t)
		exp := confBase.Add(time.Hour)
		k := confNewKey(t, "orig", confBase)
		k.ExpiresAt = &exp
		confCreate(t, s, k)
		if err := s.TouchKeys(ctx, map[string]time.Time{k.ID: confBase}); err != nil {
			t.Fatal(err)
		}
		want := confGet(t, s, k.ID)

		mutate := func(r *Key) {
			r.Name = "mutated"
			r.Scopes[0] = "/"
			r.Permissions = verifier.PermAdmin
			if r.ExpiresAt != nil {
				*r.ExpiresAt = r.ExpiresAt.Add(1000 * time.Hour)
			}
			if r.LastUsedAt != nil {
				*r.LastUsedAt = r.LastUsedAt.Add(time.Hour)
			}
		}
		check := func(what string) {
			t.Helper()
			if d := confDiff(confGet(t, s, k.ID), want); d != "" {
				t.Errorf("mutating the record from %s changed the store: %s", what, d)
			}
		}

		// The record passed in is not retained.
		mutate(k)
		check("CreateKey's argument")

		got := confGet(t, s, k.ID)
		mutate(got)
		check("GetKey")

		list, err := s.ListKeys(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListKeys = %v, %v", list, err)
		}
		mutate(list[0])
		check("ListKeys")

		var inFn *Key
		updated, err := s.UpdateKey(ctx, k.ID, func(r *Key) error { inFn = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
		want.Rev++
		mutate(updated)
		check("UpdateKey's result")
		mutate(inFn)
		check("UpdateKey's fn argument")
	})

	t.Run("Ping", func(t *testing.T) {
		s := open(t)
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping on a healthy store: %v", err)
		}
	})

	confRevocations(t, open)
	confUsers(t, open)
	confLinks(t, open)
}

// confURLID returns a fresh signed-URL id.
func confURLID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// confLenientURLID spells the 16 zero bytes of the URL id "AAA…A" with an
// unused trailing bit set: a lenient base64 decoder reads the same bytes.
var confLenientURLID = strings.Repeat("A", verifier.URLIDLen-1) + "B"

// confRevs returns one valid revocation of each kind, expiring at exp.
// Before is in whole seconds, as stores keep it.
func confRevs(t testing.TB, before, exp time.Time) []Revocation {
	t.Helper()
	keyID, err := NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	before = before.Truncate(time.Second).UTC()
	return []Revocation{
		{Kind: RevokeURL, Target: confURLID(t), ExpiresAt: exp},
		{Kind: RevokeKey, Target: keyID, Before: before, ExpiresAt: exp},
		{Kind: RevokePrefix, Target: "/alice/reports/", Before: before, ExpiresAt: exp},
	}
}

// confRevIndex maps the records of a ListRevocations answer by ident,
// failing the test on duplicates.
func confRevIndex(t testing.TB, list []Revocation) map[string]Revocation {
	t.Helper()
	m := make(map[string]Revocation, len(list))
	for _, r := range list {
		if _, dup := m[r.Ident()]; dup {
			t.Errorf("ListRevocations returned %s twice", r.Ident())
		}
		m[r.Ident()] = r
	}
	return m
}

// confRevDiff describes how two revocations differ, or returns "".
func confRevDiff(got, want Revocation) string {
	switch {
	case got.Kind != want.Kind || got.Target != want.Target:
		return fmt.Sprintf("%s %q, want %s %q", got.Kind, got.Target, want.Kind, want.Target)
	case !got.Before.Equal(want.Before):
		return fmt.Sprintf("Before %v, want %v", got.Before, want.Before)
	case !got.ExpiresAt.Equal(want.ExpiresAt):
		return fmt.Sprintf("ExpiresAt %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	return ""
}

// confRevocations is the revocation part of the store contract. Times are
// relative to the clock (whole seconds): stores may drop records whose
// expiry has passed by the clock, whatever now ListRevocations is given.
func confRevocations(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("RevokeAndList", func(t *testing.T) {
		s := open(t)
		now := time.Now().Truncate(time.Second)
		early := confRevs(t, now.Add(-time.Minute), now.Add(time.Hour))
		late := confRevs(t, now.Add(-2*time.Minute), now.Add(2*time.Hour))
		for _, r := range append(slices.Clone(early), late...) {
			if err := s.Revoke(ctx, r); err != nil {
				t.Fatalf("Revoke(%s): %v", r.Ident(), err)
			}
		}
		// Ask with the earliest now first: a store may forget the
		// records a query shows to have expired.
		list, err := s.ListRevocations(ctx, now)
		if err != nil {
			t.Fatalf("ListRevocations: %v", err)
		}
		got := confRevIndex(t, list)
		if len(got) != len(early)+len(late) {
			t.Errorf("ListRevocations(now) = %d records, want %d", len(got), len(early)+len(late))
		}
		for _, want := range append(slices.Clone(early), late...) {
			if d := confRevDiff(got[want.Ident()], want); d != "" {
				t.Errorf("ListRevocations: %s: %s", want.Ident(), d)
			}
		}
		// A record whose ExpiresAt is now (or before) no longer counts.
		list, err = s.ListRevocations(ctx, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("ListRevocations: %v", err)
		}
		got = confRevIndex(t, list)
		if len(got) != len(late) {
			t.Errorf("ListRevocations(first expiry) = %d records, want the %d later ones", len(got), len(late))
		}
		for _, want := range late {
			if d := confRevDiff(got[want.Ident()], want); d != "" {
				t.Errorf("ListRevocations(first expiry): %s: %s", want.Ident(), d)
			}
		}
		if list, err := s.ListRevocations(ctx, now.Add(2*time.Hour)); err != nil || len(list) != 0 {
			t.Errorf("ListRevocations(last expiry) = %v, %v; want none", list, err)
		}
	})

	t.Run("RevokeExpired", func(t *testing.T) {
		s := open(t)
		now := time.Now().Truncate(time.Second)
		past := confRevs(t, now.Add(-2*time.Hour), now.Add(-time.Hour))[0]
		if err := s.Revoke(ctx, past); err != nil {
			t.Fatalf("Revoke(already expired): %v", err)
		}
		if list, err := s.ListRevocations(ctx, now); err != nil || len(list) != 0 {
			t.Errorf("ListRevocations = %v, %v; want no expired record", list, err)
		}
	})

	t.Run("RevokeKeepsLaterExpiry", func(t *testing.T) {
		s := open(t)
		now := time.Now().Truncate(time.Second)
		for _, r := range confRevs(t, now.Add(-time.Minute), now.Add(2*time.Hour)) {
			steps := []struct {
				exp  time.Time
				want time.Time
			}{
				{now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
				{now.Add(time.Hour), now.Add(2 * time.Hour)}, // earlier: kept the later
				{now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
				{now.Add(3 * time.Hour), now.Add(3 * time.Hour)}, // later: extended
			}
			for i, st := range steps {
				r.ExpiresAt = st.exp
				if err := s.Revoke(ctx, r); err != nil {
					t.Fatalf("Revoke #%d: %v", i, err)
				}
				list, err := s.ListRevocations(ctx, now)
				if err != nil {
					t.Fatal(err)
				}
				var found []Revocation
				for _, got := range list {
					if got.Ident() == r.Ident() {
						found = append(found, got)
					}
				}
				if len(found) != 1 || !found[0].ExpiresAt.Equal(st.want) {
					t.Errorf("%s after Revoke #%d: records %v, want one expiring at %v", r.Kind, i, found, st.want)
				}
			}
		}
	})

	t.Run("RevokeInvalid", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := time.Now().Truncate(time.Second)
		exp := now.Add(time.Hour)
		keyID, err := NewKeyID()
		if err != nil {
			t.Fatal(err)
		}
		bad := map[string]Revocation{
			"unknown kind":          {Kind: "user", Target: "alice", Before: now, ExpiresAt: exp},
			"empty kind":            {Target: confURLID(t), ExpiresAt: exp},
			"short url id":          {Kind: RevokeURL, Target: "abc", ExpiresAt: exp},
			"url id not base64url":  {Kind: RevokeURL, Target: strings.Repeat("*", verifier.URLIDLen), ExpiresAt: exp},
			"url id, trailing bits": {Kind: RevokeURL, Target: confLenientURLID, ExpiresAt: exp},
			"url with before":       {Kind: RevokeURL, Target: confURLID(t), Before: now, ExpiresAt: exp},
			"url without expiry":    {Kind: RevokeURL, Target: confURLID(t)},
			"key without before":    {Kind: RevokeKey, Target: keyID, ExpiresAt: exp},
			"key id malformed":      {Kind: RevokeKey, Target: "key_UPPER", Before: now, ExpiresAt: exp},
			"prefix not clean":      {Kind: RevokePrefix, Target: "/a/../b/", Before: now, ExpiresAt: exp},
			"prefix relative":       {Kind: RevokePrefix, Target: "alice/", Before: now, ExpiresAt: exp},
			"prefix no before":      {Kind: RevokePrefix, Target: "/alice/", ExpiresAt: exp},
		}
		for name, r := range bad {
			err := s.Revoke(ctx, r)
			if err == nil {
				t.Errorf("Revoke(%s) succeeded", name)
				continue
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Revoke(%s) = %v: a bad record is not a backend failure", name, err)
			}
		}
		if list, err := s.ListRevocations(ctx, now); err != nil || len(list) != 0 {
			t.Errorf("ListRevocations after invalid revocations = %v, %v; want none", list, err)
		}
		// Rejected records are not changes: the first message is the
		// valid revocation made after them.
		good := confRevs(t, now, exp)[0]
		if err := s.Revoke(ctx, good); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != RevocationAdded || c.Revocation == nil || c.Revocation.Ident() != good.Ident() {
			t.Errorf("first change = %+v, want RevocationAdded of the valid record", c)
		}
	})

	t.Run("RevokeURLIDHasOneSpelling", func(t *testing.T) {
		s := open(t)
		exp := time.Now().Truncate(time.Second).Add(time.Hour)
		canonical := Revocation{Kind: RevokeURL, Target: strings.Repeat("A", verifier.URLIDLen), ExpiresAt: exp}
		if err := s.Revoke(ctx, canonical); err != nil {
			t.Fatal(err)
		}
		// The same 16 bytes spelled another way are refused, so one link
		// can never have two records.
		if err := s.Revoke(ctx, Revocation{Kind: RevokeURL, Target: confLenientURLID, ExpiresAt: exp.Add(time.Hour)}); err == nil {
			t.Errorf("Revoke(%s) accepted a second spelling of %s", confLenientURLID, canonical.Target)
		}
		list, err := s.ListRevocations(ctx, time.Now())
		if err != nil || len(list) != 1 || confRevDiff(list[0], canonical) != "" {
			t.Errorf("ListRevocations = %v, %v; want only %s", list, err, canonical.Ident())
		}
	})

	t.Run("RevokeNotifies", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := time.Now().Truncate(time.Second)
		revs := confRevs(t, now.Add(-time.Minute), now.Add(time.Hour))
		for _, r := range revs {
			if err := s.Revoke(ctx, r); err != nil {
				t.Fatal(err)
			}
			c := feed.next(t)
			if c.Kind != RevocationAdded || c.Revocation == nil {
				t.Fatalf("Revoke(%s): change = %+v, want RevocationAdded", r.Ident(), c)
			}
			if d := confRevDiff(*c.Revocation, r); d != "" {
				t.Errorf("Revoke(%s): change record: %s", r.Ident(), d)
			}
		}
		// Storing a revocation again is announced again (the store may
		// carry the expiry it kept, never an earlier one than asked).
		again := revs[0]
		again.ExpiresAt = now.Add(2 * time.Hour)
		if err := s.Revoke(ctx, again); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != RevocationAdded || c.Revocation == nil ||
			c.Revocation.Ident() != again.Ident() || c.Revocation.ExpiresAt.Before(again.ExpiresAt) {
			t.Errorf("extended revocation: change = %+v, want RevocationAdded expiring at %v", c, again.ExpiresAt)
		}
	})
}

// testStoreAfterClose creates a key, subscribes, closes s, and checks that
// every operation then fails with ErrClosed (never a panic, never a
// misleading ErrNotFound) and sends nothing; closing again and subscribing
// stay harmless. It returns the key created before Close.
func testStoreAfterClose(t *testing.T, s Store) *Key {
	t.Helper()
	ctx := context.Background()
	k := confCreate(t, s, confNewKey(t, "k", confBase))
	confCreateUser(t, s, confNewUser("alice"))
	now := time.Now()
	l := confCreateLink(t, s, confNewLink(t, "/a.txt", now, now.Add(time.Hour)))
	feed, cancel := confSubscribe(s)
	defer cancel()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"CreateKey": func() error { return s.CreateKey(ctx, confNewKey(t, "new", confBase)) },
		"GetKey":    func() error { _, err := s.GetKey(ctx, k.ID); return err },
		"ListKeys":  func() error { _, err := s.ListKeys(ctx); return err },
		"UpdateKey": func() error {
			_, err := s.UpdateKey(ctx, k.ID, func(*Key) error { return nil })
			return err
		},
		"DeleteKey": func() error { _, err := s.DeleteKey(ctx, k.ID); return err },
		"TouchKeys": func() error { return s.TouchKeys(ctx, map[string]time.Time{k.ID: confBase}) },
		"Secret": func() error {
			_, err := s.Secret(ctx, func() (Secret, error) { return Secret{ID: "x", Key: []byte("x")}, nil })
			return err
		},
		"Revoke": func() error {
			return s.Revoke(ctx, confRevs(t, time.Now(), time.Now().Add(time.Hour))[0])
		},
		"ListRevocations": func() error { _, err := s.ListRevocations(ctx, time.Now()); return err },
		"Ping":            func() error { return s.Ping(ctx) },
		"CreateUser":      func() error { return s.CreateUser(ctx, confNewUser("new")) },
		"GetUser":         func() error { _, err := s.GetUser(ctx, "alice"); return err },
		"ListUsers":       func() error { _, err := s.ListUsers(ctx); return err },
		"UpdateUser": func() error {
			_, err := s.UpdateUser(ctx, "alice", func(*User) error { return nil })
			return err
		},
		"DeleteUser": func() error { _, _, err := s.DeleteUser(ctx, "alice"); return err },
		"CreateLink": func() error { return s.CreateLink(ctx, confNewLink(t, "/b.txt", now, now.Add(time.Hour))) },
		"GetLink":    func() error { _, err := s.GetLink(ctx, l.ID, now); return err },
		"ListLinks":  func() error { _, _, err := s.ListLinks(ctx, LinkFilter{}, "", 10, now); return err },
		"SetLinkExpiry": func() error {
			_, err := s.SetLinkExpiry(ctx, l.ID, now.Add(2*time.Hour), now)
			return err
		},
		"ListLinkExpiries": func() error { _, err := s.ListLinkExpiries(ctx, now); return err },
		"TouchLinks":       func() error { return s.TouchLinks(ctx, map[string]LinkUse{l.ID: {1, now}}) },
		"UseLink": func() error {
			_, _, err := s.UseLink(ctx, l.ID, 3, "x", false, time.Minute, now)
			return err
		},
		"ReleaseUse": func() error { return s.ReleaseUse(ctx, l.ID, "x") },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s after Close panicked: %v", name, p)
					}
				}()
				err = op()
			}()
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
			}
			if errors.Is(err, ErrNotFound) {
				t.Errorf("%s after Close reports ErrNotFound: a closed store must not look empty", name)
			}
		})
	}
	if !feed.empty() {
		t.Errorf("operations on a closed store sent %+v", <-feed.ch)
	}
	_ = s.Close()
	s.Subscribe(func(Change) {})()
	return k
}
