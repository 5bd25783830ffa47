package tests

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRevocationAPIs revokes single links through the admin API and the
// public API on the embedded store.
func TestRevocationAPIs(t *testing.T) {
	startCaddy(t, baseConfig)
	alice := signer(t, map[string]any{"name": "alice"})
	bob := signer(t, map[string]any{"name": "bob"})
	admin := signer(t, map[string]any{"name": "admin", "permissions": "admin"})
	reader := createKey(t, caddytestAdmin, map[string]any{"name": "reader"})
	revokeURL := site + "/_signet/v1/revocations"

	// Admin API: by whole URL, then by id.
	s1 := signURL(t, alice.Key, "/reports/q1.txt", 3600)
	resp := do(t, "POST", caddytestAdmin+"/signet/revocations", "", map[string]any{"url": s1.URL})
	var rr struct {
		Revocation struct {
			Kind, Target string
			ExpiresAt    string `json:"expires_at"`
		}
	}
	if err := json.Unmarshal(resp.body, &rr); resp.status != 200 || err != nil || rr.Revocation.Kind != "url" || rr.Revocation.Target != s1.ID {
		t.Fatalf("admin revoke by URL: %s", resp)
	}
	expectStatus(t, "revoked by URL", do(t, "GET", s1.URL, "", nil), 403, "revoked")
	s2 := signURL(t, alice.Key, "/reports/q1.txt", 3600)
	expectStatus(t, "admin revoke by id", do(t, "POST", caddytestAdmin+"/signet/revocations", "", map[string]any{"id": s2.ID}), 200, "")
	expectStatus(t, "revoked by id", do(t, "GET", s2.URL, "", nil), 403, "revoked")

	// Public API: a sign key revokes its own link, not another key's.
	s3 := signURL(t, alice.Key, "/reports/q1.txt", 3600)
	s4 := signURL(t, bob.Key, "/reports/q1.txt", 3600)
	expectStatus(t, "alice revokes bob's link", do(t, "POST", revokeURL, alice.Key, map[string]any{"url": s4.URL}), 403, "forbidden")
	expectStatus(t, "alice revokes by id", do(t, "POST", revokeURL, alice.Key, map[string]any{"id": s3.ID}), 403, "forbidden")
	expectStatus(t, "alice revokes her link", do(t, "POST", revokeURL, alice.Key, map[string]any{"url": s3.URL}), 200, "")
	expectStatus(t, "alice's link", do(t, "GET", s3.URL, "", nil), 403, "revoked")
	expectStatus(t, "bob's link untouched", do(t, "GET", s4.URL, "", nil), 200, "")
	expectStatus(t, "read key may not revoke", do(t, "POST", revokeURL, reader.Key, map[string]any{"url": s4.URL}), 403, "forbidden")
	expectStatus(t, "no key", do(t, "POST", revokeURL, "", map[string]any{"url": s4.URL}), 401, "unauthorized")
	expectStatus(t, "admin key revokes bob's link", do(t, "POST", revokeURL, admin.Key, map[string]any{"url": s4.URL}), 200, "")
	expectStatus(t, "bob's link", do(t, "GET", s4.URL, "", nil), 403, "revoked")

	// A key revokes everything it issued so far.
	s5 := signURL(t, bob.Key, "/alice/notes.txt", 3600)
	expectStatus(t, "bob revokes all his links", do(t, "POST", revokeURL, bob.Key, map[string]any{"key_id": bob.ID}), 200, "")
	expectStatus(t, "bob's other link", do(t, "GET", s5.URL, "", nil), 403, "revoked")
	expectStatus(t, "bob's key itself", do(t, "GET", site+"/reports/q1.txt", bob.Key, nil), 200, "")

	// Bad input names the field.
	for name, c := range map[string]struct {
		body  any
		field string
	}{
		"nothing":      {map[string]any{}, "body"},
		"two things":   {map[string]any{"id": s1.ID, "prefix": "/a/"}, "body"},
		"bad id":       {map[string]any{"id": "short"}, "id"},
		"bad key id":   {map[string]any{"key_id": "alice"}, "key_id"},
		"bad prefix":   {map[string]any{"prefix": "/a/../b"}, "prefix"},
		"not a URL":    {map[string]any{"url": "hello"}, "url"},
		"tampered URL": {map[string]any{"url": strings.Replace(s5.URL, "notes", "notez", 1)}, "url"},
	} {
		resp := do(t, "POST", caddytestAdmin+"/signet/revocations", "", c.body)
		var e struct{ Error struct{ Code, Field string } }
		_ = json.Unmarshal(resp.body, &e)
		if resp.status != 400 || e.Error.Field != c.field {
			t.Errorf("%s: %s, want 400 naming %s", name, resp, c.field)
		}
	}

	// The list shows what is enforced.
	var list struct {
		Revocations []map[string]any `json:"revocations"`
	}
	if err := json.Unmarshal(do(t, "GET", caddytestAdmin+"/signet/revocations", "", nil).body, &list); err != nil || len(list.Revocations) != 5 {
		t.Fatalf("list: %v %d", err, len(list.Revocations))
	}
}
