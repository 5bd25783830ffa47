package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// folderReq is a GET for the request URI uri on files.example.com.
func folderReq(uri string, cookies ...string) *http.Request {
	r := httptest.NewRequest("GET", "http://files.example.com"+uri, nil)
	for _, c := range cookies {
		r.Header.Add("Cookie", c)
	}
	return r
}

// TestFolderLinkForms: a folder link's token works in the query, in the
// path and in the cookie the query form sets, for every path under the
// folder and nothing else; the next handler sees a plain path and neither
// the token nor the cookie.
func TestFolderLinkForms(t *testing.T) {
	s := newTestSite(t, nil, nil)
	signer, _ := s.key(t, rules.NewKeyRequest{Scopes: []string{"/movie/"}, Permissions: "sign"})
	link := s.signFolder(t, "files.example.com", "/movie/", signer, time.Hour)
	if !link.Folder || link.Path != "/movie/" || !strings.HasPrefix(link.URL, "http://files.example.com/movie/?sig=") {
		t.Fatalf("link %+v", link)
	}
	u, _ := url.Parse(link.URL)
	tok := u.Query().Get("sig")
	if want := "http://files.example.com/_signet/v1/t/" + tok + "/movie/"; link.PathURL != want {
		t.Fatalf("path_url %q, want %q", link.PathURL, want)
	}

	// Query form, with any other query, and the cookie it sets.
	o := s.serve(t, folderReq("/movie/seg1.ts?_HLS_msn=3&sig="+tok))
	if o.status != 200 || o.next.URL.RequestURI() != "/movie/seg1.ts?_HLS_msn=3" {
		t.Fatalf("query form: %d %v", o.status, o.next)
	}
	setCookie := o.header.Get("Set-Cookie")
	name := folderCookieName("/movie/")
	for _, want := range []string{name + "=" + tok + ";", "; Path=/movie/;", "; HttpOnly", "; SameSite=Lax"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on plain HTTP", setCookie)
	}
	ma := setCookie[strings.Index(setCookie, "Max-Age=")+8:]
	if n, _ := strconv.Atoi(ma[:strings.IndexByte(ma, ';')]); n < 3590 || n > 3600 {
		t.Errorf("Max-Age %d, want the link's remaining hour", n)
	}
	cookie := name + "=" + tok

	// Every form grants the folder, its subfolders and the folder itself.
	for _, p := range []string{"/movie/seg1.ts", "/movie/sub/a.jpg?w=10", "/movie/", "/movie"} {
		for form, r := range map[string]*http.Request{
			"query":  folderReq(strings.Replace(p+"?sig="+tok, "?w=10?", "?w=10&", 1)),
			"path":   folderReq("/_signet/v1/t/" + tok + p),
			"cookie": folderReq(p, "theme=dark; "+cookie+"; lang=en"),
		} {
			o := s.serve(t, r)
			if o.status != 200 {
				t.Errorf("%s form %s: %d %s", form, p, o.status, o.code)
				continue
			}
			got := o.next
			if got.URL.Path != strings.SplitN(p, "?", 2)[0] || strings.Contains(got.RequestURI, tok) || strings.Contains(got.RequestURI, "_signet") {
				t.Errorf("%s form %s: next got %q (%q)", form, p, got.URL.Path, got.RequestURI)
			}
			if c := strings.Join(got.Header["Cookie"], ";"); strings.Contains(c, folderCookiePrefix) {
				t.Errorf("%s form %s: the origin got the folder cookie: %q", form, p, c)
			}
			if form == "cookie" && strings.Join(got.Header["Cookie"], ";") != "theme=dark; lang=en" {
				t.Errorf("other cookies not kept: %q", got.Header["Cookie"])
			}
			if form == "path" && o.header.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("path form: Referrer-Policy %q", o.header.Get("Referrer-Policy"))
			}
		}
	}

	// Nothing outside the folder, and no ambiguous path, in any form.
	for _, p := range []string{"/movie2/a.ts", "/secret.txt", "/", "/movie/../secret.txt", "/movie/%2e%2e/secret.txt",
		"/movie/a%2Fb", "/movie//a", "/movie/..;/secret.txt", "/movie/a.ts%00"} {
		for form, r := range map[string]*http.Request{
			"query":  folderReq(p + "?sig=" + tok),
			"path":   folderReq("/_signet/v1/t/" + tok + p),
			"cookie": folderReq(p, cookie),
		} {
			o := s.serve(t, r)
			want := http.StatusForbidden
			if verifier.CheckPath(r.URL.Path, r.URL.RawPath) != nil {
				want = http.StatusBadRequest
			}
			if form == "cookie" && !strings.HasPrefix(p, "/movie/") && o.status == http.StatusUnauthorized {
				want = http.StatusUnauthorized // the client would not send the cookie there: no credential
			}
			if o.status != want || o.next != nil {
				t.Errorf("%s form %s: %d %s, want %d", form, p, o.status, o.code, want)
			}
		}
	}

	// The path form takes the token only exactly, and alone.
	for uri, want := range map[string]int{
		"/_signet/v1/t/" + tok:                                    http.StatusBadRequest,
		"/_signet/v1/t//movie/a.ts":                               http.StatusBadRequest,
		"/_signet/v1/t/" + tok[:5] + "%41" + tok[6:] + "/movie/a": http.StatusBadRequest,
		"/_signet/v1/t/" + tok + "/movie/a.ts?sig=" + tok:         http.StatusForbidden,
		"/_signet/v1/t/" + tok[:len(tok)-2] + "AA/movie/a":        http.StatusForbidden,
	} {
		if o := s.serve(t, folderReq(uri)); o.status != want || o.next != nil {
			t.Errorf("%s: %d %s, want %d", uri, o.status, o.code, want)
		}
	}

	// A file link's token is not accepted in the path or in a cookie.
	file := s.sign(t, "files.example.com", "/movie/index.m3u8", signer, time.Hour)
	fu, _ := url.Parse(file)
	ftok := fu.Query().Get("sig")
	if o := s.serve(t, folderReq(file[len("http://files.example.com"):])); o.status != 200 || o.header.Get("Set-Cookie") != "" {
		t.Errorf("file link: %d, Set-Cookie %q", o.status, o.header.Get("Set-Cookie"))
	}
	for _, r := range []*http.Request{folderReq("/_signet/v1/t/" + ftok + "/movie/index.m3u8"), folderReq("/movie/index.m3u8", name+"="+ftok)} {
		if o := s.serve(t, r); o.status != http.StatusForbidden || o.code != "malformed_signature" {
			t.Errorf("file token in %s: %d %s", r.URL, o.status, o.code)
		}
	}
	if o := s.serve(t, folderReq("/movie/seg1.ts")); o.status != http.StatusUnauthorized {
		t.Errorf("no credential: %d", o.status)
	}
}

// TestFolderLinkFollowsKeyAndRevocation: a folder link in each form ends
// with a revocation by id, by key or by prefix, and when its key no longer
// covers the whole folder.
func TestFolderLinkFollowsKeyAndRevocation(t *testing.T) {
	s := newTestSite(t, nil, nil)
	cache := s.st.backend.cache
	ctx := context.Background()
	forms := func(tok, p string) map[string]*http.Request {
		return map[string]*http.Request{
			"query":  folderReq(p + "?sig=" + tok),
			"path":   folderReq("/_signet/v1/t/" + tok + p),
			"cookie": folderReq(p, folderCookieName("/movie/")+"="+tok),
		}
	}
	expect := func(what, tok, p string, want int) {
		t.Helper()
		for form, r := range forms(tok, p) {
			if o := s.serve(t, r); o.status != want {
				t.Errorf("%s, %s form %s: %d %s, want %d", what, form, p, o.status, o.code, want)
			}
		}
	}
	tokOf := func(l signedURLResponse) string {
		u, _ := url.Parse(l.URL)
		return u.Query().Get("sig")
	}
	revoke := func(req rules.RevokeRequest) {
		t.Helper()
		rev, _, err := rules.Revocation(req, s.st.verifier, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.Revoke(ctx, *rev); err != nil {
			t.Fatal(err)
		}
	}

	signer, _ := s.key(t, rules.NewKeyRequest{Scopes: []string{"/movie/"}, Permissions: "sign"})
	byID := tokOf(s.signFolder(t, "files.example.com", "/movie/", signer, time.Hour))
	l := s.signFolder(t, "files.example.com", "/movie/", signer, time.Hour)
	expect("fresh", byID, "/movie/a.ts", 200)
	revoke(rules.RevokeRequest{ID: l.ID})
	expect("revoked by id", tokOf(l), "/movie/a.ts", http.StatusForbidden)
	expect("another link", byID, "/movie/a.ts", 200)

	// A path_url names its link for revocation as well as its url does.
	byPath := s.signFolder(t, "files.example.com", "/movie/", signer, time.Hour)
	rev, claims, err := rules.Revocation(rules.RevokeRequest{URL: byPath.PathURL + "seg1.ts"}, s.st.verifier, time.Now(), s.h.pathForm)
	if err != nil || claims.ID.String() != byPath.ID {
		t.Fatalf("revoke by path_url: %v, %+v", err, claims)
	}
	if err := cache.Revoke(ctx, *rev); err != nil {
		t.Fatal(err)
	}
	expect("revoked by path_url", tokOf(byPath), "/movie/a.ts", http.StatusForbidden)

	// Narrowing the key below the folder ends the link everywhere in it.
	if _, err := cache.UpdateKey(ctx, signer.ID, func(k *keystore.Key) error {
		k.Scopes = []string{"/movie/sub/"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expect("key narrowed", byID, "/movie/sub/a.ts", http.StatusForbidden)
	if _, err := cache.UpdateKey(ctx, signer.ID, func(k *keystore.Key) error {
		k.Scopes = []string{"/"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expect("key widened again", byID, "/movie/sub/a.ts", 200)

	// A prefix revocation ends the link under that prefix only.
	revoke(rules.RevokeRequest{Prefix: "/movie/sub/"})
	expect("prefix revoked", byID, "/movie/sub/a.ts", http.StatusForbidden)
	expect("outside the revoked prefix", byID, "/movie/a.ts", 200)
	revoke(rules.RevokeRequest{KeyID: signer.ID})
	expect("key's links revoked", byID, "/movie/a.ts", http.StatusForbidden)
}

// TestFolderCookies: nested folders have cookies of their own, the good
// one wins, a bad one alone is refused with its reason, and a flood of
// cookies costs at most maxFolderCookies verifications.
func TestFolderCookies(t *testing.T) {
	s := newTestSite(t, nil, &Handler{PublicBaseURL: "https://files.example.com"})
	outer := s.signFolder(t, "files.example.com", "/a/", nil, time.Hour)
	inner := s.signFolder(t, "files.example.com", "/a/b/", nil, time.Hour)
	if folderCookieName("/a/") == folderCookieName("/a/b/") {
		t.Fatal("nested folders share a cookie name")
	}
	tok := func(l signedURLResponse) string { u, _ := url.Parse(l.URL); return u.Query().Get("sig") }
	rev, _, _ := rules.Revocation(rules.RevokeRequest{ID: inner.ID}, s.st.verifier, time.Now())
	if err := s.st.backend.cache.Revoke(context.Background(), *rev); err != nil {
		t.Fatal(err)
	}
	both := folderCookieName("/a/b/") + "=" + tok(inner) + "; " + folderCookieName("/a/") + "=" + tok(outer)
	if o := s.serve(t, folderReq("/a/b/c.txt", both)); o.status != 200 {
		t.Errorf("a good outer cookie beside a revoked inner one: %d %s", o.status, o.code)
	}
	if o := s.serve(t, folderReq("/a/b/c.txt", folderCookieName("/a/b/")+"="+tok(inner))); o.status != 403 || o.code != "revoked" {
		t.Errorf("a revoked cookie alone: %d %s", o.status, o.code)
	}
	var flood []string
	for i := 0; i < 20; i++ {
		flood = append(flood, folderCookiePrefix+strconv.Itoa(i)+"=x")
	}
	if o := s.serve(t, folderReq("/a/x", strings.Join(append(flood, folderCookieName("/a/")+"="+tok(outer)), "; "))); o.status != 403 {
		t.Errorf("a good cookie after %d bad ones: %d, want 403 (only %d are tried)", len(flood), o.status, maxFolderCookies)
	}
	// Secure when the public base is https; the folder's own spelling of its path.
	o := s.serve(t, folderReq("/a/x.txt?sig="+tok(outer)))
	if sc := o.header.Get("Set-Cookie"); !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "Path=/a/;") {
		t.Errorf("Set-Cookie %q", sc)
	}
	cafe := s.signFolder(t, "files.example.com", "/café/", nil, time.Hour)
	o = s.serve(t, folderReq("/caf%C3%A9/x.txt?sig="+tok(cafe)))
	if sc := o.header.Get("Set-Cookie"); o.status != 200 || !strings.Contains(sc, "Path=/caf%C3%A9/;") {
		t.Errorf("non-ASCII folder: %d Set-Cookie %q", o.status, sc)
	}
	if !strings.HasSuffix(cafe.PathURL, "/caf%C3%A9/") || !strings.HasSuffix(cafe.URL, "/caf%C3%A9/?sig="+tok(cafe)) {
		t.Errorf("non-ASCII folder URLs %q %q", cafe.URL, cafe.PathURL)
	}
}

// TestFolderReferer: a Referer holding a folder token in its path or query
// reaches the origin without it.
func TestFolderReferer(t *testing.T) {
	s := newTestSite(t, nil, nil)
	l := s.signFolder(t, "files.example.com", "/site/", nil, time.Hour)
	u, _ := url.Parse(l.URL)
	tok := u.Query().Get("sig")
	r := folderReq("/_signet/v1/t/" + tok + "/site/img/a.png")
	r.Header.Set("Referer", l.PathURL+"index.html")
	o := s.serve(t, r)
	if o.status != 200 || o.next.Header.Get("Referer") != "http://files.example.com/site/index.html" {
		t.Fatalf("%d, Referer %q", o.status, o.next.Header.Get("Referer"))
	}
}

// TestSignFolderRules: what rules.Grant and CheckFile accept.
func TestSignFolderRules(t *testing.T) {
	for in, want := range map[string]string{"/movie": "/movie/", "/movie/": "/movie/", "/": "/", "/a/b": "/a/b/"} {
		if got, err := rules.Grant(in, true); err != nil || got != want {
			t.Errorf("Grant(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"/a;b", "/a/../b", "/" + strings.Repeat("x", verifier.MaxPrefixLen), "/a*"} {
		if _, err := rules.Grant(bad, true); err == nil {
			t.Errorf("Grant(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "/abs", "../x", "a/", "a//b", "a/./b"} {
		if _, err := rules.CheckFile("/movie/", bad); err == nil {
			t.Errorf("CheckFile(%q) accepted", bad)
		}
	}
	if p, err := rules.CheckFile("/movie/", "hls/index.m3u8"); err != nil || p != "/movie/hls/index.m3u8" {
		t.Errorf("CheckFile = %q, %v", p, err)
	}
}

// FuzzStripFolderCookies: whatever Cookie lines a client sends, what is
// left for the origin holds no folder cookie and every other cookie pair,
// in order.
func FuzzStripFolderCookies(f *testing.F) {
	f.Add("theme=dark; signet_abc=T; lang=en", "")
	f.Add("signet_x=1", "a=b;signet_=;;  ;c")
	f.Add(";;", "signet_signet_=x; xsignet_=y")
	f.Fuzz(func(t *testing.T, a, b string) {
		// Lines without a folder cookie are kept as sent; the others are
		// rebuilt from their other pairs, or dropped when none is left.
		var want []string
		for _, line := range []string{a, b} {
			if !strings.Contains(line, folderCookiePrefix) {
				want = append(want, line)
				continue
			}
			var kept []string
			for _, p := range strings.Split(line, ";") {
				if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, folderCookiePrefix) {
					kept = append(kept, p)
				}
			}
			if len(kept) > 0 {
				want = append(want, strings.Join(kept, "; "))
			}
		}
		out := stripFolderCookies([]string{a, b})
		if strings.Join(out, "\n") != strings.Join(want, "\n") || len(out) != len(want) {
			t.Fatalf("strip(%q, %q) = %q, want %q", a, b, out, want)
		}
		for _, line := range out {
			for _, p := range strings.Split(line, ";") {
				if strings.HasPrefix(strings.TrimSpace(p), folderCookiePrefix) {
					t.Fatalf("a folder cookie is left: %q", out)
				}
			}
		}
	})
}
