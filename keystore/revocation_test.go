package keystore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

func TestRevocationURLIDIsStrict(t *testing.T) {
	exp := time.Unix(1800000000, 0).UTC()
	canonical := strings.Repeat("A", verifier.URLIDLen)
	if err := (Revocation{Kind: RevokeURL, Target: canonical, ExpiresAt: exp}).Validate(); err != nil {
		t.Fatalf("Validate(%s): %v", canonical, err)
	}
	if err := (Revocation{Kind: RevokeURL, Target: confLenientURLID, ExpiresAt: exp}).Validate(); err == nil {
		t.Errorf("Validate accepted %s, a second spelling of %s", confLenientURLID, canonical)
	}
	if _, err := ParseIdent("url|0|"+confLenientURLID, exp); err == nil {
		t.Errorf("ParseIdent accepted the URL id %s", confLenientURLID)
	}
	// The view ignores it too (it is never given one: stores refuse it).
	v := newRevView().with(Revocation{Kind: RevokeURL, Target: confLenientURLID, ExpiresAt: exp}, exp.Unix()-60)
	if v.len() != 0 {
		t.Errorf("the view took the URL id %s", confLenientURLID)
	}
}

func TestParseStoredIdent(t *testing.T) {
	exp := time.Unix(1800000000, 0).UTC()
	canonical := strings.Repeat("A", verifier.URLIDLen)
	// A record stored before ids were decoded strictly is read as the id
	// it has always revoked.
	r, err := parseStoredIdent("url|0|"+confLenientURLID, exp)
	if err != nil || r.Kind != RevokeURL || r.Target != canonical || !r.ExpiresAt.Equal(exp) {
		t.Errorf("parseStoredIdent(legacy) = %+v, %v; want the URL revocation of %s", r, err, canonical)
	}
	for _, s := range []string{
		"url|0|" + canonical, "key|1768000000|key_aaaaaaaaaaaaaaaa", "prefix|1768000000|/reports/",
	} {
		want, werr := ParseIdent(s, exp)
		got, err := parseStoredIdent(s, exp)
		if werr != nil || err != nil || got != want {
			t.Errorf("parseStoredIdent(%q) = %+v, %v; want ParseIdent's %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"url|0|" + strings.Repeat("*", verifier.URLIDLen), "url|0|" + canonical[1:], "url|5|" + confLenientURLID,
		"url|0|" + canonical[2:] + "==", "", "key|0|" + confLenientURLID,
	} {
		if r, err := parseStoredIdent(s, exp); err == nil {
			t.Errorf("parseStoredIdent(%q) accepted %+v", s, r)
		}
	}
}

// testLegacyURLRevocation: a URL revocation stored with a lenient id by an
// earlier version (written raw by put) is listed as the canonical id, and a
// cache loading the store enforces it.
func testLegacyURLRevocation(t *testing.T, s Store, put func(ident string, exp time.Time)) {
	t.Helper()
	exp := time.Now().Truncate(time.Second).Add(time.Hour)
	put("url|0|"+confLenientURLID, exp)
	canonical := Revocation{Kind: RevokeURL, Target: strings.Repeat("A", verifier.URLIDLen), ExpiresAt: exp}
	list, err := s.ListRevocations(context.Background(), time.Now())
	if err != nil || len(list) != 1 || confRevDiff(list[0], canonical) != "" {
		t.Fatalf("ListRevocations = %v, %v; want %s", list, err, canonical.Ident())
	}
	c := newTestCache(t, s, CacheOptions{})
	if why := c.Revoked(&verifier.Claims{ID: verifier.URLID{}}, "/a", time.Now()); why == "" {
		t.Error("the legacy revocation is not enforced")
	}
}

func TestBoltLegacyURLRevocation(t *testing.T) {
	s := boltOpen(t)
	testLegacyURLRevocation(t, s, func(ident string, exp time.Time) {
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRevs).Put([]byte(ident), encodeBoltExpiry(exp)) }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRedisLegacyURLRevocation(t *testing.T) {
	srv := redistest.Start(t)
	s := redisOpen(t, srv, "")
	testLegacyURLRevocation(t, s, func(ident string, exp time.Time) {
		if err := srv.Client().ZAdd(context.Background(), s.kRevs, redis.Z{Score: float64(exp.UnixMilli()), Member: ident}).Err(); err != nil {
			t.Fatal(err)
		}
	})
}
