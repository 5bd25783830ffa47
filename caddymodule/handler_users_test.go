package caddymodule

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// TestUserKeyFollowsUser: a user key's access is its user's, so narrowing,
// disabling or deleting the user changes the key and its links on the next
// request, and re-enabling it restores them.
func TestUserKeyFollowsUser(t *testing.T) {
	s := newTestSite(t, nil, nil)
	cache := s.st.backend.cache
	ctx := context.Background()
	alice := &keystore.User{Name: "alice", Scopes: []string{"/alice/"}, Permissions: verifier.PermSign,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := cache.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	k, token := s.key(t, rules.NewKeyRequest{User: "alice"}) // no scopes or permission of its own
	link := s.sign(t, "files.example.com", "/alice/report.pdf", k, time.Hour)
	get := func(path string) int {
		r := httptest.NewRequest("GET", "http://files.example.com"+path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return s.serve(t, r).status
	}
	signed := func() int { return s.serve(t, httptest.NewRequest("GET", link, nil)).status }
	setUser := func(scopes []string, perm verifier.Permission) {
		t.Helper()
		if _, err := cache.UpdateUser(ctx, "alice", func(u *keystore.User) error {
			u.Scopes, u.Permissions = scopes, perm
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name           string
		change         func()
		path           string
		bearer, signed int
	}{
		{"as created", func() {}, "/alice/report.pdf", 200, 200},
		{"outside the user's folder", func() {}, "/bob/x", 403, 200},
		{"user narrowed", func() { setUser([]string{"/alice/photos/"}, verifier.PermSign) }, "/alice/report.pdf", 403, 403},
		{"user widened back", func() { setUser([]string{"/alice/"}, verifier.PermSign) }, "/alice/report.pdf", 200, 200},
		{"user may only read: links stop", func() { setUser([]string{"/alice/"}, verifier.PermRead) }, "/alice/report.pdf", 200, 403},
		{"user disabled", func() { setUser([]string{"/alice/"}, verifier.PermNone) }, "/alice/report.pdf", 403, 403},
		{"user re-enabled", func() { setUser([]string{"/alice/"}, verifier.PermSign) }, "/alice/report.pdf", 200, 200},
		{"user deleted", func() {
			if _, _, err := cache.DeleteUser(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
		}, "/alice/report.pdf", 401, 403},
	} {
		step.change()
		if got := get(step.path); got != step.bearer {
			t.Errorf("%s: bearer %s = %d, want %d", step.name, step.path, got, step.bearer)
		}
		if got := signed(); got != step.signed {
			t.Errorf("%s: link = %d, want %d", step.name, got, step.signed)
		}
	}
	if cache.ByID(k.ID) != nil {
		t.Error("deleting the user left its key in the view")
	}
}

// TestKeyAPIExpiredCaller: an expired key gets 401 on the key and user
// APIs, as on files, before any rule is asked.
func TestKeyAPIExpiredCaller(t *testing.T) {
	s := newTestSite(t, nil, nil)
	k, token := s.key(t, rules.NewKeyRequest{Permissions: "admin"})
	if _, err := s.st.backend.cache.UpdateKey(context.Background(), k.ID, func(k *keystore.Key) error {
		past := time.Now().Add(-time.Second)
		k.ExpiresAt = &past
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, path string }{
		{"GET", "/_signet/v1/keys"}, {"POST", "/_signet/v1/keys"}, {"GET", "/_signet/v1/users"},
		{"DELETE", "/_signet/v1/keys/" + k.ID},
	} {
		r := httptest.NewRequest(tt.method, "http://files.example.com"+tt.path, strings.NewReader(`{"name":"x"}`))
		r.Header.Set("Authorization", "Bearer "+token)
		if o := s.serve(t, r); o.status != 401 || o.code != "unauthorized" || o.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s with an expired key: %d %q", tt.method, tt.path, o.status, o.code)
		}
	}
	if s.st.backend.cache.ByID(k.ID) == nil {
		t.Error("the expired key deleted itself")
	}
}
