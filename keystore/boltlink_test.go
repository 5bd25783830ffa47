package keystore

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltLinkEntries counts the entries of each ledger bucket.
func boltLinkEntries(t testing.TB, s *BoltStore) map[string]int {
	t.Helper()
	n := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range linkBuckets {
			n[string(b)] = tx.Bucket(b).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// boltLinkTotal is the number of entries in every ledger bucket.
func boltLinkTotal(t testing.TB, s *BoltStore) int {
	total := 0
	for _, n := range boltLinkEntries(t, s) {
		total += n
	}
	return total
}

// TestBoltLinkSweep: the sweep deletes each record once its lifetime has
// ended, with every index entry and client record, and nothing else.
func TestBoltLinkSweep(t *testing.T) {
	ctx := context.Background()
	s := boltOpen(t)
	now := time.Now()
	key := confLinkKeyID(t)
	l := confNewLink(t, "/s/a.txt", now, now.Add(100*time.Millisecond))
	l.KeyID, l.User = key, "sam"
	confCreateLink(t, s, l)
	if _, _, err := s.UseLink(ctx, l.ID, 0, "192.0.2.1", false, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	shortened := confCreateLink(t, s, confNewLink(t, "/s/shortened/", now, now.Add(time.Hour)))
	if _, err := s.SetLinkExpiry(ctx, shortened.ID, now, now); err != nil {
		t.Fatal(err)
	}
	live := confNewLink(t, "/s/live.txt", now, now.Add(time.Hour))
	live.KeyID, live.User = key, "sam"
	confCreateLink(t, s, live)
	before := boltLinkEntries(t, s)
	want := map[string]int{"links": 3, "links_by_time": 3, "links_by_key": 2, "links_by_user": 2, "links_by_path": 3,
		"links_by_expiry": 3, "links_moved": 1, "link_clients": 1}
	for b, n := range want {
		if before[b] != n {
			t.Errorf("bucket %s holds %d entries, want %d", b, before[b], n)
		}
	}
	if n, err := s.sweepLinks(ctx, now); err != nil || n != 0 {
		t.Errorf("sweep before any expiry = %d, %v; want 0", n, err)
	}
	n, err := s.sweepLinks(ctx, l.ExpiresAt)
	if err != nil || n != 1 {
		t.Fatalf("sweep at the first expiry = %d, %v; want 1", n, err)
	}
	after := boltLinkEntries(t, s)
	want = map[string]int{"links": 2, "links_by_time": 2, "links_by_key": 1, "links_by_user": 1, "links_by_path": 2,
		"links_by_expiry": 2, "links_moved": 1, "link_clients": 0}
	for b, n := range want {
		if after[b] != n {
			t.Errorf("after the sweep bucket %s holds %d entries, want %d", b, after[b], n)
		}
	}
	if list, _, err := s.ListLinks(ctx, LinkFilter{KeyID: key}, "", 10, now); err != nil || len(list) != 1 || list[0].ID != live.ID {
		t.Errorf("ListLinks(key) after the sweep = %v, %v", confLinkIDs(list), err)
	}
	// The shortened record stays until its token's expiry, reported.
	if list, err := s.ListLinkExpiries(ctx, now); err != nil || len(list) != 1 || list[0].ID != shortened.ID {
		t.Errorf("ListLinkExpiries = %v, %v", list, err)
	}
	if n, err := s.sweepLinks(ctx, shortened.SignedExpiresAt); err != nil || n != 2 {
		t.Errorf("sweep at the token's expiry = %d, %v; want 2", n, err)
	}
	if total := boltLinkTotal(t, s); total != 0 {
		t.Errorf("%d ledger entries left after everything expired: %v", total, boltLinkEntries(t, s))
	}
}

// TestBoltLinkSweepBatches: a sweep deletes more records than one
// transaction takes.
func TestBoltLinkSweepBatches(t *testing.T) {
	ctx := context.Background()
	s := boltOpen(t)
	now := time.Now()
	links := make([]*Link, boltSweepBatch+10)
	for i := range links {
		links[i] = confNewLink(t, "/b/x.txt", now, now.Add(time.Hour))
	}
	boltFillLinks(t, s, links)
	if n, err := s.sweepLinks(ctx, now.Add(time.Hour)); err != nil || n != len(links) {
		t.Errorf("sweep = %d, %v; want %d", n, err, len(links))
	}
	if total := boltLinkTotal(t, s); total != 0 {
		t.Errorf("%d entries left", total)
	}
}

// TestBoltLinkSweepAtOpen: a file whose records expired while no process
// had it open is swept when it opens (in the background), and again every
// interval; Close stops the sweep.
func TestBoltLinkSweepAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signet.db")
	s, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	confCreateLink(t, s, confNewLink(t, "/o/a.txt", now, now.Add(50*time.Millisecond)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the record to expire", func() bool { return time.Now().After(now.Add(60 * time.Millisecond)) })
	old := linkSweepInterval
	linkSweepInterval = 20 * time.Millisecond
	s, err = OpenBolt(path, time.Second)
	linkSweepInterval = old
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sweep at open", func() bool { return boltLinkTotal(t, s) == 0 })
	// And periodically.
	confCreateLink(t, s, confNewLink(t, "/o/b.txt", time.Now(), time.Now().Add(50*time.Millisecond)))
	waitFor(t, "the periodic sweep", func() bool { return boltLinkTotal(t, s) == 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if sweepers := goroutinesIn("(*BoltStore).sweepLoop"); sweepers != 0 {
		t.Errorf("%d sweep goroutines run after Close", sweepers)
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), fn)
}

// boltFillLinks stores links in large transactions, with the writes
// CreateLink makes (for tests and benchmarks that need many records).
func boltFillLinks(t testing.TB, s *BoltStore, links []*Link) {
	t.Helper()
	const perTx = 20_000
	for start := 0; start < len(links); start += perTx {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, l := range links[start:min(start+perTx, len(links))] {
				st := storedLink(l)
				st.Rev = 1
				if err := putLinkInTx(tx, st); err != nil {
					return err
				}
				if err := boltPutIndexes(tx, st); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
