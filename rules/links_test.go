package rules

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// TestLinkRules: who sees which links, and how far a link's expiry moves.
func TestLinkRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC()
	keyExp := now.Add(48 * time.Hour)
	site := &keystore.Key{ID: "key_site", Type: verifier.KeySecret, Scopes: []string{"/r/"}, Permissions: verifier.PermSign}
	alice := &keystore.Key{ID: "key_alice", Type: verifier.KeySecret, User: "alice", Permissions: verifier.PermSign, ExpiresAt: &keyExp}
	aliceUser := &keystore.User{Name: "alice", Scopes: []string{"/alice/"}, Permissions: verifier.PermSign}
	admin := &keystore.Key{ID: "key_admin", Type: verifier.KeySecret, Scopes: []string{"/"}, Permissions: verifier.PermAdmin}
	reader := &keystore.Key{ID: "key_read", Type: verifier.KeySecret, Scopes: []string{"/"}, Permissions: verifier.PermRead}
	siteA, aliceA, adminA := KeyActor(site, nil, false), KeyActor(alice, aliceUser, false), KeyActor(admin, nil, false)

	// Visibility and filters.
	if f, err := LinkFilter(siteA, keystore.LinkFilter{}); err != nil || f.KeyID != "key_site" {
		t.Errorf("site key filter %+v %v", f, err)
	}
	if f, err := LinkFilter(aliceA, keystore.LinkFilter{PathPrefix: "/alice/"}); err != nil || f.User != "alice" || f.PathPrefix != "/alice/" {
		t.Errorf("user key filter %+v %v", f, err)
	}
	if f, err := LinkFilter(adminA, keystore.LinkFilter{User: "bob"}); err != nil || f.User != "bob" {
		t.Errorf("admin filter %+v %v", f, err)
	}
	var de *DeniedError
	for _, tt := range []struct {
		a Actor
		f keystore.LinkFilter
	}{{siteA, keystore.LinkFilter{User: "alice"}}, {siteA, keystore.LinkFilter{KeyID: "key_abcdefghijklmnop"}}, {aliceA, keystore.LinkFilter{User: "bob"}}, {KeyActor(reader, nil, false), keystore.LinkFilter{}}} {
		if _, err := LinkFilter(tt.a, tt.f); !errors.As(err, &de) {
			t.Errorf("LinkFilter(%s, %+v) = %v, want a denial", tt.a.ID(), tt.f, err)
		}
	}
	aliceLink := &keystore.Link{ID: "x", Path: "/alice/a.pdf", KeyID: "key_alice2", User: "alice", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}
	if SeeLink(aliceA, aliceLink) != nil || SeeLink(siteA, aliceLink) == nil || SeeLink(adminA, aliceLink) != nil || SeeLink(Operator, aliceLink) != nil {
		t.Error("SeeLink: alice's keys and admins see alice's links, a site-wide key does not")
	}

	// Moving the expiry.
	at := func(d time.Duration) LinkPatch { t := now.Add(d); return LinkPatch{ExpiresAt: &t} }
	in := func(s int) LinkPatch { return LinkPatch{ExpiresIn: json.RawMessage(itoa(s))} }
	for _, tt := range []struct {
		name   string
		a      Actor
		req    LinkPatch
		issuer *keystore.Key
		want   time.Time
		field  string // a 400 naming it; "deny" for a 403
	}{
		{"shorter", aliceA, at(30 * time.Minute), alice, now.Add(30 * time.Minute), ""},
		{"into the past is now", aliceA, at(-time.Hour), alice, now, ""},
		{"longer", aliceA, in(7200), alice, now.Add(2 * time.Hour), ""},
		{"past max_lifetime", aliceA, in(5 * 86400), alice, time.Time{}, "expires_in"},
		{"past the key's expiry", aliceA, at(47*time.Hour + 2*time.Hour), alice, time.Time{}, "expires_at"},
		{"past 7 days after issue", Operator, at(7*24*time.Hour - 30*time.Minute), nil, time.Time{}, "expires_at"},
		{"the key was deleted", Operator, at(2 * time.Hour), nil, time.Time{}, "deny"},
		{"both fields", aliceA, LinkPatch{ExpiresAt: at(time.Hour).ExpiresAt, ExpiresIn: json.RawMessage("60")}, alice, time.Time{}, "body"},
		{"neither", aliceA, LinkPatch{}, alice, time.Time{}, "body"},
		{"not its link", siteA, at(30 * time.Minute), alice, time.Time{}, "deny"},
	} {
		got, err := MoveExpiry(tt.a, aliceLink, tt.issuer, tt.req, 96*time.Hour, now)
		var fe *FieldError
		switch {
		case tt.field == "deny" && !errors.As(err, &de):
			t.Errorf("%s: %v, want a denial", tt.name, err)
		case tt.field != "" && tt.field != "deny" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: %v, want a %s error", tt.name, err, tt.field)
		case tt.field == "" && (err != nil || !got.Equal(tt.want)):
			t.Errorf("%s: %v %v, want %v", tt.name, got, err, tt.want)
		}
	}
	// A key narrowed below the link's path may shorten it, not extend it.
	narrowed := KeyActor(alice, &keystore.User{Name: "alice", Scopes: []string{"/alice/x/"}, Permissions: verifier.PermSign}, false)
	if _, err := MoveExpiry(narrowed, aliceLink, alice, at(30*time.Minute), 96*time.Hour, now); err != nil {
		t.Errorf("narrowed key shortening: %v", err)
	}
	if _, err := MoveExpiry(narrowed, aliceLink, alice, at(2*time.Hour), 96*time.Hour, now); !errors.As(err, &de) {
		t.Errorf("narrowed key extending: %v, want a denial", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
