package rules

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

func fieldOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func reasonOf(err error) string {
	var de *DeniedError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func key(typ verifier.KeyType, perm verifier.Permission, scopes ...string) *keystore.Key {
	if len(scopes) == 0 {
		scopes = []string{"/"}
	}
	return &keystore.Key{ID: "key_aaaaaaaaaaaaaaaa", Name: "k", Type: typ, Scopes: scopes, Permissions: perm}
}

// site is the holder of a site-wide key.
func site(typ verifier.KeyType, perm verifier.Permission, scopes ...string) Actor {
	return KeyActor(key(typ, perm, scopes...), nil, false)
}

// testUsers knows the users alice (/alice/, sign, self-service) and bob
// (/bob/, read).
func testUsers(name string) *keystore.User {
	switch name {
	case "alice":
		return &keystore.User{Name: "alice", Scopes: []string{"/alice/"}, Permissions: verifier.PermSign, SelfService: true}
	case "bob":
		return &keystore.User{Name: "bob", Scopes: []string{"/bob/"}, Permissions: verifier.PermRead}
	}
	return nil
}

func TestNewKeyValidation(t *testing.T) {
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	tests := []struct {
		name      string
		req       NewKeyRequest
		wantField string
	}{
		{"minimal", NewKeyRequest{Name: "ci"}, ""},
		{"no name", NewKeyRequest{}, "name"},
		{"long name", NewKeyRequest{Name: strings.Repeat("n", MaxNameLen+1)}, "name"},
		{"control in name", NewKeyRequest{Name: "a\nb"}, "name"},
		{"padded name", NewKeyRequest{Name: " a"}, "name"},
		{"bad type", NewKeyRequest{Name: "a", Type: "private"}, "type"},
		{"bad permissions", NewKeyRequest{Name: "a", Permissions: "write"}, "permissions"},
		{"public sign", NewKeyRequest{Name: "a", Type: "public", Permissions: "sign"}, "permissions"},
		{"public read", NewKeyRequest{Name: "a", Type: "public", Permissions: "read"}, ""},
		{"user key follows its user", NewKeyRequest{Name: "a", User: "alice"}, ""},
		{"unknown user", NewKeyRequest{Name: "a", User: "nobody"}, "user"},
		{"user with scopes", NewKeyRequest{Name: "a", User: "alice", Scopes: []string{"/alice/"}}, ""},
		{"empty scopes", NewKeyRequest{Name: "a", Scopes: []string{}}, "scopes"},
		{"relative scope", NewKeyRequest{Name: "a", Scopes: []string{"alice/"}}, "scopes"},
		{"dotdot scope", NewKeyRequest{Name: "a", Scopes: []string{"/alice/../bob"}}, "scopes"},
		{"glob scope", NewKeyRequest{Name: "a", Scopes: []string{"/alice/*"}}, "scopes"},
		{"path parameter in scope", NewKeyRequest{Name: "a", Scopes: []string{"/a;b/"}}, "scopes"},
		{"past expiry", NewKeyRequest{Name: "a", ExpiresAt: &past}, "expires_at"},
		{"future expiry", NewKeyRequest{Name: "a", ExpiresAt: &future}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, token, err := NewKey(Operator, tt.req, testUsers, now)
			if got := fieldOf(err); got != tt.wantField {
				t.Fatalf("field = %q (err %v), want %q", got, err, tt.wantField)
			}
			if tt.wantField != "" {
				return
			}
			typ, digest, err := verifier.ParseKeyToken(token)
			if err != nil || digest != k.Digest || typ != k.Type {
				t.Fatalf("token does not match record: %v", err)
			}
			if k.Hint != token[len(token)-4:] || !keystore.ValidKeyID(k.ID) {
				t.Errorf("hint %q / id %q", k.Hint, k.ID)
			}
			if tt.req.Scopes == nil && tt.req.User == "" && (len(k.Scopes) != 1 || k.Scopes[0] != "/") {
				t.Errorf("default scopes = %v, want [/]", k.Scopes)
			}
			if tt.req.Permissions == "" && tt.req.User == "" && k.Permissions != verifier.PermRead {
				t.Errorf("default permissions = %q, want read", k.Permissions)
			}
		})
	}
}

func TestUpdateKey(t *testing.T) {
	str := func(s string) *string { return &s }
	base := func() *keystore.Key {
		exp := now.Add(time.Hour)
		return &keystore.Key{ID: "key_aaaaaaaaaaaaaaaa", Name: "a", Type: verifier.KeyPublic,
			Scopes: []string{"/"}, Permissions: verifier.PermRead, ExpiresAt: &exp}
	}
	// Validation errors before touching the store.
	for _, tt := range []struct {
		req   KeyUpdate
		field string
	}{
		{KeyUpdate{}, "body"},
		{KeyUpdate{Name: str("")}, "name"},
		{KeyUpdate{Scopes: &[]string{"x"}}, "scopes"},
		{KeyUpdate{Permissions: str("root")}, "permissions"},
		{KeyUpdate{ExpiresAt: json.RawMessage(`"yesterday"`)}, "expires_at"},
		{KeyUpdate{ExpiresAt: json.RawMessage(`"2020-01-01T00:00:00Z"`)}, "expires_at"},
	} {
		if _, err := UpdateKey(Operator, tt.req, testUsers, now); fieldOf(err) != tt.field {
			t.Errorf("UpdateKey(%+v) err = %v, want field %q", tt.req, err, tt.field)
		}
	}
	// A public key cannot be raised above read: checked against the record.
	fn, err := UpdateKey(Operator, KeyUpdate{Permissions: str("admin")}, testUsers, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(base()); fieldOf(err) != "permissions" {
		t.Errorf("public key to admin: err = %v", err)
	}
	// Disable, rename, clear expiry.
	fn, err = UpdateKey(Operator, KeyUpdate{Name: str("b"), Permissions: str("none"), ExpiresAt: json.RawMessage(`null`)}, testUsers, now)
	if err != nil {
		t.Fatal(err)
	}
	k := base()
	if err := fn(k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "b" || k.Permissions != verifier.PermNone || k.ExpiresAt != nil || !k.UpdatedAt.Equal(now) {
		t.Errorf("after update: %+v", k)
	}
}

// TestWhoManagesKeys: site administrators only.
func TestWhoManagesKeys(t *testing.T) {
	for _, tt := range []struct {
		name  string
		actor Actor
		ok    bool
	}{
		{"operator", Operator, true},
		{"secret admin key", site(verifier.KeySecret, verifier.PermAdmin), true},
		{"secret sign key", site(verifier.KeySecret, verifier.PermSign), false},
		{"secret read key", site(verifier.KeySecret, verifier.PermRead), false},
		{"public key", site(verifier.KeyPublic, verifier.PermRead), false},
		{"public key claiming admin", site(verifier.KeyPublic, verifier.PermAdmin), false},
	} {
		_, _, errNew := NewKey(tt.actor, NewKeyRequest{Name: "x", Permissions: "admin"}, testUsers, now)
		_, errUpd := UpdateKey(tt.actor, KeyUpdate{Permissions: new(string)}, testUsers, now)
		other := key(verifier.KeySecret, verifier.PermRead)
		errDel, errRead := DeleteKey(tt.actor, other), MayListKeys(tt.actor)
		for op, err := range map[string]error{"create": errNew, "update": errUpd, "delete": errDel, "read": errRead} {
			if op == "update" && tt.ok {
				continue // the empty permissions string is a field error for admins
			}
			if got := reasonOf(err) == ""; got != tt.ok {
				t.Errorf("%s %s: err %v, want allowed=%v", tt.name, op, err, tt.ok)
			}
		}
	}
}

func TestSigning(t *testing.T) {
	exp := now.Add(time.Hour)
	expiring := key(verifier.KeySecret, verifier.PermSign, "/reports/")
	expiring.ExpiresAt = &exp
	for _, tt := range []struct {
		name     string
		actor    Actor
		path     string
		may, cov string // the denial reason, or "" when allowed
	}{
		{"operator", Operator, "/x", "", ""},
		{"sign key in scope", site(verifier.KeySecret, verifier.PermSign, "/reports/"), "/reports/q1.pdf", "", ""},
		{"sign key out of scope", site(verifier.KeySecret, verifier.PermSign, "/reports/"), "/reports2/q1.pdf", "", "scope"},
		{"admin key", site(verifier.KeySecret, verifier.PermAdmin), "/any", "", ""},
		{"read key", site(verifier.KeySecret, verifier.PermRead), "/any", "permission", ""},
		{"disabled key", site(verifier.KeySecret, verifier.PermNone), "/any", "permission", ""},
		{"public key", site(verifier.KeyPublic, verifier.PermRead), "/any", "public_key", ""},
	} {
		if got := reasonOf(MaySign(tt.actor)); got != tt.may {
			t.Errorf("%s: MaySign reason %q, want %q", tt.name, got, tt.may)
		}
		if got := reasonOf(Covers(tt.actor, tt.path)); got != tt.cov {
			t.Errorf("%s: Covers reason %q, want %q", tt.name, got, tt.cov)
		}
	}
	// Lifetimes are capped at the key's expiry, never past it.
	if got, err := LinkExpiry(KeyActor(expiring, nil, false), 2*time.Hour, now); err != nil || !got.Equal(exp) {
		t.Errorf("LinkExpiry capped = %v, %v; want %v", got, err, exp)
	}
	if got, err := LinkExpiry(Operator, 2*time.Hour, now); err != nil || !got.Equal(now.Add(2*time.Hour)) {
		t.Errorf("LinkExpiry operator = %v, %v", got, err)
	}
	if _, err := LinkExpiry(KeyActor(expiring, nil, false), time.Hour, exp); !errors.Is(err, ErrKeyExpiresTooSoon) {
		t.Errorf("LinkExpiry at key expiry: %v", err)
	}
	for raw, field := range map[string]string{``: "expires_in", `null`: "expires_in", `"60"`: "expires_in", `1.5`: "expires_in",
		`0`: "expires_in", `604801`: "expires_in", `60`: "", `604800`: ""} {
		if _, err := ExpiresIn(json.RawMessage(raw), 7*24*time.Hour); fieldOf(err) != field {
			t.Errorf("ExpiresIn(%q) = %v, want field %q", raw, err, field)
		}
	}
}

func TestVouches(t *testing.T) {
	exp := now.Add(-time.Second)
	expired := key(verifier.KeySecret, verifier.PermSign)
	expired.ExpiresAt = &exp
	for _, tt := range []struct {
		name string
		k    *keystore.Key
		path string
		ok   bool
	}{
		{"deleted", nil, "/a", false},
		{"expired", expired, "/a", false},
		{"disabled", key(verifier.KeySecret, verifier.PermNone), "/a", false},
		{"downgraded to read", key(verifier.KeySecret, verifier.PermRead), "/a", false},
		{"scope narrowed", key(verifier.KeySecret, verifier.PermSign, "/b/"), "/a", false},
		{"sign", key(verifier.KeySecret, verifier.PermSign), "/a", true},
		{"admin", key(verifier.KeySecret, verifier.PermAdmin), "/a", true},
	} {
		var acc Access
		if tt.k != nil {
			acc = Effective(tt.k, nil)
		}
		if got := Vouches(tt.k, acc, tt.path, now) == ""; got != tt.ok {
			t.Errorf("%s: vouches = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestMayRevoke(t *testing.T) {
	sign := key(verifier.KeySecret, verifier.PermSign)
	other := &verifier.Claims{KeyID: "key_bbbbbbbbbbbbbbbb"}
	own := &verifier.Claims{KeyID: sign.ID}
	url := &keystore.Revocation{Kind: keystore.RevokeURL}
	for _, tt := range []struct {
		name   string
		actor  Actor
		req    RevokeRequest
		rev    *keystore.Revocation
		claims *verifier.Claims
		ok     bool
	}{
		{"operator anything", Operator, RevokeRequest{Prefix: "/"}, url, nil, true},
		{"admin key anything", site(verifier.KeySecret, verifier.PermAdmin), RevokeRequest{KeyID: "key_bbbbbbbbbbbbbbbb"}, url, nil, true},
		{"sign key own URL", KeyActor(sign, nil, false), RevokeRequest{URL: "u"}, url, own, true},
		{"sign key another key's URL", KeyActor(sign, nil, false), RevokeRequest{URL: "u"}, url, other, false},
		{"sign key expired URL", KeyActor(sign, nil, false), RevokeRequest{URL: "u"}, nil, nil, true},
		{"sign key own key_id", KeyActor(sign, nil, false), RevokeRequest{KeyID: sign.ID}, url, nil, true},
		{"sign key other key_id", KeyActor(sign, nil, false), RevokeRequest{KeyID: "key_bbbbbbbbbbbbbbbb"}, url, nil, false},
		{"sign key prefix", KeyActor(sign, nil, false), RevokeRequest{Prefix: "/"}, url, nil, false},
		{"sign key by id", KeyActor(sign, nil, false), RevokeRequest{ID: "x"}, url, nil, false},
		{"read key own key_id", site(verifier.KeySecret, verifier.PermRead), RevokeRequest{KeyID: sign.ID}, url, nil, false},
		{"public key", site(verifier.KeyPublic, verifier.PermRead), RevokeRequest{URL: "u"}, nil, nil, false},
	} {
		if got := MayRevoke(tt.actor, tt.req, tt.rev, tt.claims) == nil; got != tt.ok {
			t.Errorf("%s: allowed = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestPolicy(t *testing.T) {
	good := []PolicyRequest{
		{DownloadName: "日本語 report.pdf"},
		{DownloadName: `a "quoted" name; v2.pdf`, Inline: true},
		{ContentType: "text/plain; charset=utf-8"},
		{ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{MaxUses: json.RawMessage("3")},
		{ClientCIDR: "203.0.113.0/24"},
		{ClientCIDR: "2001:db8::1"},
	}
	for _, req := range good {
		if _, err := Policy(req, false); err != nil {
			t.Errorf("Policy(%+v): %v", req, err)
		}
	}
	bad := map[string]PolicyRequest{
		"download_name": {DownloadName: "a\r\nSet-Cookie: x=1"},
		"content_type":  {ContentType: "text/html"},
		"max_uses":      {MaxUses: json.RawMessage(`"3"`)},
		"client_cidr":   {ClientCIDR: "203.0.113.7/24"},
	}
	for field, req := range bad {
		var fe *FieldError
		if _, err := Policy(req, false); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("Policy(%+v) = %v, want a %s error", req, err, field)
		}
	}
	for _, ct := range []string{"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"text/javascript", "application/x-javascript", "multipart/x-mixed-replace; boundary=x", "text/xsl"} {
		if _, err := Policy(PolicyRequest{ContentType: ct}, false); err == nil {
			t.Errorf("content_type %q accepted", ct)
		}
	}
	for _, max := range []string{"0", "-1", "1.5", "1e3", "1000001"} {
		if _, err := Policy(PolicyRequest{MaxUses: json.RawMessage(max)}, false); err == nil {
			t.Errorf("max_uses %s accepted", max)
		}
	}
	// A folder link takes max_uses and client_cidr, not response headers.
	if _, err := Policy(PolicyRequest{MaxUses: json.RawMessage("2"), ClientCIDR: "10.0.0.0/8"}, true); err != nil {
		t.Errorf("folder: %v", err)
	}
	for _, req := range []PolicyRequest{{DownloadName: "x.pdf"}, {Inline: true}, {ContentType: "text/plain"}} {
		if _, err := Policy(req, true); err == nil {
			t.Errorf("folder link with %+v accepted", req)
		}
	}
}
