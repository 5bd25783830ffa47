package caddymodule

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// offlineLink signs path (a folder prefix with folder) for files.example.com
// with the key value token itself, as a client library does.
func offlineLink(tb testing.TB, token, path string, folder bool, p verifier.Policy, iat time.Time, lifetime time.Duration) string {
	tb.Helper()
	ok, err := verifier.OfflineKeyOf(token)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := verifier.NewURLID()
	if err != nil {
		tb.Fatal(err)
	}
	c := verifier.Claims{IssuedAt: iat.Unix(), ExpiresAt: iat.Add(lifetime).Unix(), ID: id, Policy: p}
	if folder {
		c.Prefix = path
	}
	tok, err := ok.Sign(c, verifier.Target{Host: "files.example.com", Method: "GET", Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	u := url.URL{Scheme: "http", Host: "files.example.com", Path: path}
	u.RawQuery = verifier.AppendToken("", "sig", tok)
	return u.String()
}

// TestOfflineLinks: a link a key signs itself works exactly while its key
// vouches for it, under the rules the signing endpoint applies at issue.
func TestOfflineLinks(t *testing.T) {
	s := newTestSite(t, nil, nil)
	o := &origin{}
	get := func(link string) *httptest.ResponseRecorder {
		return s.serveWith(t, httptest.NewRequest("GET", link, nil), o)
	}
	cache := s.st.backend.cache
	k, token := s.key(t, rules.NewKeyRequest{Scopes: []string{"/r/"}, Permissions: "sign", OfflineSigning: true})
	if k.ID != verifier.KeyIDOf(token) || k.OfflineSecret == nil {
		t.Fatalf("key %s: id not derived from its value, or no offline secret", k.ID)
	}
	_, plainToken := s.key(t, rules.NewKeyRequest{Scopes: []string{"/r/"}, Permissions: "sign"})
	now := time.Now()

	link := offlineLink(t, token, "/r/q1.pdf", false, verifier.Policy{DownloadName: "q1.pdf"}, now, time.Hour)
	if w := get(link); w.Code != 200 || !strings.Contains(w.Header().Get("Content-Disposition"), "q1.pdf") {
		t.Fatalf("offline link: %d %s %v", w.Code, w.Body, w.Header())
	}
	if w := get(tamper(link)); w.Code != 403 {
		t.Errorf("tampered offline link: %d", w.Code)
	}
	folder := offlineLink(t, token, "/r/", true, verifier.Policy{}, now, time.Hour)
	if w := get(strings.Replace(folder, "/r/?", "/r/sub/a.pdf?", 1)); w.Code != 200 {
		t.Errorf("offline folder link: %d %s", w.Code, w.Body)
	}
	cases := []struct {
		name, link, code string
	}{
		{"key without offline signing", offlineLink(t, plainToken, "/r/q1.pdf", false, verifier.Policy{}, now, time.Hour), "invalid_signature"},
		{"outside the key's scope", offlineLink(t, token, "/other/q1.pdf", false, verifier.Policy{}, now, time.Hour), "revoked"},
		{"longer than max_lifetime", offlineLink(t, token, "/r/q1.pdf", false, verifier.Policy{}, now, 8*24*time.Hour), "expired"},
		{"expired", offlineLink(t, token, "/r/q1.pdf", false, verifier.Policy{}, now.Add(-2*time.Hour), time.Hour), "expired"},
		{"active content type", offlineLink(t, token, "/r/q1.pdf", false, verifier.Policy{ContentType: "text/html"}, now, time.Hour), "forbidden"},
		{"folder with a header policy", offlineLink(t, token, "/r/", true, verifier.Policy{Inline: true}, now, time.Hour), "forbidden"},
		{"folder with ;", offlineLink(t, token, "/r/a;b/", true, verifier.Policy{}, now, time.Hour), "forbidden"},
	}
	for _, tc := range cases {
		if w := get(tc.link); w.Code != 403 || errorCode(w) != tc.code {
			t.Errorf("%s: %d %s, want 403 %s", tc.name, w.Code, errorCode(w), tc.code)
		}
	}

	// Revoked by id, like any link.
	byID := offlineLink(t, token, "/r/q2.pdf", false, verifier.Policy{}, now, time.Hour)
	u, _ := url.Parse(byID)
	c, err := s.st.verifier.Verify(verifier.Target{Host: u.Host, Method: "GET", Path: u.Path, RawQuery: u.RawQuery}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Revoke(context.Background(), keystore.Revocation{Kind: keystore.RevokeURL, Target: c.ID.String(), ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if w := get(byID); w.Code != 403 || errorCode(w) != "revoked" {
		t.Errorf("revoked by id: %d %s", w.Code, errorCode(w))
	}

	// max_uses: recorded at first use, then counted.
	once := offlineLink(t, token, "/r/q3.pdf", false, verifier.Policy{MaxUses: 1}, now, time.Hour)
	if w := s.serveWith(t, httptest.NewRequest("HEAD", once, nil), o); w.Code != 200 {
		t.Errorf("HEAD of an unused offline max_uses link: %d %s", w.Code, w.Body)
	}
	if w := get(once); w.Code != 200 {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	if w := get(once); w.Code != 403 || errorCode(w) != "max_uses_reached" {
		t.Errorf("second use: %d %s", w.Code, errorCode(w))
	}
	list, _, err := cache.ListLinks(context.Background(), keystore.LinkFilter{KeyID: k.ID}, "", 10, time.Now())
	if err != nil || len(list) != 1 || list[0].Path != "/r/q3.pdf" || list[0].Uses != 1 || list[0].Policy.MaxUses != 1 {
		t.Errorf("ledger after first use: %+v %v", list, err)
	}

	// Turning offline signing off ends every link the key signed.
	if _, err := cache.UpdateKey(context.Background(), k.ID, func(k *keystore.Key) error { k.OfflineSecret = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if w := get(link); w.Code != 403 || errorCode(w) != "invalid_signature" {
		t.Errorf("after offline signing was turned off: %d %s", w.Code, errorCode(w))
	}
}

// TestOfflineSigningRules: who may have an offline secret.
func TestOfflineSigningRules(t *testing.T) {
	now := time.Now()
	users := func(string) *keystore.User { return nil }
	for _, req := range []rules.NewKeyRequest{
		{Name: "p", Type: "public", OfflineSigning: true},
		{Name: "r", Permissions: "read", OfflineSigning: true},
	} {
		if _, _, err := rules.NewKey(rules.Operator, req, users, now); err == nil || !strings.Contains(err.Error(), "offline") {
			t.Errorf("%+v: %v", req, err)
		}
	}
	k, _, err := rules.NewKey(rules.Operator, rules.NewKeyRequest{Name: "s", Permissions: "sign"}, users, now)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	apply, err := rules.UpdateKey(rules.Operator, rules.KeyUpdate{OfflineSigning: &on}, users, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(k); err == nil || !strings.Contains(err.Error(), "created") {
		t.Errorf("turning offline signing on later: %v", err)
	}
}

// TestOfflineMaxUsesRateLimited: recording an offline max_uses link at its
// first use draws on its key's rate limit.
func TestOfflineMaxUsesRateLimited(t *testing.T) {
	s := newTestSite(t, nil, &Handler{RateLimitKey: &Rate{Events: 2, Window: caddy.Duration(time.Hour)}})
	o := &origin{}
	_, token := s.key(t, rules.NewKeyRequest{Scopes: []string{"/r/"}, Permissions: "sign", OfflineSigning: true})
	now := time.Now()
	var codes []int
	for range 3 {
		link := offlineLink(t, token, "/r/q.pdf", false, verifier.Policy{MaxUses: 5}, now, time.Hour)
		w := s.serveWith(t, httptest.NewRequest("GET", link, nil), o)
		codes = append(codes, w.Code)
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Fatalf("first uses of three offline max_uses links: %v, want 200 200 429", codes)
	}
}
