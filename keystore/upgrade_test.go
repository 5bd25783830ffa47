package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/verifier"
)

// Stores written by the previous release (testdata/upgrade, see its
// README.md) open with this one, and MigrateUsers turns their user labels
// into user records without changing what any key or link can do.

// upgradeStore is what testdata/upgrade/keys.json says about one fixture.
type upgradeStore struct {
	Keys []struct {
		ID          string              `json:"id"`
		Value       string              `json:"key"`
		Name        string              `json:"name"`
		Type        verifier.KeyType    `json:"type"`
		User        string              `json:"user"`
		Scopes      []string            `json:"scopes"`
		Permissions verifier.Permission `json:"permissions"`
	} `json:"keys"`
	SecretID    string       `json:"secret_id"`
	SignedURL   string       `json:"signed_url"`
	Revocations []Revocation `json:"revocations"`
}

func readUpgradeFixture(t *testing.T) (file, redis upgradeStore) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "upgrade", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		File  upgradeStore `json:"file"`
		Redis upgradeStore `json:"redis"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return fx.File, fx.Redis
}

func TestUpgradeBoltFixture(t *testing.T) {
	fx, _ := readUpgradeFixture(t)
	b, err := os.ReadFile(filepath.Join("testdata", "upgrade", "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signet.db") // bbolt writes to the file it opens
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The previous release had no ledger: its buckets are made at open.
	old, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_ = old.View(func(tx *bolt.Tx) error {
		for _, b := range linkBuckets {
			if tx.Bucket(b) != nil {
				t.Errorf("the fixture already has the bucket %s", b)
			}
		}
		return nil
	})
	_ = old.Close()
	s, err := OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testUpgrade(t, s, fx)
}

func TestUpgradeRedisFixture(t *testing.T) {
	_, fx := readUpgradeFixture(t)
	srv := redistest.Start(t, redistest.RDB(filepath.Join("testdata", "upgrade", "dump.rdb")))
	if ledger := srv.Client().Keys(context.Background(), "{signet}:link*").Val(); len(ledger) != 0 {
		t.Fatalf("the fixture already has ledger keys %q", ledger)
	}
	testUpgrade(t, redisOpen(t, srv, ""), fx)
}

func testUpgrade(t *testing.T, s Store, fx upgradeStore) {
	ctx := context.Background()
	if len(fx.Keys) != 5 {
		t.Fatalf("keys.json lists %d keys, want 5", len(fx.Keys))
	}
	created, err := MigrateUsers(ctx, s, time.Now())
	if err != nil {
		t.Fatalf("MigrateUsers: %v", err)
	}
	var names []string
	for _, u := range created {
		names = append(names, u.Name)
	}
	if want := []string{"alice", "bob-smith"}; !slices.Equal(names, want) {
		t.Fatalf("MigrateUsers created %v, want %v", names, want)
	}
	for _, want := range []*User{
		// /alice/shared/ is under /alice/; the highest permission is sign.
		{Name: "alice", Scopes: []string{"/alice/"}, Permissions: verifier.PermSign},
		{Name: "bob-smith", Scopes: []string{"/bob/"}, Permissions: verifier.PermRead},
	} {
		got := confGetUser(t, s, want.Name)
		if !slices.Equal(got.Scopes, want.Scopes) || got.Permissions != want.Permissions || got.SelfService {
			t.Errorf("user %s = scopes %v, %s, self-service %v; want %v, %s, false",
				want.Name, got.Scopes, got.Permissions, got.SelfService, want.Scopes, want.Permissions)
		}
	}

	// Every key is there as the previous release made it, but for the
	// label that was no user name.
	list, err := s.ListKeys(ctx)
	if err != nil || len(list) != len(fx.Keys) {
		t.Fatalf("ListKeys = %d keys, %v; want %d", len(list), err, len(fx.Keys))
	}
	for _, want := range fx.Keys {
		k, err := s.GetKey(ctx, want.ID)
		if err != nil {
			t.Errorf("key %s (%s): %v", want.ID, want.Name, err)
			continue
		}
		typ, digest, err := verifier.ParseKeyToken(want.Value)
		if err != nil {
			t.Fatalf("keys.json: value of %s: %v", want.ID, err)
		}
		wantUser := want.User
		if wantUser == "Bob Smith" {
			wantUser = "bob-smith"
		}
		switch {
		case k.Digest != digest:
			t.Errorf("key %s: the stored digest is not the digest of its value", want.ID)
		case k.Type != typ || k.Type != want.Type:
			t.Errorf("key %s: type %s, want %s", want.ID, k.Type, want.Type)
		case k.Name != want.Name || k.User != wantUser:
			t.Errorf("key %s: name %q user %q, want %q %q", want.ID, k.Name, k.User, want.Name, wantUser)
		case !slices.Equal(k.Scopes, want.Scopes) || k.Permissions != want.Permissions:
			t.Errorf("key %s: scopes %v %s, want %v %s", want.ID, k.Scopes, k.Permissions, want.Scopes, want.Permissions)
		}
	}

	// The generated signing secret is the one that signed the link.
	sec, err := s.Secret(ctx, func() (Secret, error) {
		return Secret{}, errors.New("the store has lost its generated secret")
	})
	if err != nil || sec.ID != fx.SecretID {
		t.Fatalf("Secret = %q, %v; want %q", sec.ID, err, fx.SecretID)
	}
	v, err := verifier.NewVerifier([]verifier.Secret{{ID: sec.ID, Key: sec.Key}}, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(fx.SignedURL)
	if err != nil {
		t.Fatal(err)
	}
	target := verifier.Target{Host: u.Host, Method: "GET", Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	cl, err := v.Verify(target, list[0].CreatedAt.Add(time.Minute)) // when the link was fresh
	if err != nil {
		t.Errorf("the link signed by the previous release does not verify: %v", err)
	} else if cl.SecretID != fx.SecretID {
		t.Errorf("the link names secret %q, want %q", cl.SecretID, fx.SecretID)
	}

	// Revocations stay until they expire (the fixture's, 7 days after it
	// was made; after that, a store must have dropped them).
	now := time.Now()
	revs, err := s.ListRevocations(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	listed := confRevIndex(t, revs)
	for _, r := range fx.Revocations {
		if d := r.ExpiresAt.Sub(now); d > -time.Minute && d < time.Minute {
			continue // too close to call
		}
		_, ok := listed[r.Ident()]
		if live := r.ExpiresAt.After(now); ok != live {
			t.Errorf("revocation %s (expires %v): listed %v, want %v", r.Ident(), r.ExpiresAt, ok, live)
		}
		if !r.ExpiresAt.After(now) {
			t.Logf("the fixture's revocation %s expired on %v: checked that it is no longer listed", r.Ident(), r.ExpiresAt)
		}
	}

	// Every key works through the view, user keys with their user.
	c, err := NewCache(ctx, s, CacheOptions{Derive: deriveWithUser})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for _, want := range fx.Keys {
		e := c.Lookup(verifier.DigestToken(want.Value))
		if e == nil || e.Key.ID != want.ID {
			t.Errorf("key %s: not in the view by its value's digest", want.ID)
			continue
		}
		if (want.User == "") != (e.User == nil) || (e.User != nil && e.User.Name != e.Key.User) {
			t.Errorf("key %s: derived with user %+v", want.ID, e.User)
		}
	}

	// Idempotent.
	if again, err := MigrateUsers(ctx, s, time.Now()); err != nil || len(again) != 0 {
		t.Errorf("second MigrateUsers = %v, %v; want nothing created", again, err)
	}

	testUpgradeLedger(t, s, c, fx.Keys[1].ID)
}

// testUpgradeLedger: the link ledger of an upgraded store starts empty and
// works, through the store and the cache, with the key keyID of the user
// alice.
func testUpgradeLedger(t *testing.T, s Store, c *Cache, keyID string) {
	ctx := context.Background()
	now := confLinkNow()
	if list, next, err := s.ListLinks(ctx, LinkFilter{}, "", 10, now); err != nil || len(list) != 0 || next != "" {
		t.Fatalf("ListLinks on an upgraded store = %v, %q, %v; want an empty ledger", list, next, err)
	}
	if exps, err := s.ListLinkExpiries(ctx, now); err != nil || len(exps) != 0 || c.LinkExpiryCount() != 0 {
		t.Fatalf("ListLinkExpiries on an upgraded store = %v, %v (view %d); want none", exps, err, c.LinkExpiryCount())
	}
	signed := now.Add(time.Hour)
	l := confNewLink(t, "/alice/a.txt", now, signed)
	l.KeyID, l.User, l.Policy.MaxUses = keyID, "alice", 1
	confCreateLink(t, c, l)
	other := confCreateLink(t, c, confNewLink(t, "/pub/", now.Add(time.Second), signed))
	for _, tt := range []struct {
		f    LinkFilter
		want []string
	}{
		{LinkFilter{}, []string{other.ID, l.ID}},
		{LinkFilter{KeyID: keyID}, []string{l.ID}},
		{LinkFilter{User: "alice"}, []string{l.ID}},
		{LinkFilter{PathPrefix: "/pub"}, []string{other.ID}},
	} {
		if list, _, err := c.ListLinks(ctx, tt.f, "", 10, now); err != nil || !slices.Equal(confLinkIDs(list), tt.want) {
			t.Errorf("ListLinks(%+v) = %v, %v; want %v", tt.f, confLinkIDs(list), err, tt.want)
		}
	}
	if ok, uses, err := c.UseLink(ctx, l.ID, 1, "192.0.2.1", false, time.Minute, now); err != nil || !ok || uses != 1 {
		t.Errorf("UseLink = %v, %d, %v; want the one use", ok, uses, err)
	}
	if ok, _, err := c.UseLink(ctx, l.ID, 1, "192.0.2.2", false, time.Minute, now); err != nil || ok {
		t.Errorf("a second UseLink = %v, %v; want refused", ok, err)
	}
	exp := now.Add(10 * time.Minute)
	if _, err := c.SetLinkExpiry(ctx, l.ID, exp, now); err != nil {
		t.Fatal(err)
	}
	id, _ := verifier.ParseURLID(l.ID)
	if got := c.LinkExpiry(id, signed.Unix()); got != exp.Unix() {
		t.Errorf("LinkExpiry = %d, want the moved %d", got, exp.Unix())
	}
	if got, err := c.GetLink(ctx, l.ID, now); err != nil || got.Uses != 1 || !got.ExpiresAt.Equal(exp) {
		t.Errorf("GetLink = %+v, %v", got, err)
	}
}
