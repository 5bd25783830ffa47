package keystore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The link-ledger part of the store contract (testStoreConformance runs
// it). Times are relative to the clock: stores refuse records that have
// already expired and drop them (Redis by TTL) once their lifetime ends.

// confLinkNow is the clock in whole seconds, as links carry it.
func confLinkNow() time.Time { return time.Now().Truncate(time.Second).UTC() }

// confNewLink returns a fresh, valid ledger record for path (a folder if
// it ends in "/"), created at created and expiring (in force and in its
// token) at exp.
func confNewLink(t testing.TB, path string, created, exp time.Time) *Link {
	t.Helper()
	return &Link{
		ID:              confURLID(t),
		Path:            path,
		Folder:          strings.HasSuffix(path, "/"),
		CreatedAt:       created,
		ExpiresAt:       exp,
		SignedExpiresAt: exp,
	}
}

// confCreateLink stores l or fails the test.
func confCreateLink(t testing.TB, s interface {
	CreateLink(context.Context, *Link) error
}, l *Link) *Link {
	t.Helper()
	if err := s.CreateLink(context.Background(), l); err != nil {
		t.Fatalf("CreateLink(%s %s): %v", l.ID, l.Path, err)
	}
	return l
}

// confGetLink returns the stored record id (live at now) or fails the test.
func confGetLink(t testing.TB, s Store, id string, now time.Time) *Link {
	t.Helper()
	l, err := s.GetLink(context.Background(), id, now)
	if err != nil {
		t.Fatalf("GetLink(%s): %v", id, err)
	}
	return l
}

// confLinkDiff describes how two ledger records differ, or returns "".
func confLinkDiff(got, want *Link) string { return confRecordDiff(got, want) }

// confLinkIDs returns the ids of links, in order.
func confLinkIDs(links []*Link) []string {
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.ID
	}
	return ids
}

// confListAll pages through ListLinks with limit and returns every record
// and the number of pages.
func confListAll(t testing.TB, s Store, f LinkFilter, limit int, now time.Time) ([]*Link, int) {
	t.Helper()
	var all []*Link
	cursor, pages := "", 0
	for {
		page, next, err := s.ListLinks(context.Background(), f, cursor, limit, now)
		if err != nil {
			t.Fatalf("ListLinks(%+v, page %d): %v", f, pages+1, err)
		}
		pages++
		if len(page) > limit {
			t.Fatalf("ListLinks returned %d records, limit %d", len(page), limit)
		}
		if next != "" && len(page) != limit {
			t.Fatalf("ListLinks returned a short page (%d of %d) with a next cursor", len(page), limit)
		}
		all = append(all, page...)
		if next == "" {
			return all, pages
		}
		if pages > 10_000 {
			t.Fatal("ListLinks never ends")
		}
		cursor = next
	}
}

// confWantOrder returns the ids of links in the listing order: newest
// first (to the millisecond), then by id, both descending.
func confWantOrder(links []*Link) []string {
	sorted := slices.Clone(links)
	slices.SortFunc(sorted, func(a, b *Link) int {
		if c := b.CreatedAt.Truncate(time.Millisecond).Compare(a.CreatedAt.Truncate(time.Millisecond)); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return confLinkIDs(sorted)
}

// confLinkKeyID returns a fresh key id.
func confLinkKeyID(t testing.TB) string {
	t.Helper()
	id, err := NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func confLinks(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("LinkCreateAndGet", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		used := now.Add(-time.Minute)
		l := &Link{
			ID: confURLID(t), Path: "/alice/reports/q1.pdf", KeyID: confLinkKeyID(t), User: "alice",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(2 * time.Hour), SignedExpiresAt: now.Add(2 * time.Hour),
			Policy: LinkPolicy{DownloadName: "Q1 report.pdf", Inline: true, ContentType: "application/pdf",
				MaxUses: 5, ClientCIDR: "192.0.2.0/24"},
			Uses: 2, LastUsed: &used,
		}
		want := l.Clone()
		confCreateLink(t, s, l)
		if l.Rev != 1 {
			t.Errorf("CreateLink set Rev %d, want 1", l.Rev)
		}
		want.Rev = 1
		got := confGetLink(t, s, l.ID, now)
		if d := confLinkDiff(got, want); d != "" {
			t.Errorf("GetLink: %s", d)
		}
		// Live until ExpiresAt, by the now given.
		if _, err := s.GetLink(ctx, l.ID, l.ExpiresAt.Add(-time.Millisecond)); err != nil {
			t.Errorf("GetLink just before ExpiresAt: %v", err)
		}
		for _, at := range []time.Time{l.ExpiresAt, l.ExpiresAt.Add(time.Hour)} {
			if _, err := s.GetLink(ctx, l.ID, at); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetLink at %v (ExpiresAt %v): err = %v, want ErrNotFound", at, l.ExpiresAt, err)
			}
		}
		if _, err := s.GetLink(ctx, confURLID(t), now); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetLink(unknown) err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetLink(ctx, "not an id", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetLink(malformed) err = %v, want ErrNotFound", err)
		}

		// A folder link, and a record without key or uses.
		folder := confCreateLink(t, s, confNewLink(t, "/shared/movie/", now, now.Add(time.Hour)))
		fw := folder.Clone()
		if d := confLinkDiff(confGetLink(t, s, folder.ID, now), fw); d != "" {
			t.Errorf("GetLink(folder): %s", d)
		}

		// Times are kept to the millisecond.
		precise := confNewLink(t, "/alice/precise.txt", now.Add(123456789*time.Nanosecond), now.Add(time.Hour+987654321*time.Nanosecond))
		precise.SignedExpiresAt = precise.ExpiresAt.Add(time.Minute)
		confCreateLink(t, s, precise)
		p := confGetLink(t, s, precise.ID, now)
		if !p.CreatedAt.Equal(now.Add(123*time.Millisecond)) || !p.ExpiresAt.Equal(now.Add(time.Hour+987*time.Millisecond)) ||
			!p.SignedExpiresAt.Equal(now.Add(time.Hour+time.Minute+987*time.Millisecond)) {
			t.Errorf("times = %v %v %v, want them to the millisecond", p.CreatedAt, p.ExpiresAt, p.SignedExpiresAt)
		}
	})

	t.Run("LinkExists", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		orig := confCreateLink(t, s, confNewLink(t, "/a/one.txt", now, now.Add(time.Hour)))
		dup := confNewLink(t, "/b/two.txt", now, now.Add(2*time.Hour))
		dup.ID = orig.ID
		if err := s.CreateLink(ctx, dup); !errors.Is(err, ErrExists) {
			t.Errorf("CreateLink(duplicate id) err = %v, want ErrExists", err)
		}
		if got := confGetLink(t, s, orig.ID, now); got.Path != "/a/one.txt" || !got.ExpiresAt.Equal(orig.ExpiresAt) {
			t.Errorf("the duplicate changed the record: %+v", got)
		}
		if list, _ := confListAll(t, s, LinkFilter{}, 10, now); len(list) != 1 {
			t.Errorf("ListLinks = %d records, want 1", len(list))
		}
	})

	t.Run("LinkInvalid", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := confLinkNow()
		bad := map[string]func(*Link){
			"empty id":             func(l *Link) { l.ID = "" },
			"short id":             func(l *Link) { l.ID = "abc" },
			"id, trailing bits":    func(l *Link) { l.ID = confLenientURLID },
			"relative path":        func(l *Link) { l.Path = "alice/a.txt" },
			"dot segment":          func(l *Link) { l.Path = "/alice/../a.txt" },
			"long path":            func(l *Link) { l.Path = "/" + strings.Repeat("a", maxLinkPathLen) },
			"folder without slash": func(l *Link) { l.Folder = true },
			"folder not clean":     func(l *Link) { l.Folder, l.Path = true, "/a/*/" },
			"bad key id":           func(l *Link) { l.KeyID = "key_UPPER" },
			"bad user":             func(l *Link) { l.KeyID, l.User = confLinkKeyID(t), "Alice" },
			"user without key":     func(l *Link) { l.User = "alice" },
			"no created_at":        func(l *Link) { l.CreatedAt = time.Time{} },
			"no expires_at":        func(l *Link) { l.ExpiresAt = time.Time{} },
			"no signed expiry":     func(l *Link) { l.SignedExpiresAt = time.Time{} },
			"negative uses":        func(l *Link) { l.Uses = -1 },
			"negative max_uses":    func(l *Link) { l.Policy.MaxUses = -1 },
			"bad client_cidr":      func(l *Link) { l.Policy.ClientCIDR = "192.0.2.1/33" },
			"control in name":      func(l *Link) { l.Policy.DownloadName = "a\nb" },
			"long content type":    func(l *Link) { l.Policy.ContentType = strings.Repeat("x", maxLinkPolicyLen+1) },
			"already expired":      func(l *Link) { l.ExpiresAt = now.Add(-time.Second) },
			"expires now":          func(l *Link) { l.ExpiresAt = now.Add(-time.Millisecond) },
		}
		for what, spoil := range bad {
			l := confNewLink(t, "/alice/a.txt", now, now.Add(time.Hour))
			spoil(l)
			err := s.CreateLink(ctx, l)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateLink(%s) = %v, want ErrInvalid", what, err)
			}
			if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrExists) {
				t.Errorf("CreateLink(%s) = %v: a bad record is neither a backend failure nor a duplicate", what, err)
			}
		}
		// A link whose expiry in force is before its creation (shortened
		// at once) is valid while it has not passed.
		odd := confNewLink(t, "/alice/a.txt", now.Add(2*time.Hour), now.Add(time.Hour))
		if err := odd.Validate(); err != nil {
			t.Errorf("Validate(expires before created) = %v, want nil", err)
		}
		if list, _ := confListAll(t, s, LinkFilter{}, 10, now); len(list) != 0 {
			t.Errorf("ListLinks after invalid records = %d records, want none", len(list))
		}
		// Refused records are not changes.
		moved := confNewLink(t, "/alice/a.txt", now, now.Add(time.Hour))
		moved.SignedExpiresAt = now.Add(2 * time.Hour)
		confCreateLink(t, s, moved)
		if c := feed.next(t); c.Kind != LinkExpiryChanged || c.Link == nil || c.Link.ID != moved.ID {
			t.Errorf("first change = %+v, want LinkExpiryChanged of the valid record", c)
		}
	})

	t.Run("LinkListOrder", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		var links []*Link
		// Created out of order; several share a creation time (to the
		// millisecond, and below it).
		for i, off := range []time.Duration{3, 1, 0, 3, 2, 1, 5, 3, 3, 0} {
			created := now.Add(-time.Hour + off*time.Second)
			if i == 7 {
				created = created.Add(300 * time.Microsecond) // the same millisecond
			}
			links = append(links, confCreateLink(t, s, confNewLink(t, fmt.Sprintf("/o/%d.txt", i), created, now.Add(time.Hour))))
		}
		list, _, err := s.ListLinks(ctx, LinkFilter{}, "", 100, now)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := confLinkIDs(list), confWantOrder(links); !slices.Equal(got, want) {
			t.Errorf("ListLinks order:\n got %v\nwant %v", got, want)
		}
		if d := confLinkDiff(list[0], confGetLink(t, s, list[0].ID, now)); d != "" {
			t.Errorf("a listed record differs from GetLink's: %s", d)
		}
	})

	t.Run("LinkListHidesExpired", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		short := confCreateLink(t, s, confNewLink(t, "/x/short.txt", now, now.Add(time.Hour)))
		long := confCreateLink(t, s, confNewLink(t, "/x/long.txt", now.Add(-time.Second), now.Add(2*time.Hour)))
		for _, tt := range []struct {
			at   time.Time
			want []string
		}{
			{now, []string{short.ID, long.ID}},
			{short.ExpiresAt.Add(-time.Millisecond), []string{short.ID, long.ID}},
			{short.ExpiresAt, []string{long.ID}},
			{long.ExpiresAt, nil},
		} {
			for _, f := range []LinkFilter{{}, {PathPrefix: "/x/"}} {
				list, next, err := s.ListLinks(ctx, f, "", 10, tt.at)
				if err != nil || next != "" || !slices.Equal(confLinkIDs(list), tt.want) {
					t.Errorf("ListLinks(%+v, at %v) = %v, %q, %v; want %v", f, tt.at.Sub(now), confLinkIDs(list), next, err, tt.want)
				}
			}
		}
	})

	t.Run("LinkFilters", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		k1, k2, k3 := confLinkKeyID(t), confLinkKeyID(t), confLinkKeyID(t)
		type spec struct {
			path, key, user string
		}
		specs := []spec{
			{"/alice/a.txt", k1, "alice"},
			{"/alice/reports/", k1, "alice"},
			{"/alice/reports/q1.pdf", k2, "alice"},
			{"/alice", k2, "alice"},
			{"/alice2/b.txt", k3, "alice2"},
			{"/bob/c.txt", k3, "alice2"},
			{"/bob/d.txt", "", ""},
			{"/alice/e.txt", "", ""},
			{"/", k1, "alice"},
		}
		var links []*Link
		for i, sp := range specs {
			l := confNewLink(t, sp.path, now.Add(time.Duration(i)*time.Second), now.Add(time.Hour))
			l.KeyID, l.User = sp.key, sp.user
			links = append(links, confCreateLink(t, s, l))
		}
		pick := func(idx ...int) []*Link {
			var out []*Link
			for _, i := range idx {
				out = append(out, links[i])
			}
			return out
		}
		for _, tt := range []struct {
			f    LinkFilter
			want []*Link
		}{
			{LinkFilter{}, links},
			{LinkFilter{PathPrefix: "/"}, links},
			{LinkFilter{KeyID: k1}, pick(0, 1, 8)},
			{LinkFilter{KeyID: k2}, pick(2, 3)},
			{LinkFilter{KeyID: confLinkKeyID(t)}, nil},
			{LinkFilter{User: "alice"}, pick(0, 1, 2, 3, 8)},
			{LinkFilter{User: "alice2"}, pick(4, 5)},
			{LinkFilter{User: "carol"}, nil},
			{LinkFilter{PathPrefix: "/alice"}, pick(0, 1, 2, 3, 7)},
			{LinkFilter{PathPrefix: "/alice/"}, pick(0, 1, 2, 3, 7)},
			{LinkFilter{PathPrefix: "/alice/reports"}, pick(1, 2)},
			{LinkFilter{PathPrefix: "/alice/reports/"}, pick(1, 2)},
			{LinkFilter{PathPrefix: "/alice/reports/q1.pdf"}, pick(2)},
			{LinkFilter{PathPrefix: "/alice/a"}, nil}, // segment boundaries, not bytes
			{LinkFilter{PathPrefix: "/alice2/"}, pick(4)},
			{LinkFilter{PathPrefix: "/bob"}, pick(5, 6)},
			{LinkFilter{PathPrefix: "/nobody/"}, nil},
			{LinkFilter{KeyID: k1, User: "alice"}, pick(0, 1, 8)},
			{LinkFilter{KeyID: k1, User: "alice2"}, nil},
			{LinkFilter{KeyID: k1, PathPrefix: "/alice/"}, pick(0, 1)},
			{LinkFilter{User: "alice2", PathPrefix: "/bob/"}, pick(5)},
			{LinkFilter{KeyID: k3, User: "alice2", PathPrefix: "/alice2"}, pick(4)},
		} {
			// Every page size: the filters hold across pages.
			for _, limit := range []int{1, 2, 100} {
				got, _ := confListAll(t, s, tt.f, limit, now)
				if want := confWantOrder(tt.want); !slices.Equal(confLinkIDs(got), want) {
					t.Errorf("ListLinks(%+v, limit %d) = %v, want %v", tt.f, limit, confLinkIDs(got), want)
				}
			}
		}
		for _, f := range []LinkFilter{{PathPrefix: "alice/"}, {PathPrefix: "/a/../b/"}, {KeyID: "key_UPPER"}, {User: "Alice Smith"}} {
			if _, _, err := s.ListLinks(ctx, f, "", 10, now); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListLinks(%+v) err = %v, want ErrInvalid", f, err)
			}
		}
	})

	t.Run("LinkPathFilterDense", func(t *testing.T) {
		// More records under the prefix than the path index is read for:
		// the listing is walked in time order instead, with the same
		// result.
		s := open(t)
		old := linkPathScanMax
		linkPathScanMax = 3
		defer func() { linkPathScanMax = old }()
		now := confLinkNow()
		var want []*Link
		for i := range 12 {
			p := fmt.Sprintf("/dense/%d.txt", i)
			if i%3 == 0 {
				p = fmt.Sprintf("/other/%d.txt", i)
			}
			l := confCreateLink(t, s, confNewLink(t, p, now.Add(time.Duration(i%5)*time.Second), now.Add(time.Hour)))
			if i%3 != 0 {
				want = append(want, l)
			}
		}
		for _, limit := range []int{1, 3, 10} {
			got, _ := confListAll(t, s, LinkFilter{PathPrefix: "/dense/"}, limit, now)
			if !slices.Equal(confLinkIDs(got), confWantOrder(want)) {
				t.Errorf("ListLinks(/dense/, limit %d) = %v, want %v", limit, confLinkIDs(got), confWantOrder(want))
			}
		}
	})

	t.Run("LinkPagination", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		key := confLinkKeyID(t)
		var links []*Link
		for i := range 25 {
			l := confNewLink(t, fmt.Sprintf("/p/%02d.txt", i), now.Add(-time.Hour+time.Duration(i/2)*time.Second), now.Add(time.Hour))
			l.KeyID, l.User = key, "pat"
			links = append(links, confCreateLink(t, s, l))
		}
		want := confWantOrder(links)
		for _, f := range []LinkFilter{{}, {KeyID: key}, {User: "pat"}, {PathPrefix: "/p/"}} {
			got, pages := confListAll(t, s, f, 10, now)
			if pages != 3 || !slices.Equal(confLinkIDs(got), want) {
				t.Errorf("ListLinks(%+v) in pages of 10: %d pages %v; want 3 pages %v", f, pages, confLinkIDs(got), want)
			}
		}
		// An exact fit ends with an empty next cursor, not an empty page.
		page, next, err := s.ListLinks(ctx, LinkFilter{}, "", 25, now)
		if err != nil || len(page) != 25 || next != "" {
			t.Errorf("ListLinks(limit 25 of 25) = %d records, next %q, %v; want 25 and no next", len(page), next, err)
		}
		// Limits.
		for _, limit := range []int{0, -1, MaxLinkListLimit + 1} {
			if _, _, err := s.ListLinks(ctx, LinkFilter{}, "", limit, now); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListLinks(limit %d) err = %v, want ErrInvalid", limit, err)
			}
		}
		if _, _, err := s.ListLinks(ctx, LinkFilter{}, "", MaxLinkListLimit, now); err != nil {
			t.Errorf("ListLinks(limit %d): %v", MaxLinkListLimit, err)
		}
		// Cursors are opaque: garbage is refused.
		_, good, err := s.ListLinks(ctx, LinkFilter{}, "", 10, now)
		if err != nil || good == "" {
			t.Fatalf("ListLinks: next %q, %v", good, err)
		}
		for _, c := range []string{"garbage", "!!!!", good[:len(good)-1], good + "A", "AAAA", strings.Repeat("A", len(good)),
			good[:len(good)-1] + "B"} {
			if c == good {
				continue
			}
			if _, _, err := s.ListLinks(ctx, LinkFilter{}, c, 10, now); !errors.Is(err, ErrInvalid) {
				t.Errorf("ListLinks(cursor %q) err = %v, want ErrInvalid", c, err)
			}
		}
	})

	t.Run("LinkPaginationStable", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		key := confLinkKeyID(t)
		var links []*Link
		for i := range 30 {
			l := confNewLink(t, fmt.Sprintf("/s/%02d.txt", i), now.Add(-time.Hour+time.Duration(i/3)*time.Second), now.Add(time.Hour))
			l.KeyID = key
			links = append(links, confCreateLink(t, s, l))
		}
		want := confWantOrder(links)
		for _, f := range []LinkFilter{{}, {KeyID: key}, {PathPrefix: "/s/"}} {
			// While paging, other writers add newer records (each newer
			// than every record before it, as the clock makes them), and
			// one record of a later page expires.
			var (
				stop    atomic.Bool
				wg      sync.WaitGroup
				created atomic.Int64
			)
			for range 4 {
				wg.Go(func() {
					for !stop.Load() {
						at := now.Add(time.Minute + time.Duration(created.Add(1))*time.Millisecond)
						l := confNewLink(t, "/s/new.txt", at, now.Add(time.Hour))
						l.KeyID = key
						if err := s.CreateLink(ctx, l); err != nil {
							t.Errorf("concurrent CreateLink: %v", err)
							return
						}
					}
				})
			}
			waitCreated := func(n int64) {
				deadline := time.Now().Add(confWait)
				for created.Load() < n && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond) // polling a condition with a deadline
				}
			}
			var got []string
			seen := map[string]bool{}
			cursor := ""
			expiring := want[25]
			for page := 0; ; page++ {
				waitCreated(int64(4 * (page + 1)))
				list, next, err := s.ListLinks(ctx, f, cursor, 10, now)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range list {
					if seen[l.ID] {
						t.Errorf("%+v: page %d repeats %s", f, page+1, l.ID)
					}
					seen[l.ID] = true
					if l.Path != "/s/new.txt" {
						got = append(got, l.ID)
					}
				}
				if page == 0 {
					if _, err := s.SetLinkExpiry(ctx, expiring, now, now); err != nil {
						t.Fatal(err)
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
			stop.Store(true)
			wg.Wait()
			wantNow := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return id == expiring })
			if !slices.Equal(got, wantNow) {
				t.Errorf("%+v: paging under concurrent writes:\n got %v\nwant %v", f, got, wantNow)
			}
			// Restore for the next filter.
			if _, err := s.GetLink(ctx, expiring, now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("the record shortened to now is still live: %v", err)
			}
			want = wantNow
			if created.Load() == 0 {
				t.Error("no concurrent record was created")
			}
		}
	})

	t.Run("SetLinkExpiry", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := confLinkNow()
		signed := now.Add(time.Hour)
		l := confCreateLink(t, s, confNewLink(t, "/m/a.txt", now, signed))
		other := confCreateLink(t, s, confNewLink(t, "/m/b.txt", now, signed))
		want := l.Clone()
		expiries := func() map[string]LinkExpiry {
			t.Helper()
			list, err := s.ListLinkExpiries(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]LinkExpiry{}
			for _, e := range list {
				if _, dup := m[e.ID]; dup {
					t.Errorf("ListLinkExpiries lists %s twice", e.ID)
				}
				m[e.ID] = e
			}
			return m
		}
		if len(expiries()) != 0 {
			t.Error("ListLinkExpiries lists records whose expiry was never moved")
		}
		for i, exp := range []time.Time{
			signed.Add(24 * time.Hour),    // longer
			signed.Add(-30 * time.Minute), // shorter
			signed,                        // back to the token's
			now.Add(time.Second),          // shorter still
			now,                           // now: it expires at once
		} {
			got, err := s.SetLinkExpiry(ctx, l.ID, exp, now)
			if err != nil {
				t.Fatalf("SetLinkExpiry #%d: %v", i, err)
			}
			want.ExpiresAt, want.Rev = exp, want.Rev+1
			if d := confLinkDiff(got, want); d != "" {
				t.Errorf("SetLinkExpiry #%d returned: %s", i, d)
			}
			c := feed.next(t)
			if c.Kind != LinkExpiryChanged || c.Link == nil || c.Link.ID != l.ID || !c.Link.ExpiresAt.Equal(exp) ||
				!c.Link.SignedExpiresAt.Equal(signed) || c.Link.Rev != want.Rev {
				t.Errorf("SetLinkExpiry #%d: change = %+v, want LinkExpiryChanged %s to %v rev %d", i, c, l.ID, exp, want.Rev)
			}
			live, err := s.GetLink(ctx, l.ID, now)
			switch {
			case exp.After(now) && err != nil:
				t.Errorf("GetLink after #%d: %v", i, err)
			case exp.After(now):
				if d := confLinkDiff(live, want); d != "" {
					t.Errorf("GetLink after #%d: %s", i, d)
				}
			case !errors.Is(err, ErrNotFound):
				t.Errorf("GetLink after shortening to now (#%d): err = %v, want ErrNotFound", i, err)
			}
			e, listed := expiries()[l.ID]
			if moved := !exp.Equal(signed); listed != moved {
				t.Errorf("after #%d: ListLinkExpiries lists it %v, want %v", i, listed, moved)
			} else if moved && (!e.ExpiresAt.Equal(exp) || !e.SignedExpiresAt.Equal(signed) || e.Rev != want.Rev) {
				t.Errorf("after #%d: ListLinkExpiries = %+v, want %v (signed %v) rev %d", i, e, exp, signed, want.Rev)
			}
		}
		// Expired at now: the record can no longer be moved, but it is
		// still reported as shortened until its token expires.
		if _, err := s.SetLinkExpiry(ctx, l.ID, signed, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLinkExpiry of an expired record: err = %v, want ErrNotFound", err)
		}
		if _, ok := expiries()[l.ID]; !ok {
			t.Error("a link shortened to now is no longer in ListLinkExpiries before its token expires")
		}
		if list, err := s.ListLinkExpiries(ctx, signed); err != nil || len(list) != 0 {
			t.Errorf("ListLinkExpiries at the token's expiry = %v, %v; want none", list, err)
		}
		if list, _, err := s.ListLinks(ctx, LinkFilter{}, "", 10, now); err != nil || !slices.Equal(confLinkIDs(list), []string{other.ID}) {
			t.Errorf("ListLinks = %v, %v; want only %s", confLinkIDs(list), err, other.ID)
		}
		// Moving the expiry of an unknown record, or at a now after its
		// expiry, is ErrNotFound, and neither is a change.
		if _, err := s.SetLinkExpiry(ctx, confURLID(t), signed, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLinkExpiry(unknown) err = %v, want ErrNotFound", err)
		}
		if _, err := s.SetLinkExpiry(ctx, other.ID, signed.Add(time.Hour), signed); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLinkExpiry at a now past ExpiresAt: err = %v, want ErrNotFound", err)
		}
		if got, err := s.SetLinkExpiry(ctx, other.ID, signed.Add(time.Hour), now); err != nil || got.Rev != 2 {
			t.Fatalf("SetLinkExpiry(other) = %+v, %v", got, err)
		}
		if c := feed.next(t); c.Kind != LinkExpiryChanged || c.Link == nil || c.Link.ID != other.ID {
			t.Errorf("change = %+v, want the LinkExpiryChanged of %s (failed moves are not changes)", c, other.ID)
		}
		// A longer expiry outlives the token: the record is live past it.
		if _, err := s.GetLink(ctx, other.ID, signed.Add(30*time.Minute)); err != nil {
			t.Errorf("GetLink past the token's expiry of an extended link: %v", err)
		}
		if _, ok := expiries()[other.ID]; !ok {
			t.Error("an extended link is not in ListLinkExpiries")
		}
	})

	t.Run("LinkCreatedMoved", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := confLinkNow()
		l := confNewLink(t, "/c/a.txt", now, now.Add(time.Hour))
		l.SignedExpiresAt = now.Add(2 * time.Hour)
		confCreateLink(t, s, l)
		c := feed.next(t)
		if c.Kind != LinkExpiryChanged || c.Link == nil || c.Link.ID != l.ID || c.Link.Rev != 1 ||
			!c.Link.ExpiresAt.Equal(l.ExpiresAt) || !c.Link.SignedExpiresAt.Equal(l.SignedExpiresAt) {
			t.Errorf("CreateLink(moved): change = %+v", c)
		}
		plain := confCreateLink(t, s, confNewLink(t, "/c/b.txt", now, now.Add(time.Hour)))
		list, err := s.ListLinkExpiries(ctx, now)
		if err != nil || len(list) != 1 || list[0].ID != l.ID {
			t.Errorf("ListLinkExpiries = %+v, %v; want only %s", list, err, l.ID)
		}
		// Creating a record whose expiry is the token's is not a change.
		if _, err := s.SetLinkExpiry(ctx, plain.ID, now.Add(3*time.Hour), now); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Link == nil || c.Link.ID != plain.ID {
			t.Errorf("change = %+v, want the fence LinkExpiryChanged of %s", c, plain.ID)
		}
	})

	t.Run("TouchLinks", func(t *testing.T) {
		s := open(t)
		feed, cancel := confSubscribe(s)
		defer cancel()
		now := confLinkNow()
		a := confCreateLink(t, s, confNewLink(t, "/t/a.txt", now, now.Add(time.Hour)))
		b := confCreateLink(t, s, confNewLink(t, "/t/b.txt", now, now.Add(time.Hour)))
		gone := confCreateLink(t, s, confNewLink(t, "/t/gone.txt", now, now.Add(time.Hour)))
		if _, err := s.SetLinkExpiry(ctx, gone.ID, now, now); err != nil {
			t.Fatal(err)
		}
		feed.next(t)
		t1, t0, t2 := now.Add(-time.Minute), now.Add(-2*time.Minute), now.Add(-30*time.Second)
		steps := []struct {
			touch        map[string]LinkUse
			uses         [2]int64
			lastA, lastB *time.Time
		}{
			{nil, [2]int64{0, 0}, nil, nil},
			{map[string]LinkUse{}, [2]int64{0, 0}, nil, nil},
			{map[string]LinkUse{a.ID: {3, t1}}, [2]int64{3, 0}, &t1, nil},
			{map[string]LinkUse{a.ID: {2, t0}, b.ID: {1, t0}}, [2]int64{5, 1}, &t1, &t0}, // never backwards
			{map[string]LinkUse{a.ID: {1, t2}, confURLID(t): {5, t2}, gone.ID: {5, t2}}, [2]int64{6, 1}, &t2, &t0},
			{map[string]LinkUse{"not an id": {1, t2}}, [2]int64{6, 1}, &t2, &t0},
		}
		for i, st := range steps {
			if err := s.TouchLinks(ctx, st.touch); err != nil {
				t.Fatalf("TouchLinks #%d: %v", i, err)
			}
			for j, tt := range []struct {
				l    *Link
				last *time.Time
			}{{a, st.lastA}, {b, st.lastB}} {
				got := confGetLink(t, s, tt.l.ID, now)
				if got.Uses != st.uses[j] || !confTimeEqual(got.LastUsed, tt.last) || got.Rev != 1 {
					t.Errorf("after TouchLinks #%d: %s uses %d last %v rev %d; want %d, %v, 1", i, tt.l.Path, got.Uses, got.LastUsed, got.Rev, st.uses[j], tt.last)
				}
			}
		}
		// Many at once.
		batch := map[string]LinkUse{}
		var many []*Link
		for i := range redisTouchBatch + 100 {
			l := confCreateLink(t, s, confNewLink(t, fmt.Sprintf("/t/many/%d", i), now, now.Add(time.Hour)))
			many = append(many, l)
			batch[l.ID] = LinkUse{int64(i%3 + 1), t2}
		}
		if err := s.TouchLinks(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for i, l := range many {
			if got := confGetLink(t, s, l.ID, now); got.Uses != int64(i%3+1) || !confTimeEqual(got.LastUsed, &t2) {
				t.Fatalf("record %d of a batch of %d: uses %d last %v", i, len(batch), got.Uses, got.LastUsed)
			}
		}
		if _, err := s.GetLink(ctx, gone.ID, now.Add(-time.Second)); err != nil {
			t.Fatalf("GetLink(gone) before its expiry: %v", err)
		} else if g := confGetLink(t, s, gone.ID, now.Add(-time.Second)); g.Uses != 0 {
			t.Errorf("TouchLinks counted %d uses of an expired record", g.Uses)
		}
		// Touches are not changes.
		if _, err := s.SetLinkExpiry(ctx, b.ID, now.Add(2*time.Hour), now); err != nil {
			t.Fatal(err)
		}
		if c := feed.next(t); c.Kind != LinkExpiryChanged || c.Link == nil || c.Link.ID != b.ID {
			t.Errorf("first change after touches = %+v, want the fence", c)
		}
	})

	t.Run("UseLink", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		l := confNewLink(t, "/u/a.zip", now, now.Add(time.Hour))
		l.Policy.MaxUses = 3
		confCreateLink(t, s, l)
		const n = 50
		var oks atomic.Int64
		confConcurrently(t, n, func() error {
			ok, uses, err := s.UseLink(ctx, l.ID, 3, "198.51.100.7", false, time.Minute, now)
			if ok {
				oks.Add(1)
			}
			if err == nil && (uses < 1 || uses > 3) {
				return fmt.Errorf("uses %d, want 1 to 3", uses)
			}
			return err
		})
		if oks.Load() != 3 {
			t.Fatalf("%d of %d concurrent UseLink calls with max 3 were allowed, want exactly 3", oks.Load(), n)
		}
		got := confGetLink(t, s, l.ID, now)
		if got.Uses != 3 || !confTimeEqual(got.LastUsed, &now) || got.Rev != 1 {
			t.Errorf("after the uses: uses %d last %v rev %d; want 3, %v, 1", got.Uses, got.LastUsed, got.Rev, now)
		}
		const grace = time.Minute
		at := func(d time.Duration) time.Time { return now.Add(d) }
		for i, st := range []struct {
			client string
			resume bool
			at     time.Time
			ok     bool
			uses   int64
		}{
			{"198.51.100.7", false, at(time.Second), false, 3},        // used up
			{"198.51.100.7", true, at(30 * time.Second), true, 3},     // resuming within grace
			{"198.51.100.7", true, at(grace), true, 3},                // exactly grace after the counted use
			{"198.51.100.7", true, at(grace + time.Second), false, 3}, // after grace: resuming did not move it
			{"203.0.113.9", true, at(time.Second), false, 3},          // never counted
		} {
			ok, uses, err := s.UseLink(ctx, l.ID, 3, st.client, st.resume, grace, st.at)
			if err != nil || ok != st.ok || uses != st.uses {
				t.Errorf("UseLink #%d (%s resume %v at +%v) = %v, %d, %v; want %v, %d", i, st.client, st.resume, st.at.Sub(now), ok, uses, err, st.ok, st.uses)
			}
		}
		// A response that was no download gives its use back, and its
		// client's right to resume with it.
		if ok, _, err := s.UseLink(ctx, l.ID, 3, "198.51.100.7", true, grace, at(time.Second)); err != nil || !ok {
			t.Fatalf("resume before the release = %v, %v", ok, err)
		}
		if err := s.ReleaseUse(ctx, l.ID, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := s.UseLink(ctx, l.ID, 3, "198.51.100.7", true, grace, at(2*time.Second)); err != nil || ok {
			t.Errorf("resume after the release = %v, %v; want false", ok, err)
		}
		if ok, uses, err := s.UseLink(ctx, l.ID, 3, "203.0.113.9", false, grace, at(time.Hour-time.Second)); err != nil || !ok || uses != 3 {
			t.Errorf("UseLink after ReleaseUse = %v, %d, %v; want true, 3", ok, uses, err)
		}
		if ok, _, err := s.UseLink(ctx, l.ID, 3, "203.0.113.9", true, grace, at(time.Hour-time.Millisecond)); err != nil || !ok {
			t.Errorf("resuming the new client's use = %v, %v; want true", ok, err)
		}
		got = confGetLink(t, s, l.ID, now)
		if want := now.Add(time.Hour - time.Second); got.Uses != 3 || !confTimeEqual(got.LastUsed, &want) {
			t.Errorf("uses %d last %v; want 3, %v (resumes count nothing)", got.Uses, got.LastUsed, want)
		}
		// Never below zero.
		for range 5 {
			if err := s.ReleaseUse(ctx, l.ID, "x"); err != nil {
				t.Fatal(err)
			}
		}
		if got := confGetLink(t, s, l.ID, now); got.Uses != 0 {
			t.Errorf("uses after 5 releases = %d, want 0", got.Uses)
		}
		// Gone or expired records.
		if _, _, err := s.UseLink(ctx, l.ID, 3, "x", false, grace, l.ExpiresAt); !errors.Is(err, ErrNotFound) {
			t.Errorf("UseLink at ExpiresAt: err = %v, want ErrNotFound", err)
		}
		if _, _, err := s.UseLink(ctx, confURLID(t), 3, "x", false, grace, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("UseLink(unknown) err = %v, want ErrNotFound", err)
		}
		if err := s.ReleaseUse(ctx, confURLID(t), "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReleaseUse(unknown) err = %v, want ErrNotFound", err)
		}
		// No limit.
		free := confCreateLink(t, s, confNewLink(t, "/u/free.zip", now, now.Add(time.Hour)))
		for i := range 5 {
			if ok, uses, err := s.UseLink(ctx, free.ID, 0, "x", false, grace, now); err != nil || !ok || uses != int64(i+1) {
				t.Errorf("UseLink(no limit) #%d = %v, %d, %v", i, ok, uses, err)
			}
		}
	})

	t.Run("LinkRecordsAreCopies", func(t *testing.T) {
		s := open(t)
		now := confLinkNow()
		used := now.Add(-time.Minute)
		l := confNewLink(t, "/copy/a.txt", now, now.Add(time.Hour))
		l.LastUsed, l.Uses = &used, 1
		confCreateLink(t, s, l)
		want := confGetLink(t, s, l.ID, now)
		mutate := func(r *Link) {
			r.Path, r.Uses, r.Policy.MaxUses = "/mutated", 99, 99
			r.ExpiresAt = r.ExpiresAt.Add(time.Hour)
			if r.LastUsed != nil {
				*r.LastUsed = r.LastUsed.Add(time.Hour)
			}
		}
		check := func(what string) {
			t.Helper()
			if d := confLinkDiff(confGetLink(t, s, l.ID, now), want); d != "" {
				t.Errorf("mutating the record from %s changed the store: %s", what, d)
			}
		}
		mutate(l)
		check("CreateLink's argument")
		mutate(confGetLink(t, s, l.ID, now))
		check("GetLink")
		list, _, err := s.ListLinks(ctx, LinkFilter{}, "", 10, now)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListLinks = %v, %v", list, err)
		}
		mutate(list[0])
		check("ListLinks")
		updated, err := s.SetLinkExpiry(ctx, want.ID, want.ExpiresAt.Add(time.Minute), now)
		if err != nil {
			t.Fatal(err)
		}
		want.ExpiresAt, want.Rev = want.ExpiresAt.Add(time.Minute), want.Rev+1
		mutate(updated)
		check("SetLinkExpiry's result")
	})
}
