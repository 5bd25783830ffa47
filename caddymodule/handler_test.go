package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// recorder is a next handler that keeps the request it was given.
type recorder struct{ got *http.Request }

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	rec.got = r
	w.WriteHeader(http.StatusOK)
	return nil
}

type outcome struct {
	status int
	code   string
	next   *http.Request
	header http.Header
}

func (s *testSite) serve(t *testing.T, r *http.Request) outcome {
	t.Helper()
	w := httptest.NewRecorder()
	rec := &recorder{}
	if err := s.h.ServeHTTP(w, withReplacer(r), rec); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return outcome{status: w.Code, code: body.Error.Code, next: rec.got, header: w.Header()}
}

// TestDecisionTable walks every row of docs/reference.md's decision table
// (and of "How a signed-URL request is decided") through ServeHTTP.
func TestDecisionTable(t *testing.T) {
	s := newTestSite(t, nil, &Handler{PublicPaths: []string{"/public/"}})
	cache := s.st.backend.cache
	ctx := context.Background()
	_, reader := s.key(t, rules.NewKeyRequest{Scopes: []string{"/reports/"}})
	signer, _ := s.key(t, rules.NewKeyRequest{Scopes: []string{"/reports/"}, Permissions: "sign"})
	expired, expiredToken := s.key(t, rules.NewKeyRequest{})
	if _, err := cache.UpdateKey(ctx, expired.ID, func(k *keystore.Key) error {
		past := time.Now().Add(-time.Second)
		k.ExpiresAt = &past
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, disabledToken := s.key(t, rules.NewKeyRequest{Permissions: "none"})
	deletedSigner, _ := s.key(t, rules.NewKeyRequest{Permissions: "sign"})
	deletedLink := s.sign(t, "files.example.com", "/reports/d.pdf", deletedSigner, time.Hour)
	if _, err := cache.DeleteKey(ctx, deletedSigner.ID); err != nil {
		t.Fatal(err)
	}
	link := s.sign(t, "files.example.com", "/reports/q1.pdf", signer, time.Hour)
	revokedLink := s.sign(t, "files.example.com", "/reports/r.pdf", signer, time.Hour)
	rev, _, err := rules.Revocation(rules.RevokeRequest{URL: revokedLink}, s.st.verifier, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := cache.Revoke(ctx, *rev); err != nil {
		t.Fatal(err)
	}
	operatorLink := s.sign(t, "files.example.com", "/anything.txt", nil, time.Hour)
	tooLong := s.sign(t, "files.example.com", "/reports/long.pdf", signer, 2*time.Hour)
	folder := s.signFolder(t, "files.example.com", "/reports/", signer, time.Hour)
	folderTok := folder.URL[strings.Index(folder.URL, "sig=")+4:]
	folderCookie := folderCookieName("/reports/") + "=" + folderTok

	type row struct {
		name   string
		method string
		url    string
		auth   []string
		status int
		code   string // error.code, "" when the request reaches the next handler
		cookie string
	}
	rows := []row{
		{"1 ambiguous path", "GET", "/reports/../secret", nil, 400, "bad_request", ""},
		{"1 dot segment with path parameter", "GET", "/public/..;/secret", nil, 400, "bad_request", ""},
		{"2 two Authorization headers", "GET", "/reports/q1.pdf", []string{"Bearer " + reader, "Bearer " + reader}, 400, "bad_request", ""},
		{"2a path form", "GET", "/_signet/v1/t/" + folderTok + "/reports/q1.pdf", nil, 200, "", ""},
		{"2a path form outside the folder", "GET", "/_signet/v1/t/" + folderTok + "/other/q1.pdf", nil, 403, "invalid_signature", ""},
		{"2a path form without a path", "GET", "/_signet/v1/t/" + folderTok, nil, 400, "malformed_signature", ""},
		{"3 unknown API path", "GET", "/_signet/v1/nope", nil, 404, "not_found", ""},
		{"3 signing endpoint without key", "POST", "/_signet/v1/files/reports/q1.pdf/signed-url", nil, 401, "unauthorized", ""},
		{"4 public path, POST", "POST", "/public/a.txt", nil, 405, "method_not_allowed", ""},
		{"5 public path, GET", "GET", "/public/a.txt", nil, 200, "", ""},
		{"5 public path, HEAD with a key", "HEAD", "/public/a.txt", []string{"Bearer " + reader}, 200, "", ""},
		{"7 signed URL", "GET", link, nil, 200, "", ""},
		{"7 signed URL, HEAD", "HEAD", link, nil, 200, "", ""},
		{"7 signed URL with a valid key too", "GET", link, []string{"Bearer " + reader}, 200, "", ""},
		{"7 bad signature even with a valid key", "GET", tamper(link), []string{"Bearer " + reader}, 403, "invalid_signature", ""},
		{"7 malformed signature", "GET", "/reports/q1.pdf?sig=!!", nil, 403, "malformed_signature", ""},
		{"7 signed URL, POST", "POST", link, nil, 403, "method_not_allowed", ""},
		{"7 signed URL for another path", "GET", strings.Replace(link, "q1.pdf", "q2.pdf", 1), nil, 403, "invalid_signature", ""},
		{"7 issuing key deleted", "GET", deletedLink, nil, 403, "revoked", ""},
		{"7 link revoked", "GET", revokedLink, nil, 403, "revoked", ""},
		{"7 operator link", "GET", operatorLink, nil, 200, "", ""},
		{"7 folder link in the query", "GET", "/reports/sub/a.pdf?sig=" + folderTok, nil, 200, "", ""},
		{"7a folder cookie", "GET", "/reports/q1.pdf", nil, 200, "", folderCookie},
		{"7a folder cookie outside its folder", "GET", "/other/q1.pdf", nil, 403, "invalid_signature", folderCookie},
		{"7a a key decides, not the cookie", "GET", "/other/q1.pdf", []string{"Bearer " + reader}, 403, "forbidden", folderCookie},
		{"7a a signature decides, not the cookie", "GET", tamper(link), nil, 403, "invalid_signature", folderCookie},
		{"8 no credentials", "GET", "/reports/q1.pdf", nil, 401, "unauthorized", ""},
		{"9 not Bearer", "GET", "/reports/q1.pdf", []string{"Basic YTpi"}, 401, "unauthorized", ""},
		{"10 malformed key", "GET", "/reports/q1.pdf", []string{"Bearer sk_nope"}, 401, "unauthorized", ""},
		{"11 unknown key", "GET", "/reports/q1.pdf", []string{"Bearer " + mustToken(t)}, 401, "unauthorized", ""},
		{"12 expired key", "GET", "/reports/q1.pdf", []string{"Bearer " + expiredToken}, 401, "unauthorized", ""},
		{"13 disabled key", "GET", "/reports/q1.pdf", []string{"Bearer " + disabledToken}, 403, "forbidden", ""},
		{"14 key, PUT", "PUT", "/reports/q1.pdf", []string{"Bearer " + reader}, 405, "method_not_allowed", ""},
		{"15 scope", "GET", "/other/q1.pdf", []string{"Bearer " + reader}, 403, "forbidden", ""},
		{"15 scope at a segment boundary", "GET", "/reports2/q1.pdf", []string{"Bearer " + reader}, 403, "forbidden", ""},
		{"16 accepted", "GET", "/reports/q1.pdf?x=1", []string{"bearer  " + reader}, 200, "", ""},
	}
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://files.example.com"+strings.TrimPrefix(tt.url, "http://files.example.com"), nil)
			if tt.auth != nil {
				r.Header["Authorization"] = tt.auth
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			o := s.serve(t, r)
			if o.status != tt.status || o.code != tt.code {
				t.Fatalf("got %d %q, want %d %q", o.status, o.code, tt.status, tt.code)
			}
			if (o.next != nil) != (tt.code == "") {
				t.Fatalf("reached next handler: %v", o.next != nil)
			}
			if o.next != nil {
				if o.next.Header.Get("Authorization") != "" || strings.Contains(o.next.URL.RawQuery, "sig=") || strings.Contains(o.next.RequestURI, "sig=") {
					t.Errorf("credential reached the next handler: %v %q", o.next.Header, o.next.RequestURI)
				}
			}
			switch {
			case tt.status == 401 && o.header.Get("WWW-Authenticate") == "":
				t.Error("401 without WWW-Authenticate")
			case tt.status == 405 && o.header.Get("Allow") == "" && tt.code == "method_not_allowed" && !strings.Contains(tt.url, "sig="):
				t.Error("405 without Allow")
			case tt.code != "" && o.header.Get("Content-Type") != "application/json":
				t.Errorf("error Content-Type %q", o.header.Get("Content-Type"))
			}
		})
	}

	// 3.3: a link whose lifetime exceeds the current max_lifetime.
	s.app.MaxLifetime = caddy.Duration(time.Hour)
	if o := s.serve(t, httptest.NewRequest("GET", tooLong, nil)); o.status != 403 || o.code != "expired" {
		t.Errorf("link longer than max_lifetime: %d %q", o.status, o.code)
	}
	s.app.MaxLifetime = caddy.Duration(defaultMaxLifetime)

	// 16: the placeholders of an accepted key.
	r := withReplacer(httptest.NewRequest("GET", "http://files.example.com/reports/q1.pdf", nil))
	r.Header.Set("Authorization", "Bearer "+reader)
	if err := s.h.ServeHTTP(httptest.NewRecorder(), r, bareNext); err != nil {
		t.Fatal(err)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if got := repl.ReplaceAll("{http.signet.credential} {http.auth.user.id}", ""); !strings.HasPrefix(got, "bearer key_") {
		t.Errorf("placeholders: %q", got)
	}
}

// tamper changes one character in the middle of a link's token.
func tamper(link string) string {
	i := len(link) - 10
	c := byte('A')
	if link[i] == 'A' {
		c = 'B'
	}
	return link[:i] + string(c) + link[i+1:]
}

func mustToken(t *testing.T) string {
	tok, err := verifier.NewKeyToken(verifier.KeySecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestDecisionStale is row 6: once the store has not answered for
// max_staleness, requests that need it fail closed with 503; public paths
// still work.
func TestDecisionStale(t *testing.T) {
	s := newTestSite(t, &App{MaxStaleness: caddy.Duration(time.Second)}, &Handler{PublicPaths: []string{"/public/"}})
	_, token := s.key(t, rules.NewKeyRequest{})
	get := func(path string) outcome {
		r := httptest.NewRequest("GET", "http://files.example.com"+path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return s.serve(t, r)
	}
	if o := get("/a.txt"); o.status != 200 {
		t.Fatalf("before the outage: %d", o.status)
	}
	_ = s.st.backend.store.Close() // the store stops answering
	deadline := time.Now().Add(20 * time.Second)
	for get("/a.txt").status != 503 {
		if time.Now().After(deadline) {
			t.Fatal("never failed closed")
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
	o := get("/a.txt")
	if o.code != "store_unavailable" || o.header.Get("Retry-After") != "5" {
		t.Errorf("503: %q, Retry-After %q", o.code, o.header.Get("Retry-After"))
	}
	if o := get("/public/a.txt"); o.status != 200 {
		t.Errorf("public path during the outage: %d", o.status)
	}
}
