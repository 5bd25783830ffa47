package keystore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// boltOpen opens a store in a new temporary directory, closed at the end
// of the test.
func boltOpen(t *testing.T) *BoltStore {
	t.Helper()
	s, err := OpenBolt(filepath.Join(t.TempDir(), "signet.db"), time.Second)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBoltConformance(t *testing.T) {
	testStoreConformance(t, func(t *testing.T) Store { return boltOpen(t) })
}

func TestBoltSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "signet.db") // directories are created
	s, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	k1 := confCreate(t, s, confNewKey(t, "one", confBase))
	k2 := confCreate(t, s, confNewKey(t, "two", confBase.Add(time.Hour)))
	gone := confCreate(t, s, confNewKey(t, "gone", confBase.Add(2*time.Hour)))
	updated, err := s.UpdateKey(ctx, k2.ID, func(k *Key) error { k.Permissions = verifier.PermAdmin; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteKey(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	used := confBase.Add(3 * time.Hour)
	if err := s.TouchKeys(ctx, map[string]time.Time{k1.ID: used}); err != nil {
		t.Fatal(err)
	}
	sec, err := s.Secret(ctx, func() (Secret, error) {
		return Secret{ID: "sec_1", Key: bytes.Repeat([]byte{7}, 32), CreatedAt: confBase}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want1 := confGet(t, s, k1.ID)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = OpenBolt(path, time.Second)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if !confTimeEqual(want1.LastUsedAt, &used) {
		t.Errorf("LastUsedAt before reopen = %v, want %v", want1.LastUsedAt, used)
	}
	for _, want := range []*Key{want1, updated} {
		if d := confDiff(confGet(t, s, want.ID), want); d != "" {
			t.Errorf("after reopen, GetKey(%s): %s", want.Name, d)
		}
		if !confDigestTaken(t, s, want.Digest) {
			t.Errorf("after reopen, the digest of %s is free", want.Name)
		}
	}
	if _, err := s.GetKey(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted key came back after reopen (err = %v)", err)
	}
	if confDigestTaken(t, s, gone.Digest) {
		t.Error("deleted key's digest came back after reopen")
	}
	list, err := s.ListKeys(ctx)
	if err != nil || len(list) != 2 || list[0].ID != k1.ID || list[1].ID != k2.ID {
		t.Errorf("ListKeys after reopen = %v, %v", list, err)
	}
	got, err := s.Secret(ctx, func() (Secret, error) { return Secret{}, errors.New("secret was lost") })
	if err != nil || got.ID != sec.ID || !bytes.Equal(got.Key, sec.Key) || !got.CreatedAt.Equal(sec.CreatedAt) {
		t.Errorf("Secret after reopen = %+v, %v; want %+v", got, err, sec)
	}
	// Rev continues from the stored value.
	again, err := s.UpdateKey(ctx, k2.ID, func(*Key) error { return nil })
	if err != nil || again.Rev != updated.Rev+1 {
		t.Errorf("UpdateKey after reopen: rev %v, %v; want %d", again, err, updated.Rev+1)
	}
}

func TestBoltSecondOpenFailsWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signet.db")
	first, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	k := confCreate(t, first, confNewKey(t, "held", confBase))

	second, err := OpenBolt(path, 200*time.Millisecond)
	if err == nil {
		second.Close()
		t.Fatal("second OpenBolt of a locked file succeeded")
	}
	if second != nil {
		t.Errorf("failed OpenBolt returned a store")
	}
	if !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should say the file %s is locked", err, path)
	}
	// The failed attempt did not disturb the first handle.
	if got := confGet(t, first, k.ID); got.Name != "held" {
		t.Errorf("first handle reads %q", got.Name)
	}

	// Once the first handle is closed the file opens again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := OpenBolt(path, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("OpenBolt after the lock was released: %v", err)
	}
	defer third.Close()
	confGet(t, third, k.ID)
}

func TestBoltOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a bolt file "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"garbage file":           garbage,
		"directory":              dir,
		"parent is a plain file": filepath.Join(notDir, "signet.db"),
	} {
		s, err := OpenBolt(path, 200*time.Millisecond)
		if err == nil {
			s.Close()
			t.Errorf("%s: OpenBolt(%q) succeeded", name, path)
		}
	}
}

func TestBoltAfterClose(t *testing.T) {
	s, err := OpenBolt(filepath.Join(t.TempDir(), "signet.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	testStoreAfterClose(t, s)
}
