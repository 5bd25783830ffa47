package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const signPrefix = site + "/_signet/v1/files"

// signed is a signing endpoint response.
type signed struct {
	URL       string    `json:"url"`
	PathURL   string    `json:"path_url"`
	Path      string    `json:"path"`
	Folder    bool      `json:"folder"`
	ExpiresAt time.Time `json:"expires_at"`
	ID        string    `json:"id"`
}

// signURL asks the signing endpoint for a URL to path and fails the test
// unless it answers 200.
func signURL(t testing.TB, token, path string, expiresIn int) signed {
	t.Helper()
	resp := do(t, "POST", signPrefix+path+"/signed-url", token, map[string]any{"expires_in": expiresIn})
	if resp.status != 200 {
		t.Fatalf("sign %s: %s", path, resp)
	}
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || s.URL == "" || s.ID == "" {
		t.Fatalf("sign response %s: %v", resp.body, err)
	}
	return s
}

func signer(t testing.TB, extra map[string]any) createdKey {
	req := map[string]any{"name": "signer", "permissions": "sign"}
	for k, v := range extra {
		req[k] = v
	}
	return createKey(t, caddytestAdmin, req)
}

// TestSeedFlow: create a secret key, POST signed-url, GET the URL; the
// file's bytes come back, and Range and conditional requests behave as
// with plain file_server.
func TestSeedFlow(t *testing.T) {
	startCaddy(t, baseConfig)
	k := signer(t, nil)
	before := time.Now()
	s := signURL(t, k.Key, "/reports/q1.txt", 3600)
	if !strings.HasPrefix(s.URL, site+"/reports/q1.txt?sig=") {
		t.Fatalf("url %q", s.URL)
	}
	if d := s.ExpiresAt.Sub(before); d < 3599*time.Second || d > 3601*time.Second {
		t.Errorf("expires_at %s is not an hour from now", s.ExpiresAt)
	}
	resp := do(t, "GET", s.URL, "", nil)
	if resp.status != 200 || string(resp.body) != "Q1 revenue report\n" {
		t.Fatalf("GET signed URL: %s", resp)
	}
	etag := resp.header.Get("Etag")
	expectStatus(t, "HEAD", do(t, "HEAD", s.URL, "", nil), 200, "")

	req, _ := http.NewRequest("GET", s.URL, nil)
	req.Header.Set("Range", "bytes=0-1")
	r, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 206 || r.ContentLength != 2 {
		t.Errorf("Range: %d, %d bytes", r.StatusCode, r.ContentLength)
	}
	req, _ = http.NewRequest("GET", s.URL, nil)
	req.Header.Set("If-None-Match", etag)
	if r, err = httpClient.Do(req); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if etag == "" || r.StatusCode != 304 {
		t.Errorf("conditional GET with ETag %q: %d, want 304", etag, r.StatusCode)
	}
}

// TestTamperedURLs: changing any part of a signed URL is refused with 403.
func TestTamperedURLs(t *testing.T) {
	startCaddy(t, baseConfig)
	k := signer(t, nil)
	s := signURL(t, k.Key, "/reports/q1.txt", 3600)
	u, _ := url.Parse(s.URL)
	token := u.Query().Get("sig")
	flip := func(i int) string {
		b := []byte(token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := map[string]struct {
		method, url, host, code string
	}{
		"token first byte":  {"GET", site + "/reports/q1.txt?sig=" + flip(0), "", "malformed_signature"},
		"token middle byte": {"GET", site + "/reports/q1.txt?sig=" + flip(len(token)/2), "", "invalid_signature"},
		"token last byte":   {"GET", site + "/reports/q1.txt?sig=" + flip(len(token)-2), "", "invalid_signature"},
		"token truncated":   {"GET", site + "/reports/q1.txt?sig=" + token[:len(token)-4], "", "malformed_signature"},
		"other path":        {"GET", site + "/alice/notes.txt?sig=" + token, "", "invalid_signature"},
		"path case":         {"GET", site + "/Reports/q1.txt?sig=" + token, "", "invalid_signature"},
		"trailing slash":    {"GET", site + "/reports/q1.txt/?sig=" + token, "", "invalid_signature"},
		"added parameter":   {"GET", s.URL + "&download=1", "", "invalid_signature"},
		"repeated sig":      {"GET", s.URL + "&sig=" + token, "", "malformed_signature"},
		"other port":        {"GET", s.URL, "localhost:9081", "invalid_signature"},
		"method":            {"POST", s.URL, "", "method_not_allowed"},
	}
	for name, c := range cases {
		req, _ := http.NewRequest(c.method, c.url, nil)
		if c.host != "" {
			req.Host = c.host
		}
		r, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error struct{ Code string } }
		_ = json.NewDecoder(r.Body).Decode(&e)
		r.Body.Close()
		if r.StatusCode != 403 || e.Error.Code != c.code {
			t.Errorf("%s: %d %q, want 403 %q", name, r.StatusCode, e.Error.Code, c.code)
		}
	}
	expectStatus(t, "untampered", do(t, "GET", s.URL, "", nil), 200, "")
	// A signed URL does not need, and is not helped by, a bearer key.
	expectStatus(t, "tampered with a valid key", do(t, "GET", site+"/alice/notes.txt?sig="+token, k.Key, nil), 403, "invalid_signature")
}

func TestSignedURLExpires(t *testing.T) {
	startCaddy(t, baseConfig)
	s := signURL(t, signer(t, nil).Key, "/reports/q1.txt", 1)
	var last response
	eventually(t, 10*time.Second, "signed URL expires", func() bool {
		last = do(t, "GET", s.URL, "", nil)
		return last.status != 200
	})
	expectStatus(t, "after expiry", last, 403, "expired")
}

// TestSigningEndpointErrors covers the endpoint's 400/401/403/404/405.
func TestSigningEndpointErrors(t *testing.T) {
	startCaddy(t, baseConfig)
	createUser(t, caddytestAdmin, map[string]any{"name": "alice", "scopes": []string{"/alice/", "/reports/"}, "permissions": "sign"})
	k := signer(t, map[string]any{"user": "alice", "scopes": []string{"/alice/", "/reports/"}})
	pub := createKey(t, caddytestAdmin, map[string]any{"name": "pub", "type": "public"})
	reader := createKey(t, caddytestAdmin, map[string]any{"name": "reader"})
	endpoint := signPrefix + "/reports/q1.txt/signed-url"

	for name, body := range map[string]any{
		"zero":          `{"expires_in": 0}`,
		"negative":      `{"expires_in": -1}`,
		"too long":      `{"expires_in": 604801}`,
		"string":        `{"expires_in": "abc"}`,
		"numeric text":  `{"expires_in": "3600"}`,
		"fraction":      `{"expires_in": 1.5}`,
		"missing":       `{}`,
		"invalid JSON":  `{"expires_in": `,
		"not an object": `[3600]`,
		"empty body":    ``,
		"unknown field": `{"expires_in": 60, "path": "/x"}`,
		"1 MB body":     `{"expires_in": 60, "pad": "` + strings.Repeat("x", 1<<20) + `"}`,
	} {
		resp := do(t, "POST", endpoint, k.Key, body)
		expectStatus(t, name, resp, 400, "bad_request")
	}
	expectStatus(t, "no key", do(t, "POST", endpoint, "", `{"expires_in": 60}`), 401, "unauthorized")
	expectStatus(t, "bad key", do(t, "POST", endpoint, "sk_nope", `{"expires_in": 60}`), 401, "unauthorized")
	expectStatus(t, "public key", do(t, "POST", endpoint, pub.Key, `{"expires_in": 60}`), 403, "forbidden")
	expectStatus(t, "read key", do(t, "POST", endpoint, reader.Key, `{"expires_in": 60}`), 403, "forbidden")
	expectStatus(t, "out of scope", do(t, "POST", signPrefix+"/alice2/secret.txt/signed-url", k.Key, `{"expires_in": 60}`), 403, "forbidden")
	expectStatus(t, "unknown file", do(t, "POST", signPrefix+"/reports/q9.txt/signed-url", k.Key, `{"expires_in": 60}`), 404, "not_found")
	expectStatus(t, "GET endpoint", do(t, "GET", endpoint, k.Key, nil), 405, "method_not_allowed")
	// {api}/keys is the key API since issue 11 (TestKeyAPI); any other path is unknown.
	expectStatus(t, "other API path", do(t, "POST", site+"/_signet/v1/nope", k.Key, `{}`), 404, "not_found")
	expectStatus(t, "ambiguous", do(t, "POST", signPrefix+"/reports/%2e%2e/alice/notes.txt/signed-url", k.Key, `{"expires_in": 60}`), 400, "bad_request")

	// expires_at is never later than the key's own expiry.
	keyExp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	short := signer(t, map[string]any{"expires_at": keyExp.Format(time.RFC3339)})
	if s := signURL(t, short.Key, "/reports/q1.txt", 604800); !s.ExpiresAt.Equal(keyExp) {
		t.Errorf("expires_at %s, want the key's expiry %s", s.ExpiresAt, keyExp)
	}
}

// TestSignedURLFollowsKey: a URL stops working when its key is disabled or
// deleted, and works again when the key is re-enabled.
func TestSignedURLFollowsKey(t *testing.T) {
	startCaddy(t, baseConfig)
	k := signer(t, nil)
	s := signURL(t, k.Key, "/reports/q1.txt", 3600)
	expectStatus(t, "fresh", do(t, "GET", s.URL, "", nil), 200, "")
	patchKey(t, caddytestAdmin, k.ID, map[string]any{"permissions": "none"})
	expectStatus(t, "key disabled", do(t, "GET", s.URL, "", nil), 403, "revoked")
	patchKey(t, caddytestAdmin, k.ID, map[string]any{"permissions": "sign"})
	expectStatus(t, "key re-enabled", do(t, "GET", s.URL, "", nil), 200, "")
	patchKey(t, caddytestAdmin, k.ID, map[string]any{"scopes": []string{"/alice/"}})
	expectStatus(t, "scope narrowed", do(t, "GET", s.URL, "", nil), 403, "revoked")
	patchKey(t, caddytestAdmin, k.ID, map[string]any{"scopes": []string{"/"}})
	expectStatus(t, "scope restored", do(t, "GET", s.URL, "", nil), 200, "")
	do(t, "DELETE", caddytestAdmin+"/signet/keys/"+k.ID, "", nil)
	expectStatus(t, "key deleted", do(t, "GET", s.URL, "", nil), 403, "revoked")
}

func TestSigningRateLimits(t *testing.T) {
	startCaddy(t, strings.Replace(baseConfig, "public /public/", "public /public/\n\t\trate_limit key 3 1m\n\t\trate_limit client 6 1m", 1))
	a, b := signer(t, nil), signer(t, nil)
	endpoint := signPrefix + "/reports/q1.txt/signed-url"
	for i := range 3 {
		expectStatus(t, "key a #"+strconv.Itoa(i), do(t, "POST", endpoint, a.Key, `{"expires_in": 60}`), 200, "")
	}
	resp := do(t, "POST", endpoint, a.Key, `{"expires_in": 60}`)
	expectStatus(t, "key a over its rate", resp, 429, "rate_limit_exceeded")
	if ra, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.header.Get("Retry-After"))
	}
	// Another key has its own budget, until the client's runs out.
	expectStatus(t, "key b", do(t, "POST", endpoint, b.Key, `{"expires_in": 60}`), 200, "")
	expectStatus(t, "client still has budget", do(t, "POST", endpoint, "", `{"expires_in": 60}`), 401, "unauthorized")
	expectStatus(t, "client over its rate", do(t, "POST", endpoint, b.Key, `{"expires_in": 60}`), 429, "rate_limit_exceeded")
}

// TestReverseProxyOrigin puts Signet in front of a reverse_proxy whose
// upstream must never see the signature or the Authorization header.
func TestReverseProxyOrigin(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(r.Context()))
		mu.Unlock()
		if r.URL.Path != "/reports/q1.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("upstream q1 " + r.URL.RawQuery))
	}))
	defer upstream.Close()
	startCaddy(t, strings.Replace(baseConfig, "file_server", "reverse_proxy "+upstream.Listener.Addr().String(), 1))
	k := signer(t, nil)

	s := signURL(t, k.Key, "/reports/q1.txt", 600)
	expectStatus(t, "unknown file at upstream", do(t, "POST", signPrefix+"/reports/none.txt/signed-url", k.Key, `{"expires_in": 60}`), 404, "not_found")
	resp := do(t, "GET", s.URL, "", nil)
	if resp.status != 200 || string(resp.body) != "upstream q1 " {
		t.Fatalf("GET via proxy: %s", resp)
	}
	// a signed URL with another parameter keeps that one
	req, _ := http.NewRequest("GET", s.URL, nil)
	req.Header.Set("Authorization", "Bearer "+k.Key)
	if r, err := httpClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("signed URL with a bearer header too: %v %v", r, err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 { // HEAD for the sign, HEAD for none.txt, two GETs
		t.Errorf("upstream saw %d requests, want 4", len(seen))
	}
	for _, r := range seen {
		if r.Header.Get("Authorization") != "" || strings.Contains(r.URL.RawQuery, "sig") || strings.Contains(r.RequestURI, "sig=") {
			t.Errorf("upstream saw credentials: %s %s %v", r.Method, r.RequestURI, r.Header)
		}
	}
	if seen[0].Method != "HEAD" || seen[0].URL.Path != "/reports/q1.txt" {
		t.Errorf("origin check was %s %s, want HEAD /reports/q1.txt", seen[0].Method, seen[0].URL.Path)
	}
}

func TestSignedURLPlaceholdersAndOptions(t *testing.T) {
	startCaddy(t, `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	signet {
		store file {STORE}
		query_param token
	}
}
http://:9080 {
	signet {
		api /v1
		public_base_url https://files.example.com
	}
	respond "cred={http.signet.credential} key={http.signet.key_id} url={http.signet.url_id} q={http.request.uri.query}"
}
`)
	k := signer(t, nil)
	resp := do(t, "POST", site+"/v1/files/a/b.txt/signed-url", k.Key, `{"expires_in": 60}`)
	var s signed
	if err := json.Unmarshal(resp.body, &s); err != nil || !strings.HasPrefix(s.URL, "https://files.example.com/a/b.txt?token=") {
		t.Fatalf("sign with api /v1 and public_base_url: %s", resp)
	}
	// Request it as the public host would: Host files.example.com.
	req, _ := http.NewRequest("GET", strings.Replace(s.URL, "https://files.example.com", site, 1)+"&lang=en", nil)
	req.Host = "files.example.com"
	r, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 403 {
		t.Fatalf("extra parameter: %d, want 403", r.StatusCode)
	}
	req, _ = http.NewRequest("GET", strings.Replace(s.URL, "https://files.example.com", site, 1), nil)
	req.Host = "files.example.com"
	r, err = httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	buf := make([]byte, 512)
	n, _ := r.Body.Read(buf)
	body.Write(buf[:n])
	r.Body.Close()
	if want := "cred=signed_url key=" + k.ID + " url=" + s.ID + " q="; r.StatusCode != 200 || body.String() != want {
		t.Fatalf("got %d %q, want %q", r.StatusCode, body.String(), want)
	}
	// the default prefix is now an ordinary path: POST there is not signing
	expectStatus(t, "default api moved", do(t, "POST", signPrefix+"/a/b.txt/signed-url", k.Key, `{"expires_in": 60}`), 405, "method_not_allowed")
}

// TestSecretRotation: URLs signed with the old secret keep working while it
// stays in the ring, and stop when it is removed.
func TestSecretRotation(t *testing.T) {
	store := t.TempDir() + "/signet.db"
	oldSecret := strings.Repeat("o", 40)
	newSecret := strings.Repeat("n", 40)
	config := func(ring ...string) string {
		secrets := ""
		for _, r := range ring {
			secrets += "\t\tsigning_secret " + r + "\n"
		}
		return `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	signet {
		store file ` + store + `
` + secrets + `	}
}
http://localhost:9080 {
	root * ` + filesDir(t) + `
	signet
	file_server
}
`
	}
	tester := startCaddy(t, config("old "+oldSecret))
	k := signer(t, nil)
	oldURL := signURL(t, k.Key, "/reports/q1.txt", 3600).URL
	expectStatus(t, "old ring", do(t, "GET", oldURL, "", nil), 200, "")

	tester.InitServer(config("new "+newSecret, "old "+oldSecret), "caddyfile")
	newURL := signURL(t, k.Key, "/reports/q1.txt", 3600).URL
	expectStatus(t, "old URL, both secrets", do(t, "GET", oldURL, "", nil), 200, "")
	expectStatus(t, "new URL, both secrets", do(t, "GET", newURL, "", nil), 200, "")

	tester.InitServer(config("new "+newSecret), "caddyfile")
	expectStatus(t, "old URL, old secret removed", do(t, "GET", oldURL, "", nil), 403, "invalid_signature")
	expectStatus(t, "new URL, new secret only", do(t, "GET", newURL, "", nil), 200, "")

	// Secrets from the environment.
	t.Setenv("SIGNET_TEST_SECRET", newSecret)
	tester.InitServer(config("new {env.SIGNET_TEST_SECRET}"), "caddyfile")
	expectStatus(t, "new URL, secret from env", do(t, "GET", newURL, "", nil), 200, "")
}

// TestGeneratedSecretSurvivesReload: with no secret configured, the one
// generated at first start is kept in the store, so links survive reloads.
func TestGeneratedSecretSurvivesReload(t *testing.T) {
	store := t.TempDir() + "/signet.db"
	cfg := strings.NewReplacer("{STORE}", store, "{FILES}", filesDir(t)).Replace(baseConfig)
	tester := startCaddy(t, cfg)
	s := signURL(t, signer(t, nil).Key, "/reports/q1.txt", 3600)
	tester.InitServer(cfg+"# changed\n", "caddyfile")
	expectStatus(t, "after reload", do(t, "GET", s.URL, "", nil), 200, "")
}

func TestAdminSign(t *testing.T) {
	startCaddy(t, strings.Replace(baseConfig, "store file {STORE}", "store file {STORE}\n\t\tbase_url http://localhost:9080", 1))
	resp := do(t, "POST", caddytestAdmin+"/signet/sign", "", map[string]any{"path": "/alice/notes.txt", "expires_in": 600})
	var s signed
	if err := json.Unmarshal(resp.body, &s); resp.status != 200 || err != nil {
		t.Fatalf("admin sign: %s", resp)
	}
	got := do(t, "GET", s.URL, "", nil)
	if got.status != 200 || string(got.body) != "alice notes\n" {
		t.Fatalf("operator-signed URL: %s", got)
	}
	for name, c := range map[string]struct {
		body  any
		field string
	}{
		"no path":       {map[string]any{"expires_in": 60}, "path"},
		"dotdot path":   {map[string]any{"path": "/a/../b", "expires_in": 60}, "path"},
		"no expires_in": {map[string]any{"path": "/a"}, "expires_in"},
		"too long":      {map[string]any{"path": "/a", "expires_in": 604801}, "expires_in"},
		"bad base_url":  {map[string]any{"path": "/a", "expires_in": 60, "base_url": "ftp://x"}, "base_url"},
	} {
		resp := do(t, "POST", caddytestAdmin+"/signet/sign", "", c.body)
		var e struct{ Error struct{ Code, Field string } }
		_ = json.Unmarshal(resp.body, &e)
		if resp.status != 400 || e.Error.Field != c.field {
			t.Errorf("%s: %s, want 400 naming %s", name, resp, c.field)
		}
	}
}
