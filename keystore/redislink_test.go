package keystore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-signet/signet/internal/redistest"
)

func TestRedisLinkLayout(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	rc := srv.Client()
	now := confLinkNow()
	key := confLinkKeyID(t)
	l := confNewLink(t, "/alice/a.txt", now, now.Add(time.Hour))
	l.KeyID, l.User = key, "alice"
	confCreateLink(t, s, l)
	folder := confNewLink(t, "/pub/", now, now.Add(2*time.Hour))
	folder.ExpiresAt = now.Add(30 * time.Minute) // created moved
	confCreateLink(t, s, folder)

	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{
		"{signet}:link:" + folder.ID, "{signet}:link:" + l.ID, "{signet}:links", "{signet}:links:expiry",
		"{signet}:links:key:" + key, "{signet}:links:moved", "{signet}:links:path", "{signet}:links:user:alice",
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys =\n %q\nwant\n %q", keys, want)
	}
	// A record is a small hash, a field a value, whose TTL is its
	// lifetime.
	fields := rc.HGetAll(ctx, "{signet}:link:"+l.ID).Val()
	if want := map[string]string{"p": "/alice/a.txt", "k": key, "w": "alice", "a": ms(now), "s": ms(l.SignedExpiresAt),
		"e": ms(l.ExpiresAt), "v": "1"}; !maps.Equal(fields, want) {
		t.Errorf("record fields = %q, want %q", fields, want)
	}
	if enc := rc.ObjectEncoding(ctx, "{signet}:link:"+l.ID).Val(); enc != "listpack" {
		t.Errorf("a record is encoded as a %s, want a listpack", enc)
	}
	policy := confNewLink(t, "/alice/b.txt", now, now.Add(time.Hour))
	policy.Policy = LinkPolicy{DownloadName: "b.txt", MaxUses: 2}
	confCreateLink(t, s, policy)
	if o := rc.HGet(ctx, "{signet}:link:"+policy.ID, "o").Val(); o != `{"download_name":"b.txt","max_uses":2}` {
		t.Errorf("policy field = %s", o)
	}
	keys = append(keys, "{signet}:link:"+policy.ID)
	for _, tt := range []struct {
		l    *Link
		life time.Time
	}{{l, l.ExpiresAt}, {folder, folder.SignedExpiresAt}} {
		if at := rc.PExpireTime(ctx, "{signet}:link:"+tt.l.ID).Val(); at.Milliseconds() != tt.life.UnixMilli() {
			t.Errorf("PEXPIRETIME %s = %d, want its lifetime %d", tt.l.Path, at.Milliseconds(), tt.life.UnixMilli())
		}
	}
	// The indexes never expire: the purge empties them (and Redis then
	// deletes them).
	for _, k := range keys {
		if !strings.HasPrefix(k, "{signet}:link:") && rc.PTTL(ctx, k).Val() > 0 {
			t.Errorf("index %s has a TTL", k)
		}
	}
	if m := rc.ZRange(ctx, "{signet}:links:expiry", 0, -1).Val(); !slices.Contains(m, l.ID+"\n"+key+"\nalice\n/alice/a.txt") ||
		!slices.Contains(m, folder.ID+"\n\n\n/pub/") {
		t.Errorf("expiry index = %q", m)
	}
	if m := rc.ZRange(ctx, "{signet}:links:path", 0, -1).Val(); !slices.Equal(m, []string{"/alice/a.txt\x00" + l.ID, "/alice/b.txt\x00" + policy.ID, "/pub/\x00" + folder.ID}) {
		t.Errorf("path index = %q", m)
	}
	if m := rc.ZRange(ctx, "{signet}:links:moved", 0, -1).Val(); !slices.Equal(m, []string{folder.ID}) {
		t.Errorf("moved index = %q, want only the folder", m)
	}
	// Uses and client records are fields of the record.
	if _, _, err := s.UseLink(ctx, l.ID, 2, "192.0.2.1", false, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	fields = rc.HGetAll(ctx, "{signet}:link:"+l.ID).Val()
	if fields["n"] != "1" || fields["t"] != ms(now) || fields["c:192.0.2.1"] != ms(now) {
		t.Errorf("record fields after a use = %q", fields)
	}
	// Moving the expiry moves the TTL.
	longer := now.Add(3 * time.Hour)
	if _, err := s.SetLinkExpiry(ctx, l.ID, longer, now); err != nil {
		t.Fatal(err)
	}
	if at := rc.PExpireTime(ctx, "{signet}:link:"+l.ID).Val(); at.Milliseconds() != longer.UnixMilli() {
		t.Errorf("PEXPIRETIME after SetLinkExpiry = %d, want %d", at.Milliseconds(), longer.UnixMilli())
	}
	if sc := rc.ZScore(ctx, "{signet}:links:expiry", l.ID+"\n"+key+"\nalice\n/alice/a.txt").Val(); int64(sc) != longer.UnixMilli() {
		t.Errorf("expiry index score = %v, want %d", sc, longer.UnixMilli())
	}
}

// TestRedisLinksExpire: records go by their TTL, and their index entries
// with the purge (periodic, and before each listing), until the keyspace
// is what it was.
func TestRedisLinksExpire(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	confCreate(t, s, confNewKey(t, "unrelated", confBase))
	base := redisDBSize(t, srv)
	now := time.Now()
	key := confLinkKeyID(t)
	var short []*Link
	for i := range 3 {
		l := confNewLink(t, fmt.Sprintf("/e/%d.txt", i), now, now.Add(time.Second))
		l.KeyID, l.User = key, "erin"
		short = append(short, confCreateLink(t, s, l))
	}
	// Shortened below its token: kept until the token expires.
	shortened := confCreateLink(t, s, confNewLink(t, "/e/shortened.txt", now, now.Add(3*time.Second)))
	if _, err := s.SetLinkExpiry(ctx, shortened.ID, now, now); err != nil {
		t.Fatal(err)
	}
	// Extended past its token: kept until the expiry in force.
	long := confNewLink(t, "/e/long.txt", now, now.Add(time.Second))
	long.ExpiresAt = now.Add(time.Hour)
	confCreateLink(t, s, long)
	redisWait(t, "Redis to expire the short records", func() bool {
		return srv.Client().Exists(ctx, "{signet}:link:"+short[0].ID, "{signet}:link:"+short[2].ID).Val() == 0
	})
	if srv.Client().Exists(ctx, "{signet}:link:"+shortened.ID).Val() != 1 {
		t.Error("the shortened record went before its token's expiry")
	}
	if list, err := s.ListLinkExpiries(ctx, time.Now()); err != nil || len(list) != 2 {
		t.Errorf("ListLinkExpiries = %v, %v; want the shortened and the extended record", list, err)
	}
	// Listing purges what Redis expired before reading.
	list, _, err := s.ListLinks(ctx, LinkFilter{KeyID: key}, "", 10, now)
	if err != nil || len(list) != 0 {
		t.Errorf("ListLinks(key) = %v, %v; want none", confLinkIDs(list), err)
	}
	if n := srv.Client().Exists(ctx, "{signet}:links:key:"+key, "{signet}:links:user:erin").Val(); n != 0 {
		t.Errorf("%d of the key and user indexes remain after a listing", n)
	}
	redisWait(t, "the shortened record to go with its token", func() bool {
		return srv.Client().Exists(ctx, "{signet}:link:"+shortened.ID).Val() == 0
	})
	if _, err := s.purgeLinks(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if m := srv.Client().ZRange(ctx, "{signet}:links", 0, -1).Val(); !slices.Equal(m, []string{long.ID}) {
		t.Errorf("{signet}:links = %q, want only the live record", m)
	}
	if _, err := s.SetLinkExpiry(ctx, long.ID, time.Now().Add(time.Second), time.Now()); err != nil {
		t.Fatal(err)
	}
	redisWait(t, "the last record to expire and be purged", func() bool {
		_, err := s.purgeLinks(ctx, 10)
		return err == nil && redisDBSize(t, srv) == base
	})
}

// TestRedisLinkPurgeLoop: without any listing, each instance's periodic
// purge removes the index entries of expired records.
func TestRedisLinkPurgeLoop(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	old := linkSweepInterval
	linkSweepInterval = 20 * time.Millisecond
	s := redisOpen(t, srv, "")
	linkSweepInterval = old
	now := time.Now()
	l := confNewLink(t, "/p/a.txt", now, now.Add(200*time.Millisecond))
	l.KeyID = confLinkKeyID(t)
	confCreateLink(t, s, l)
	redisWait(t, "the periodic purge to empty the ledger", func() bool { return redisDBSize(t, srv) == 0 })
	_ = ctx
}

// TestRedisUseLinkTwoInstances: the use limit holds across instances
// sharing one Redis.
func TestRedisUseLinkTwoInstances(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	stores := []*RedisStore{redisOpen(t, srv, ""), redisOpen(t, srv, "")}
	now := confLinkNow()
	l := confNewLink(t, "/u/a.zip", now, now.Add(time.Hour))
	l.Policy.MaxUses = 3
	confCreateLink(t, stores[0], l)
	var oks, calls atomic.Int64
	confConcurrently(t, 50, func() error {
		s := stores[calls.Add(1)%2]
		ok, _, err := s.UseLink(ctx, l.ID, 3, fmt.Sprint("client", calls.Load()), false, time.Minute, now)
		if ok {
			oks.Add(1)
		}
		return err
	})
	if oks.Load() != 3 {
		t.Errorf("%d of 50 uses through two instances were allowed, want exactly 3", oks.Load())
	}
	if got := confGetLink(t, stores[1], l.ID, now); got.Uses != 3 {
		t.Errorf("uses = %d, want 3", got.Uses)
	}
}

func TestRedisIgnoresMalformedLinkMessages(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	feed, cancel := confSubscribe(s)
	defer cancel()
	id := confURLID(t)
	for _, msg := range []string{
		`{"kind":"link_expiry"}`, `{"kind":"link_expiry","link":{}}`,
		`{"kind":"link_expiry","link":{"id":"short","expires_ms":"1","signed_ms":"1","rev":"1"}}`,
		`{"kind":"link_expiry","link":{"id":"` + id + `","expires_ms":"soon","signed_ms":"1","rev":"1"}}`,
		`{"kind":"link_expiry","link":{"id":"` + id + `","expires_ms":"1","signed_ms":"1","rev":"-1"}}`,
		`{"kind":"link_expiry","link":{"id":"` + id + `","expires_ms":1,"signed_ms":1,"rev":1}}`,
	} {
		if err := srv.Client().Publish(ctx, "{signet}:changes", msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	k := confCreate(t, s, confNewKey(t, "fence", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID {
		t.Fatalf("first change = %+v, want the fence KeyPut (malformed messages skipped)", c)
	}
}
