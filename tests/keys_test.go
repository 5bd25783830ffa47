package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestKeyLifecycle: create → 200 → disable → 403 → enable → 200 → delete → 401.
func TestKeyLifecycle(t *testing.T) {
	startCaddy(t, baseConfig)
	url := site + "/reports/q1.txt"

	expectStatus(t, "no key", do(t, "GET", url, "", nil), 401, "unauthorized")
	k := createKey(t, caddytestAdmin, map[string]any{"name": "lifecycle"})

	resp := do(t, "GET", url, k.Key, nil)
	expectStatus(t, "new key", resp, 200, "")
	if string(resp.body) != "Q1 revenue report\n" {
		t.Fatalf("body = %q", resp.body)
	}
	expectStatus(t, "HEAD", do(t, "HEAD", url, k.Key, nil), 200, "")

	patchKey(t, caddytestAdmin, k.ID, map[string]any{"permissions": "none"})
	resp = do(t, "GET", url, k.Key, nil)
	expectStatus(t, "disabled key", resp, 403, "forbidden")
	if !strings.Contains(resp.errorMessage(), "disabled") {
		t.Errorf("disabled message = %q", resp.errorMessage())
	}

	patchKey(t, caddytestAdmin, k.ID, map[string]any{"permissions": "read"})
	expectStatus(t, "re-enabled key", do(t, "GET", url, k.Key, nil), 200, "")

	if resp := do(t, "DELETE", caddytestAdmin+"/signet/keys/"+k.ID, "", nil); resp.status != 200 {
		t.Fatalf("delete: %s", resp)
	}
	resp = do(t, "GET", url, k.Key, nil)
	expectStatus(t, "deleted key", resp, 401, "unauthorized")
	if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="signet", error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	expectStatus(t, "get deleted", do(t, "GET", caddytestAdmin+"/signet/keys/"+k.ID, "", nil), 404, "not_found")
}

func TestUnauthorizedForms(t *testing.T) {
	startCaddy(t, baseConfig)
	url := site + "/reports/q1.txt"
	k := createKey(t, caddytestAdmin, map[string]any{"name": "valid"})
	// A well-formed token that was never issued: flip one character in the
	// middle and fix nothing, so the checksum fails (malformed), and a
	// fresh key deleted right away (unknown).
	gone := createKey(t, caddytestAdmin, map[string]any{"name": "gone"})
	do(t, "DELETE", caddytestAdmin+"/signet/keys/"+gone.ID, "", nil)
	flipped := []byte(k.Key)
	flipped[10] ^= 1

	resp := do(t, "GET", url, "", nil)
	expectStatus(t, "missing", resp, 401, "unauthorized")
	if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="signet"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	for name, token := range map[string]string{
		"malformed": "not-a-key",
		"checksum":  string(flipped),
		"unknown":   gone.Key,
	} {
		resp := do(t, "GET", url, token, nil)
		expectStatus(t, name, resp, 401, "unauthorized")
		if resp.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
		if strings.Contains(string(resp.body), token) {
			t.Errorf("%s: response echoes the token", name)
		}
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	if resp, err := httpClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("Basic auth: %v %v", resp, err)
	}
}

func TestExpiredKey(t *testing.T) {
	startCaddy(t, baseConfig)
	url := site + "/reports/q1.txt"
	exp := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	k := createKey(t, caddytestAdmin, map[string]any{"name": "short-lived", "expires_at": exp})
	expectStatus(t, "before expiry", do(t, "GET", url, k.Key, nil), 200, "")
	var last response
	eventually(t, 15*time.Second, "key expires", func() bool {
		last = do(t, "GET", url, k.Key, nil)
		return last.status != 200
	})
	expectStatus(t, "after expiry", last, 401, "unauthorized")
	if !strings.Contains(last.errorMessage(), "expired") {
		t.Errorf("message = %q, want it to say expired", last.errorMessage())
	}
}

func TestScopesAndKeyTypes(t *testing.T) {
	startCaddy(t, baseConfig)
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/alice/"}})
	alice := createKey(t, caddytestAdmin, map[string]any{"name": "alice", "user": "alice", "scopes": []string{"/alice/"}})
	pub := createKey(t, caddytestAdmin, map[string]any{"name": "pub", "type": "public", "scopes": []string{"/reports"}})
	if !strings.HasPrefix(pub.Key, "pk_") || !strings.HasPrefix(alice.Key, "sk_") {
		t.Fatalf("prefixes: %q %q", pub.Key[:3], alice.Key[:3])
	}
	tests := []struct {
		what, token, path string
		status            int
		code              string
	}{
		{"user key in scope", alice.Key, "/alice/notes.txt", 200, ""},
		{"user key: sibling with same prefix", alice.Key, "/alice2/secret.txt", 403, "forbidden"},
		{"user key: other folder", alice.Key, "/reports/q1.txt", 403, "forbidden"},
		{"public key reads in scope", pub.Key, "/reports/q1.txt", 200, ""},
		{"public key out of scope", pub.Key, "/alice/notes.txt", 403, "forbidden"},
		{"public path without a key", "", "/public/hello.txt", 200, ""},
		{"public path with a foreign key", alice.Key, "/public/hello.txt", 200, ""},
	}
	for _, tt := range tests {
		expectStatus(t, tt.what, do(t, "GET", site+tt.path, tt.token, nil), tt.status, tt.code)
	}
	// Signet guards reading: no key, not even admin, lets other methods through.
	admin := createKey(t, caddytestAdmin, map[string]any{"name": "admin", "permissions": "admin"})
	expectStatus(t, "read key POST", do(t, "POST", site+"/alice/notes.txt", alice.Key, "x"), 405, "method_not_allowed")
	expectStatus(t, "read key DELETE", do(t, "DELETE", site+"/alice/notes.txt", alice.Key, nil), 405, "method_not_allowed")
	resp := do(t, "PUT", site+"/alice/notes.txt", admin.Key, "x")
	expectStatus(t, "admin key PUT", resp, 405, "method_not_allowed")
	if resp.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow = %q", resp.header.Get("Allow"))
	}
	// public keys cannot hold more than read
	resp = do(t, "POST", caddytestAdmin+"/signet/keys", "", map[string]any{"name": "p", "type": "public", "permissions": "sign"})
	expectStatus(t, "public sign key", resp, 400, "bad_request")
}

func TestAmbiguousPathsRefused(t *testing.T) {
	startCaddy(t, baseConfig)
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/alice/"}})
	k := createKey(t, caddytestAdmin, map[string]any{"name": "alice", "user": "alice", "scopes": []string{"/alice/"}})
	for _, p := range []string{
		"/alice/../reports/q1.txt",
		"/alice/%2e%2e/reports/q1.txt",
		"/alice/./notes.txt",
		"/alice//notes.txt",
		"/alice%2Fnotes.txt",
		"/alice/%2Fnotes.txt",
		"/alice/notes.txt%00",
		"/alice/%5C..%5Creports",
		"/alice/%ff.txt",
	} {
		// Send the path as is: net/http would clean some of these.
		req, _ := http.NewRequest("GET", site+"/", nil)
		req.URL.Opaque = p
		req.Header.Set("Authorization", "Bearer "+k.Key)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("GET %s = %d, want 400", p, resp.StatusCode)
		}
	}
}

// TestAuthorizationNotForwarded puts Signet in front of a reverse_proxy
// whose upstream records what it receives.
func TestAuthorizationNotForwarded(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	var seenQueries []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		seenQueries = append(seenQueries, r.URL.RawQuery)
		mu.Unlock()
		w.Write([]byte("from upstream " + r.URL.Path))
	}))
	defer upstream.Close()
	startCaddy(t, strings.Replace(baseConfig, "file_server", "reverse_proxy "+upstream.Listener.Addr().String(), 1))
	k := createKey(t, caddytestAdmin, map[string]any{"name": "proxy"})

	resp := do(t, "GET", site+"/reports/q1.txt", k.Key, nil)
	expectStatus(t, "proxied", resp, 200, "")
	if string(resp.body) != "from upstream /reports/q1.txt" {
		t.Fatalf("body %q", resp.body)
	}
	// public path, key and a signature parameter sent anyway
	expectStatus(t, "public", do(t, "GET", site+"/public/hello.txt?sig=abc&lang=en", k.Key, nil), 200, "")
	expectStatus(t, "denied", do(t, "GET", site+"/reports/q1.txt", "", nil), 401, "")

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("upstream saw %d requests, want 2 (the denied one must not reach it)", len(seen))
	}
	for _, h := range seen {
		if v, ok := h["Authorization"]; ok {
			t.Errorf("upstream received Authorization: %q", v)
		}
	}
	if q := seenQueries[1]; q != "lang=en" {
		t.Errorf("upstream query on the public path = %q, want lang=en", q)
	}
}

func TestPlaceholders(t *testing.T) {
	startCaddy(t, `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	signet {
		store file {STORE}
	}
}
http://localhost:9080 {
	signet
	respond "id={http.auth.user.id} key={http.signet.key_id} name={http.signet.key_name} user={http.signet.user} cred={http.signet.credential}"
}
`)
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/"}})
	k := createKey(t, caddytestAdmin, map[string]any{"name": "ph", "user": "alice", "scopes": []string{"/"}})
	resp := do(t, "GET", site+"/x", k.Key, nil)
	want := "id=" + k.ID + " key=" + k.ID + " name=ph user=alice cred=bearer"
	if resp.status != 200 || string(resp.body) != want {
		t.Fatalf("got %s, want 200 %s", resp, want)
	}
}

// TestAdminAPI checks the admin endpoints' shapes and their 400s.
func TestAdminAPI(t *testing.T) {
	startCaddy(t, baseConfig)
	admin := caddytestAdmin + "/signet/keys"
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/alice/", "/shared/"}, "permissions": "sign"})
	k := createKey(t, caddytestAdmin, map[string]any{
		"name": "full", "type": "secret", "user": "alice", "scopes": []string{"/alice/", "/shared/"},
		"permissions": "sign", "expires_at": "2099-01-01T00:00:00Z",
	})
	if k.Hint != k.Key[len(k.Key)-4:] || k.Permissions != "sign" || k.User != "alice" || len(k.Scopes) != 2 {
		t.Fatalf("created %+v", k)
	}

	// Neither list nor get ever contains the value.
	for _, url := range []string{admin, admin + "/" + k.ID} {
		resp := do(t, "GET", url, "", nil)
		if resp.status != 200 || strings.Contains(string(resp.body), k.Key) || strings.Contains(string(resp.body), `"key"`) {
			t.Fatalf("GET %s: %s", url, resp)
		}
	}
	var list struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(do(t, "GET", admin, "", nil).body, &list); err != nil || len(list.Keys) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	if list.Keys[0]["id"] != k.ID || list.Keys[0]["expires_at"] != "2099-01-01T00:00:00Z" {
		t.Errorf("listed %+v", list.Keys[0])
	}

	// PATCH: rename, scopes, expiry removal.
	resp := do(t, "PATCH", admin+"/"+k.ID, "", map[string]any{"name": "renamed", "scopes": []string{"/alice/"}, "expires_at": nil})
	var got map[string]any
	_ = json.Unmarshal(resp.body, &got)
	if resp.status != 200 || got["name"] != "renamed" || got["expires_at"] != nil || len(got["scopes"].([]any)) != 1 {
		t.Fatalf("patch: %s", resp)
	}

	bad := []struct {
		method, url string
		body        any
		status      int
		field       string
	}{
		{"POST", admin, map[string]any{}, 400, "name"},
		{"POST", admin, map[string]any{"name": "x", "type": "root"}, 400, "type"},
		{"POST", admin, map[string]any{"name": "x", "scopes": []string{"../etc"}}, 400, "scopes"},
		{"POST", admin, map[string]any{"name": "x", "scopes": "/"}, 400, "scopes"},
		{"POST", admin, map[string]any{"name": "x", "permissions": "root"}, 400, "permissions"},
		{"POST", admin, map[string]any{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"},
		{"POST", admin, map[string]any{"name": "x", "expires_at": "next week"}, 400, "expires_at"},
		{"POST", admin, map[string]any{"name": "x", "colour": "red"}, 400, "colour"},
		{"POST", admin, "{not json", 400, "body"},
		{"POST", admin, strings.Repeat(" ", 70<<10) + "{}", 400, "body"},
		{"PATCH", admin + "/" + k.ID, map[string]any{"permissions": "everything"}, 400, "permissions"},
		{"PATCH", admin + "/" + k.ID, map[string]any{"name": ""}, 400, "name"},
		{"PATCH", admin + "/" + k.ID, map[string]any{}, 400, "body"},
		{"PATCH", admin + "/key_aaaaaaaaaaaaaaaa", map[string]any{"name": "x"}, 404, ""},
		{"GET", admin + "/nonsense", nil, 404, ""},
		{"PUT", admin, nil, 405, ""},
	}
	for _, b := range bad {
		resp := do(t, b.method, b.url, "", b.body)
		var e struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if err := json.Unmarshal(resp.body, &e); err != nil || resp.status != b.status || e.Error.Field != b.field || e.Error.Message == "" {
			t.Errorf("%s %s %.60v: got %s, want %d naming %q", b.method, b.url, b.body, resp, b.status, b.field)
		}
	}
}

// TestCaddyfileErrors checks that bad configuration fails to load with a
// message that says what is wrong.
func TestCaddyfileErrors(t *testing.T) {
	cases := map[string]struct{ global, directive, want string }{
		"unknown global option": {"colour blue", "", `unrecognized signet option \"colour\"`},
		"bad duration":          {"last_used_interval soon", "", `last_used_interval: bad duration \"soon\"`},
		"redis unreachable":     {"store redis redis://127.0.0.1:1", "", "store redis: cannot reach Redis"},
		"unknown site option":   {"", "colour blue", `unrecognized signet option \"colour\", at Caddyfile:10`},
		"bad scope":             {"", "public ../secret", `public: bad path prefix \"../secret\"`},
		"short secret":          {"signing_secret k1 tooshort", "", "must be at least 32 bytes"},
		"bad secret id":         {"signing_secret k/1 " + strings.Repeat("s", 32), "", "signing_secret: id"},
		"lifetime over 7d":      {"max_lifetime 8d", "", "max_lifetime: must be between 1s and 7d"},
		"bad base_url":          {"base_url files.example.com", "", "base_url:"},
		"bad api prefix":        {"", "api /a/../b", "is not a clean absolute path prefix such as /_signet/v1"},
		"bad rate limit":        {"", "rate_limit key many 1s", "rate_limit: events must be"},
		"bad rate kind":         {"", "rate_limit user 5 1s", "neither key nor client"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// AssertLoadError matches the admin API's JSON error text, in
			// which quotes are escaped.
			global := c.global
			if global == "" {
				global = "store file " + t.TempDir() + "/signet.db"
			}
			cfg := `{
	admin localhost:2999
	http_port 9080
	signet {
		` + global + `
	}
}
http://localhost:9080 {
	signet {
		` + c.directive + `
	}
	respond ok
}
`
			caddytest.AssertLoadError(t, cfg, "caddyfile", c.want)
		})
	}
}
