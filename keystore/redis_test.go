package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-signet/signet/internal/redistest"
)

// redisOpen returns a store on srv under namespace ns (through its own
// client, as another instance would have), closed at the end of the test.
func redisOpen(t testing.TB, srv *redistest.Server, ns string) *RedisStore {
	t.Helper()
	s := NewRedisStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), ns)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// redisWait polls cond until it holds, failing the test after confWait.
func redisWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(confWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

func redisDBSize(t testing.TB, srv *redistest.Server) int64 {
	t.Helper()
	n, err := srv.Client().DBSize(context.Background()).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	return n
}

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	// One server; each subtest gets its own namespace, so its keys and
	// change channel are its own.
	testStoreConformance(t, func(t *testing.T) Store {
		return redisOpen(t, srv, "conf"+strconv.FormatInt(n.Add(1), 10))
	})
}

func TestRedisLayout(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "") // the default namespace
	k := confCreate(t, s, confNewKey(t, "layout", confBase))
	if err := s.TouchKeys(ctx, map[string]time.Time{k.ID: confBase}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret(ctx, func() (Secret, error) {
		return Secret{ID: "sec_1", Key: bytes.Repeat([]byte{1}, 32), CreatedAt: confBase}, nil
	}); err != nil {
		t.Fatal(err)
	}
	r := confRevs(t, time.Now(), time.Now().Add(time.Hour))[0]
	if err := s.Revoke(ctx, r); err != nil {
		t.Fatal(err)
	}
	u := confCreateUser(t, s, confNewUser("alice"))
	keys, err := srv.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"{signet}:keys": true, "{signet}:digests": true, "{signet}:lastused": true,
		"{signet}:secret": true, "{signet}:revocations": true,
		"{signet}:users": true, "{signet}:userrev": true,
	}
	if len(keys) != len(want) {
		t.Errorf("keys = %q, want %d keys", keys, len(want))
	}
	for _, key := range keys {
		if !want[key] {
			t.Errorf("unexpected key %q", key)
		}
	}
	if typ := srv.Client().Type(ctx, "{signet}:revocations").Val(); typ != "zset" {
		t.Errorf("revocations are a %s, want a zset", typ)
	}
	// A user is one field of the users hash; its revision is the counter's.
	if typ := srv.Client().Type(ctx, "{signet}:users").Val(); typ != "hash" {
		t.Errorf("users are a %s, want a hash", typ)
	}
	if fields := srv.Client().HKeys(ctx, "{signet}:users").Val(); !slices.Equal(fields, []string{"alice"}) {
		t.Errorf("users hash fields = %q, want [alice]", fields)
	}
	if rev, _ := srv.Client().Get(ctx, "{signet}:userrev").Uint64(); rev != u.Rev {
		t.Errorf("userrev = %d, want the user's rev %d", rev, u.Rev)
	}
	// Only the revocations expire.
	for _, key := range keys {
		ttl := srv.Client().PTTL(ctx, key).Val()
		if (key == "{signet}:revocations") != (ttl > 0) {
			t.Errorf("PTTL %s = %v", key, ttl)
		}
	}
}

func TestRedisTwoInstances(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a, b := redisOpen(t, srv, ""), redisOpen(t, srv, "")
	feed, cancel := confSubscribe(b)
	defer cancel()

	k := confCreate(t, a, confNewKey(t, "from a", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || confDiff(c.Key, k) != "" {
		t.Fatalf("b saw %+v, want a's KeyPut of %s", c, k.ID)
	}
	if _, err := a.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if c := feed.next(t); c.Kind != KeyDeleted || c.ID != k.ID {
		t.Fatalf("b saw %+v, want a's KeyDeleted of %s", c, k.ID)
	}
	now := time.Now().Truncate(time.Second) // stores keep milliseconds
	r := confRevs(t, now, now.Add(time.Hour))[1]
	if err := a.Revoke(ctx, r); err != nil {
		t.Fatal(err)
	}
	if c := feed.next(t); c.Kind != RevocationAdded || c.Revocation == nil || confRevDiff(*c.Revocation, r) != "" {
		t.Fatalf("b saw %+v, want a's RevocationAdded %s", c, r.Ident())
	}
	// Another namespace on the same server is another store.
	other := redisOpen(t, srv, "other")
	confCreate(t, other, confNewKey(t, "elsewhere", confBase))
	fence := confCreate(t, a, confNewKey(t, "fence", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != fence.ID {
		t.Fatalf("b saw %+v, want the fence %s (nothing from another namespace)", c, fence.ID)
	}
	if list, err := b.ListKeys(ctx); err != nil || len(list) != 1 || list[0].ID != fence.ID {
		t.Errorf("b.ListKeys = %v, %v; want only the fence", list, err)
	}
}

func TestRedisSecretRace(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*RedisStore{redisOpen(t, srv, ""), redisOpen(t, srv, ""), redisOpen(t, srv, "")}
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]Secret, len(stores))
		errs    = make([]error, len(stores))
	)
	for i, s := range stores {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Secret(context.Background(), func() (Secret, error) {
				return Secret{ID: "sec_" + strconv.Itoa(i), Key: bytes.Repeat([]byte{byte(i)}, 32), CreatedAt: confBase}, nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Fatalf("Secret #%d: %v", i, errs[i])
		}
		if results[i].ID != results[0].ID || !bytes.Equal(results[i].Key, results[0].Key) {
			t.Errorf("instance %d got secret %s, instance 0 got %s", i, results[i].ID, results[0].ID)
		}
	}
}

func TestRedisResyncAfterRestart(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a, b := redisOpen(t, srv, ""), redisOpen(t, srv, "")
	feed, cancel := confSubscribe(b)
	defer cancel()

	srv.Stop()
	srv.Start()
	// The feed reconnects by itself and says that it may have missed
	// messages.
	if c := feed.next(t); c.Kind != Resync {
		t.Fatalf("after a restart the feed delivered %+v, want Resync", c)
	}
	// And it is subscribed again.
	var k *Key
	redisWait(t, "a write after the restart", func() bool {
		k = confNewKey(t, "after restart", confBase)
		return a.CreateKey(ctx, k) == nil
	})
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID {
		t.Fatalf("after the Resync the feed delivered %+v, want KeyPut %s", c, k.ID)
	}
	if !feed.empty() {
		t.Errorf("unexpected change %+v", <-feed.ch)
	}
}

func TestRedisSubscribeWhileDown(t *testing.T) {
	srv := redistest.Start(t)
	a, b := redisOpen(t, srv, ""), redisOpen(t, srv, "")
	srv.Stop()
	// Subscribe returns although Redis is down …
	feed, cancel := confSubscribe(b)
	defer cancel()
	srv.Start()
	// … and the first confirmation, which came after it returned, is a
	// Resync: changes made in between were not seen.
	if c := feed.next(t); c.Kind != Resync {
		t.Fatalf("first change = %+v, want Resync", c)
	}
	k := confCreate(t, a, confNewKey(t, "k", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID {
		t.Fatalf("change = %+v, want KeyPut %s", c, k.ID)
	}
}

func TestRedisRevocationsExpire(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	confCreate(t, s, confNewKey(t, "unrelated", confBase)) // keys and digests
	base := redisDBSize(t, srv)

	now := time.Now()
	soon, later := now.Add(time.Second), now.Add(2*time.Second)
	revs := append(confRevs(t, now, soon), confRevs(t, now.Add(-time.Minute), later)...)
	for _, r := range revs {
		if err := s.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// All records share one key.
	if n := redisDBSize(t, srv); n != base+1 {
		t.Errorf("DBSIZE after revoking = %d, want %d + 1", n, base)
	}
	if n := srv.Client().ZCard(ctx, "{signet}:revocations").Val(); n != int64(len(revs)) {
		t.Errorf("ZCARD = %d, want %d", n, len(revs))
	}
	// ZADD GT: revoking again with an earlier expiry keeps the later one.
	again := revs[len(revs)-1]
	again.ExpiresAt = soon
	if err := s.Revoke(ctx, again); err != nil {
		t.Fatal(err)
	}
	score := srv.Client().ZScore(ctx, "{signet}:revocations", again.Ident()).Val()
	if int64(score) != revExpiryMs(later) {
		t.Errorf("score after an earlier re-revocation = %v, want %d", score, revExpiryMs(later))
	}
	// The key expires with its latest record.
	if at := srv.Client().PExpireTime(ctx, "{signet}:revocations").Val(); at != time.Duration(revExpiryMs(later))*time.Millisecond {
		t.Errorf("PEXPIRETIME = %d, want the last record's expiry %d", at.Milliseconds(), revExpiryMs(later))
	}
	// Once every revoked link has expired, the keyspace is back to what it
	// was, without anyone calling ListRevocations.
	redisWait(t, "the revocations key to expire", func() bool { return redisDBSize(t, srv) == base })
	if list, err := s.ListRevocations(ctx, time.Now()); err != nil || len(list) != 0 {
		t.Errorf("ListRevocations after expiry = %v, %v", list, err)
	}
}

func TestRedisRevokePrunes(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	now := time.Now()
	short := confRevs(t, now, now.Add(50*time.Millisecond))[0]
	long := confRevs(t, now, now.Add(time.Hour))[0]
	if err := s.Revoke(ctx, short); err != nil {
		t.Fatal(err)
	}
	// Redis keeps expiries rounded up to the millisecond and prunes by
	// whole milliseconds: wait until that rounded expiry has passed.
	redisWait(t, "the short revocation to expire", func() bool { return time.Now().UnixMilli() > revExpiryMs(short.ExpiresAt) })
	if err := s.Revoke(ctx, long); err != nil {
		t.Fatal(err)
	}
	members := srv.Client().ZRange(ctx, "{signet}:revocations", 0, -1).Val()
	if len(members) != 1 || members[0] != long.Ident() {
		t.Errorf("members after a later Revoke = %q, want only %q", members, long.Ident())
	}
}

func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.AppendOnly())
	s := redisOpen(t, srv, "")
	k := confCreate(t, s, confNewKey(t, "survivor", confBase))
	cache := newTestCache(t, s, CacheOptions{})
	now := time.Now()
	link := confCreateLink(t, s, confNewLink(t, "/a.txt", now, now.Add(time.Hour)))

	srv.Stop()
	const opTimeout = 3 * time.Second
	fresh := make(chan *Key, 2) // keys for the two rounds of CreateKey
	fresh <- confNewKey(t, "new", confBase)
	fresh <- confNewKey(t, "new", confBase)
	rev := confRevs(t, time.Now(), time.Now().Add(time.Hour))[0]
	freshLinks := make(chan *Link, 2)
	freshLinks <- confNewLink(t, "/b.txt", now, now.Add(time.Hour))
	freshLinks <- confNewLink(t, "/c.txt", now, now.Add(time.Hour))
	ops := map[string]func(context.Context) error{
		"CreateKey": func(ctx context.Context) error { return s.CreateKey(ctx, <-fresh) },
		"GetKey":    func(ctx context.Context) error { _, err := s.GetKey(ctx, k.ID); return err },
		"ListKeys":  func(ctx context.Context) error { _, err := s.ListKeys(ctx); return err },
		"UpdateKey": func(ctx context.Context) error {
			_, err := s.UpdateKey(ctx, k.ID, func(*Key) error { return nil })
			return err
		},
		"DeleteKey": func(ctx context.Context) error { _, err := s.DeleteKey(ctx, k.ID); return err },
		"TouchKeys": func(ctx context.Context) error { return s.TouchKeys(ctx, map[string]time.Time{k.ID: confBase}) },
		"Secret": func(ctx context.Context) error {
			_, err := s.Secret(ctx, func() (Secret, error) { return Secret{ID: "x", Key: []byte("x")}, nil })
			return err
		},
		"Revoke":          func(ctx context.Context) error { return s.Revoke(ctx, rev) },
		"ListRevocations": func(ctx context.Context) error { _, err := s.ListRevocations(ctx, time.Now()); return err },
		"Ping":            func(ctx context.Context) error { return s.Ping(ctx) },
		"CreateLink":      func(ctx context.Context) error { return s.CreateLink(ctx, <-freshLinks) },
		"GetLink":         func(ctx context.Context) error { _, err := s.GetLink(ctx, link.ID, now); return err },
		"ListLinks": func(ctx context.Context) error {
			_, _, err := s.ListLinks(ctx, LinkFilter{PathPrefix: "/"}, "", 10, now)
			return err
		},
		"SetLinkExpiry": func(ctx context.Context) error {
			_, err := s.SetLinkExpiry(ctx, link.ID, now.Add(2*time.Hour), now)
			return err
		},
		"ListLinkExpiries": func(ctx context.Context) error { _, err := s.ListLinkExpiries(ctx, now); return err },
		"TouchLinks":       func(ctx context.Context) error { return s.TouchLinks(ctx, map[string]LinkUse{link.ID: {1, now}}) },
		"UseLink": func(ctx context.Context) error {
			_, _, err := s.UseLink(ctx, link.ID, 0, "x", false, time.Minute, now)
			return err
		},
		"ReleaseUse": func(ctx context.Context) error { return s.ReleaseUse(ctx, link.ID, "x") },
	}
	// In parallel: each may take up to its deadline.
	t.Run("down", func(t *testing.T) {
		for name, op := range ops {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(ctx, opTimeout)
				defer cancel()
				done := make(chan error, 1)
				go func() {
					defer func() {
						if p := recover(); p != nil {
							done <- fmt.Errorf("panic: %v", p)
						}
					}()
					done <- op(ctx)
				}()
				// A generous bound, only to name a hang instead of
				// timing out the whole test binary.
				timer := time.NewTimer(opTimeout + confWait)
				defer timer.Stop()
				select {
				case err := <-done:
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("%s while Redis is down: err = %v, want ErrUnavailable", name, err)
					}
					if errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
						t.Errorf("%s while Redis is down: %v looks like an answer", name, err)
					}
				case <-timer.C:
					t.Errorf("%s did not return past its context deadline", name)
				}
			})
		}
	})
	// The cache keeps its view.
	if cache.Lookup(k.Digest) == nil {
		t.Error("the cache lost its view during the outage")
	}

	srv.Start()
	// The same store works again (and the data survived the restart).
	redisWait(t, "Ping after the restart", func() bool { return s.Ping(ctx) == nil })
	for name, op := range ops {
		if name == "DeleteKey" {
			continue
		}
		if err := op(ctx); err != nil {
			t.Errorf("%s after the restart: %v", name, err)
		}
	}
	if got := confGet(t, s, k.ID); got.Name != "survivor" {
		t.Errorf("GetKey after restart = %q", got.Name)
	}
	// The cache resyncs after the feed reconnects: a key created by
	// someone else shows up.
	other := redisOpen(t, srv, "")
	k2 := confCreate(t, other, confNewKey(t, "after outage", confBase))
	redisWait(t, "the cache to see a key created after the outage", func() bool { return cache.Lookup(k2.Digest) != nil })
}

func TestRedisCacheSeesOtherInstance(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a, b := redisOpen(t, srv, ""), redisOpen(t, srv, "")
	cache := newTestCache(t, a, CacheOptions{})

	k := confCreate(t, b, confNewKey(t, "from b", confBase))
	redisWait(t, "the cache to see b's key", func() bool { return cache.Lookup(k.Digest) != nil })
	if _, err := b.UpdateKey(ctx, k.ID, func(r *Key) error { r.Name = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	redisWait(t, "the cache to see b's update", func() bool {
		e := cache.Lookup(k.Digest)
		return e != nil && e.Key.Name == "renamed"
	})
	if _, err := b.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	redisWait(t, "the cache to see b's delete", func() bool { return cache.Lookup(k.Digest) == nil })
}

func TestRedisIgnoresMalformedMessages(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	feed, cancel := confSubscribe(s)
	defer cancel()
	for _, msg := range []string{
		"", "not json", "{}", `{"kind":"nope"}`, `{"kind":"key_put"}`, `{"kind":"key_put","key":{"id":"x","digest":"zz"}}`,
		`{"kind":"key_deleted"}`, `{"kind":"revocation_added","ident":"url|0|short","expires_ms":"1"}`,
		`{"kind":"revocation_added","ident":"url|0|AAAAAAAAAAAAAAAAAAAAAA","expires_ms":"soon"}`,
		`{"kind":"user_put"}`, `{"kind":"user_put","user":{"rev":3}}`, `{"kind":"user_put","user":"alice"}`,
		`{"kind":"user_deleted"}`, `{"kind":"user_deleted","user":{"scopes":["/"]}}`,
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

func TestRedisAfterClose(t *testing.T) {
	srv := redistest.Start(t)
	k := testStoreAfterClose(t, redisOpen(t, srv, ""))
	// The data is still in Redis for everyone else.
	confGet(t, redisOpen(t, srv, ""), k.ID)
}

func TestRedisFeedHealthCheck(t *testing.T) {
	old := redisFeedHealth
	redisFeedHealth = 50 * time.Millisecond
	t.Cleanup(func() { redisFeedHealth = old })
	ctx := context.Background()
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	feed, cancel := confSubscribe(s)
	defer cancel()

	// A silent feed pings the server …
	redisWait(t, "the idle feed to ping", func() bool {
		for line := range strings.Lines(srv.Client().ClientList(ctx).Val()) {
			if strings.Contains(line, " sub=1 ") && strings.Contains(line, " cmd=ping ") {
				return true
			}
		}
		return false
	})
	// … which is not a change.
	k := confCreate(t, s, confNewKey(t, "k", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k.ID {
		t.Fatalf("change = %+v, want KeyPut %s", c, k.ID)
	}

	// A connection that stops answering (as a half-open one would) is
	// replaced, and the feed reports that it may have missed messages.
	if err := srv.Client().Do(ctx, "CLIENT", "PAUSE", "1000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if c := feed.next(t); c.Kind != Resync {
		t.Fatalf("after an unanswered ping the feed delivered %+v, want Resync", c)
	}
	k2 := confCreate(t, s, confNewKey(t, "k2", confBase))
	if c := feed.next(t); c.Kind != KeyPut || c.Key == nil || c.Key.ID != k2.ID {
		t.Fatalf("change = %+v, want KeyPut %s", c, k2.ID)
	}
	// Only one subscription connection is left.
	if n := strings.Count(srv.Client().ClientList(ctx).Val(), " sub=1 "); n != 1 {
		t.Errorf("%d subscribed connections, want 1", n)
	}
}

// TestRedisCloseWhileServerHangs: Close stops a confirmed subscription
// whose server has stopped answering (paused, as a hung Redis is) at once,
// and leaves no feed goroutine behind.
func TestRedisCloseWhileServerHangs(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	s := NewRedisStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "")
	before := signetGoroutines()
	feed, cancel := confSubscribe(s)
	defer cancel()
	confCreate(t, s, confNewKey(t, "k", confBase))
	if c := feed.next(t); c.Kind != KeyPut {
		t.Fatalf("change = %+v, want the KeyPut", c)
	}
	// Paused for longer than the wait below: Close must not need it.
	if err := srv.Client().Do(ctx, "CLIENT", "PAUSE", "6000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	limit := time.NewTimer(5 * time.Second) // generous: the promise is 1s
	defer limit.Stop()
	select {
	case err := <-closed:
		t.Logf("Close returned after %v (%v)", time.Since(start), err)
	case <-limit.C:
		t.Fatal("Close has not returned after 5s with the server paused")
	}
	if n := signetGoroutines(); n > before {
		t.Errorf("%d goroutines of this package left after Close, %d before the subscription", n, before)
	}
}
