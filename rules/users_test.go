package rules

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

func TestEffective(t *testing.T) {
	alice := testUsers("alice") // /alice/, sign
	admin := &keystore.User{Name: "root", Scopes: []string{"/"}, Permissions: verifier.PermAdmin}
	disabled := &keystore.User{Name: "off", Scopes: []string{"/off/"}, Permissions: verifier.PermNone}
	for _, tt := range []struct {
		name   string
		k      *keystore.Key
		u      *keystore.User
		scopes []string
		perm   verifier.Permission
	}{
		{"site-wide key", &keystore.Key{Type: "secret", Scopes: []string{"/r/"}, Permissions: "sign"}, nil, []string{"/r/"}, "sign"},
		{"follows its user", &keystore.Key{Type: "secret", User: "alice"}, alice, []string{"/alice/"}, "sign"},
		{"narrower scope", &keystore.Key{Type: "secret", User: "alice", Scopes: []string{"/alice/docs/"}}, alice, []string{"/alice/docs/"}, "sign"},
		{"wider scope is cut to the user's", &keystore.Key{Type: "secret", User: "alice", Scopes: []string{"/"}}, alice, []string{"/alice/"}, "sign"},
		{"disjoint scope: nothing", &keystore.Key{Type: "secret", User: "alice", Scopes: []string{"/bob/"}}, alice, nil, "none"},
		{"lower permission", &keystore.Key{Type: "secret", User: "alice", Permissions: "read"}, alice, []string{"/alice/"}, "read"},
		{"higher permission is cut to the user's", &keystore.Key{Type: "secret", User: "alice", Permissions: "admin"}, alice, []string{"/alice/"}, "sign"},
		{"public key: read at most", &keystore.Key{Type: "public", User: "alice"}, alice, []string{"/alice/"}, "read"},
		{"missing user: nothing", &keystore.Key{Type: "secret", User: "ghost", Scopes: []string{"/"}, Permissions: "admin"}, nil, nil, "none"},
		{"disabled user", &keystore.Key{Type: "secret", User: "off"}, disabled, []string{"/off/"}, "none"},
		{"admin user: everything", &keystore.Key{Type: "secret", User: "root"}, admin, []string{"/"}, "admin"},
	} {
		acc := Effective(tt.k, tt.u)
		if !slices.Equal(acc.Scopes, tt.scopes) || acc.Perm != tt.perm {
			t.Errorf("%s: got %v %s, want %v %s", tt.name, acc.Scopes, acc.Perm, tt.scopes, tt.perm)
		}
	}
}

// TestEscalation: every attempt to get more access than the caller has is
// refused (a 403 or a 400), before anything is stored.
func TestEscalation(t *testing.T) {
	hour := now.Add(time.Hour)
	later := now.Add(2 * time.Hour)
	aliceKey := &keystore.Key{ID: "key_aliceaaaaaaaaaaaa", Type: verifier.KeySecret, User: "alice"}
	aliceNarrow := &keystore.Key{ID: "key_alicebbbbbbbbbbbb", Type: verifier.KeySecret, User: "alice",
		Scopes: []string{"/alice/docs/"}, Permissions: verifier.PermRead, ExpiresAt: &hour}
	alicePub := &keystore.Key{ID: "key_alicecccccccccccc", Type: verifier.KeyPublic, User: "alice"}
	aliceOff := &keystore.Key{ID: "key_alicedddddddddddd", Type: verifier.KeySecret, User: "alice", Permissions: verifier.PermNone}
	bobKey := &keystore.Key{ID: "key_bobaaaaaaaaaaaaaa", Type: verifier.KeySecret, User: "bob"}
	siteKey := &keystore.Key{ID: "key_siteaaaaaaaaaaaaa", Type: verifier.KeySecret, Scopes: []string{"/"}, Permissions: verifier.PermSign}
	alice := testUsers("alice")
	disabledAlice := alice.Clone()
	disabledAlice.Permissions = verifier.PermNone

	as := func(k *keystore.Key) Actor { return KeyActor(k, testUsers(k.User), false) }
	str := func(s string) *string { return &s }
	scopes := func(s ...string) *[]string { return &s }
	create := func(a Actor, req NewKeyRequest) error {
		if req.Name == "" {
			req.Name = "x"
		}
		_, _, err := NewKey(a, req, testUsers, now)
		return err
	}
	update := func(a Actor, target *keystore.Key, req KeyUpdate) error {
		fn, err := UpdateKey(a, req, testUsers, now)
		if err == nil {
			err = fn(target.Clone())
		}
		return err
	}
	refused := []struct {
		name string
		err  error
	}{
		{"a site-wide sign key creates an admin key", create(as(siteKey), NewKeyRequest{Permissions: "admin"})},
		{"a site-wide sign key creates any key", create(as(siteKey), NewKeyRequest{})},
		{"a site-wide read key creates a key", create(KeyActor(key(verifier.KeySecret, verifier.PermRead), nil, true), NewKeyRequest{})},
		{"a user key creates an admin key for its user", create(as(aliceKey), NewKeyRequest{Permissions: "admin"})},
		{"a user key creates a key for /", create(as(aliceKey), NewKeyRequest{Scopes: []string{"/"}})},
		{"a user key creates a key for another user's folder", create(as(aliceKey), NewKeyRequest{Scopes: []string{"/bob/"}})},
		{"a user key creates a key for another user", create(as(aliceKey), NewKeyRequest{User: "bob"})},
		{"a user key creates a key for a user that does not exist", create(as(aliceKey), NewKeyRequest{User: "mallory"})},
		{"a narrowed key creates a key for its user's whole folder", create(as(aliceNarrow), NewKeyRequest{Scopes: []string{"/alice/"}})},
		{"a read key creates a sign key", create(as(aliceNarrow), NewKeyRequest{Permissions: "sign"})},
		{"an expiring key creates a key that outlives it", create(as(aliceNarrow), NewKeyRequest{ExpiresAt: &later})},
		{"a key extends its own expiry", update(as(aliceNarrow), aliceNarrow, KeyUpdate{ExpiresAt: json.RawMessage(`"` + later.Format(time.RFC3339) + `"`)})},
		{"a key removes its own expiry", update(as(aliceNarrow), aliceNarrow, KeyUpdate{ExpiresAt: json.RawMessage(`null`)})},
		{"a key widens its own scope", update(as(aliceNarrow), aliceNarrow, KeyUpdate{Scopes: scopes("/alice/")})},
		{"a key raises its own permission", update(as(aliceNarrow), aliceNarrow, KeyUpdate{Permissions: str("sign")})},
		{"a user key changes another user's key", update(as(aliceKey), bobKey, KeyUpdate{Name: str("mine")})},
		{"a user key changes a site-wide key", update(as(aliceKey), siteKey, KeyUpdate{Name: str("mine")})},
		{"a user key moves its key to another user", update(as(aliceKey), aliceNarrow, KeyUpdate{User: str("bob")})},
		{"a user key makes its key site-wide", update(as(aliceKey), aliceNarrow, KeyUpdate{User: str("")})},
		{"a user key raises a sibling to admin", update(as(aliceKey), aliceNarrow, KeyUpdate{Permissions: str("admin")})},
		{"a read key re-enables a sibling as a sign key", update(as(aliceNarrow), aliceOff, KeyUpdate{Permissions: str("sign")})},
		{"a user key deletes another user's key", DeleteKey(as(aliceKey), bobKey)},
		{"a user key deletes a site-wide key", DeleteKey(as(aliceKey), siteKey)},
		{"a user key reads another user's key", ReadKey(as(aliceKey), bobKey)},
		{"a user without self-service creates a key", create(as(bobKey), NewKeyRequest{})},
		{"a user without self-service lists keys", MayListKeys(as(bobKey))},
		{"a public key creates a key", create(as(alicePub), NewKeyRequest{})},
		{"a public key lists keys", MayListKeys(as(alicePub))},
		{"a disabled key creates a key", create(as(aliceOff), NewKeyRequest{})},
		{"a key of a disabled user creates a key", create(KeyActor(aliceKey, disabledAlice, true), NewKeyRequest{})},
		{"a user key creates a user", func() error {
			_, err := NewUser(as(aliceKey), UserRequest{Name: "eve", Scopes: []string{"/"}}, now)
			return err
		}()},
		{"a user key makes its user an admin", func() error {
			_, err := UpdateUser(as(aliceKey), UserUpdate{Permissions: str("admin")}, now)
			return err
		}()},
		{"a user key widens its user", func() error { _, err := UpdateUser(as(aliceKey), UserUpdate{Scopes: scopes("/")}, now); return err }()},
		{"a user key deletes a user", DeleteUser(as(aliceKey))},
		{"a user key lists users", ReadUsers(as(aliceKey))},
		{"a sign key revokes every link under /", MayRevoke(as(siteKey), RevokeRequest{Prefix: "/"}, &keystore.Revocation{}, nil)},
		{"a user key escapes its folder with ..", create(as(aliceKey), NewKeyRequest{Scopes: []string{"/alice/../bob/"}})},
		{"an admin key scoped to a folder creates a key for /", create(site(verifier.KeySecret, verifier.PermAdmin, "/reports/"), NewKeyRequest{Permissions: "admin"})},
		{"an admin key scoped to a folder creates a user", func() error {
			_, err := NewUser(site(verifier.KeySecret, verifier.PermAdmin, "/reports/"), UserRequest{Name: "eve", Scopes: []string{"/"}}, now)
			return err
		}()},
	}
	// Demoting an administrator without saying what it may read.
	fn, err := UpdateUser(Operator, UserUpdate{Permissions: str("read")}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(&keystore.User{Name: "root", Scopes: []string{"/"}, Permissions: verifier.PermAdmin}); fieldOf(err) != "scopes" {
		t.Errorf("demoting an admin user without scopes: %v", err)
	}
	if len(refused) < 25 {
		t.Fatalf("only %d escalation attempts", len(refused))
	}
	for _, tt := range refused {
		if tt.err == nil {
			t.Errorf("%s: allowed", tt.name)
		} else if fieldOf(tt.err) == "" && reasonOf(tt.err) == "" {
			t.Errorf("%s: refused with %v, want a field error or a denial", tt.name, tt.err)
		}
	}

	// What self-service may do: its own user's keys, within itself.
	k, _, err := NewKey(as(aliceNarrow), NewKeyRequest{Name: "sub"}, testUsers, now)
	if err != nil {
		t.Fatalf("self-service create: %v", err)
	}
	if k.User != "alice" || !slices.Equal(k.Scopes, []string{"/alice/docs/"}) || k.Permissions != verifier.PermRead || k.ExpiresAt == nil || !k.ExpiresAt.Equal(hour) {
		t.Errorf("self-service default key = %+v; want alice's, /alice/docs/, read, expiring with the caller", k)
	}
	if _, _, err := NewKey(KeyActor(aliceKey, alice, false), NewKeyRequest{Name: "photos", Scopes: []string{"/alice/photos/"}, Permissions: "read"}, testUsers, now); err != nil {
		t.Errorf("self-service create within itself: %v", err)
	}
	if err := update(as(aliceKey), aliceNarrow, KeyUpdate{Name: str("renamed"), Scopes: scopes("/alice/docs/2026/")}); err != nil {
		t.Errorf("self-service narrowing a sibling: %v", err)
	}
	if err := DeleteKey(as(aliceKey), aliceNarrow); err != nil {
		t.Errorf("self-service delete of a sibling: %v", err)
	}
	// The site setting turns self-service on for users without it.
	if err := MayListKeys(KeyActor(bobKey, testUsers("bob"), true)); err != nil {
		t.Errorf("site-wide self_service: %v", err)
	}
	// A key of an admin user is a site administrator.
	root := &keystore.User{Name: "root", Scopes: []string{"/"}, Permissions: verifier.PermAdmin}
	if _, _, err := NewKey(KeyActor(&keystore.Key{Type: verifier.KeySecret, User: "root"}, root, false), NewKeyRequest{Name: "ci", Permissions: "admin"}, testUsers, now); err != nil {
		t.Errorf("admin user creates a site-wide admin key: %v", err)
	}
}
