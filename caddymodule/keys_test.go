package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearer a b", "", false},
		{"Bearer a\tb", "", false},
		{"Bearerabc", "", false},
	}
	for _, tt := range tests {
		got, ok := bearerToken(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func fieldOf(err error) string {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.field
	}
	return ""
}

func TestNewKeyValidation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	tests := []struct {
		name      string
		req       createKeyRequest
		wantField string
	}{
		{"minimal", createKeyRequest{Name: "ci"}, ""},
		{"no name", createKeyRequest{}, "name"},
		{"long name", createKeyRequest{Name: strings.Repeat("n", maxNameLen+1)}, "name"},
		{"control in name", createKeyRequest{Name: "a\nb"}, "name"},
		{"padded name", createKeyRequest{Name: " a"}, "name"},
		{"bad type", createKeyRequest{Name: "a", Type: "private"}, "type"},
		{"bad permissions", createKeyRequest{Name: "a", Permissions: "write"}, "permissions"},
		{"public sign", createKeyRequest{Name: "a", Type: "public", Permissions: "sign"}, "permissions"},
		{"public read", createKeyRequest{Name: "a", Type: "public", Permissions: "read"}, ""},
		{"user without scopes", createKeyRequest{Name: "a", User: "alice"}, "scopes"},
		{"user with scopes", createKeyRequest{Name: "a", User: "alice", Scopes: []string{"/alice/"}}, ""},
		{"empty scopes", createKeyRequest{Name: "a", Scopes: []string{}}, "scopes"},
		{"relative scope", createKeyRequest{Name: "a", Scopes: []string{"alice/"}}, "scopes"},
		{"dotdot scope", createKeyRequest{Name: "a", Scopes: []string{"/alice/../bob"}}, "scopes"},
		{"glob scope", createKeyRequest{Name: "a", Scopes: []string{"/alice/*"}}, "scopes"},
		{"past expiry", createKeyRequest{Name: "a", ExpiresAt: &past}, "expires_at"},
		{"future expiry", createKeyRequest{Name: "a", ExpiresAt: &future}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, token, err := newKey(tt.req, now)
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
			if tt.req.Permissions == "" && k.Permissions != verifier.PermRead {
				t.Errorf("default permissions = %q, want read", k.Permissions)
			}
		})
	}
}

func TestApplyUpdate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	base := func() *keystore.Key {
		exp := now.Add(time.Hour)
		return &keystore.Key{ID: "key_aaaaaaaaaaaaaaaa", Name: "a", Type: verifier.KeyPublic,
			Scopes: []string{"/"}, Permissions: verifier.PermRead, ExpiresAt: &exp}
	}
	// Validation errors before touching the store.
	for _, tt := range []struct {
		req   updateKeyRequest
		field string
	}{
		{updateKeyRequest{Name: str("")}, "name"},
		{updateKeyRequest{Scopes: &[]string{"x"}}, "scopes"},
		{updateKeyRequest{Permissions: str("root")}, "permissions"},
		{updateKeyRequest{ExpiresAt: json.RawMessage(`"yesterday"`)}, "expires_at"},
		{updateKeyRequest{ExpiresAt: json.RawMessage(`"2020-01-01T00:00:00Z"`)}, "expires_at"},
	} {
		if _, err := applyUpdate(tt.req, now); fieldOf(err) != tt.field {
			t.Errorf("applyUpdate(%+v) err = %v, want field %q", tt.req, err, tt.field)
		}
	}
	// A public key cannot be raised above read: checked against the record.
	fn, err := applyUpdate(updateKeyRequest{Permissions: str("admin")}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(base()); fieldOf(err) != "permissions" {
		t.Errorf("public key to admin: err = %v", err)
	}
	// Disable, rename, clear expiry.
	fn, err = applyUpdate(updateKeyRequest{Name: str("b"), Permissions: str("none"), ExpiresAt: json.RawMessage(`null`)}, now)
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

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{``, "body"},
		{`{`, "body"},
		{`[]`, "body"},
		{`{"name": 5}`, "name"},
		{`{"scopes": "/"}`, "scopes"},
		{`{"nmae": "x"}`, "nmae"},
		{`{"expires_at": "tomorrow"}`, "expires_at"},
		{`{"name": "a"} {}`, "body"},
		{`{"name": "` + strings.Repeat("a", maxJSONBody) + `"}`, "body"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/signet/keys", strings.NewReader(tt.body))
		var req createKeyRequest
		err := decodeJSON(httptest.NewRecorder(), r, &req)
		if got := fieldOf(err); got != tt.field {
			t.Errorf("decodeJSON(%.40q) field = %q (err %v), want %q", tt.body, got, err, tt.field)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  now.Add(30 * 24 * time.Hour),
		"12h":                  now.Add(12 * time.Hour),
		"2030-01-02T15:04:05Z": time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC),
	} {
		got, err := parseExpiry(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "0s"} {
		if _, err := parseExpiry(in, now); err == nil {
			t.Errorf("parseExpiry(%q) = nil error", in)
		}
	}
}
