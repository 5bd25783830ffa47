package caddymodule

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// TestCleanReadProperty sends random requests (methods, upgrades,
// Connection, Trailer, TE, Content-Length, Transfer-Encoding, method
// overrides, encoded paths, queries, credentials) through the handler to a
// recording next handler, and checks that everything that arrives is a
// clean read covered by its credential.
func TestCleanReadProperty(t *testing.T) {
	s := newTestSite(t, nil, &Handler{PublicPaths: []string{"/public/", "/robots.txt"}})
	_, reader := s.key(t, rules.NewKeyRequest{Scopes: []string{"/alice/"}})
	signer, _ := s.key(t, rules.NewKeyRequest{Scopes: []string{"/alice/"}, Permissions: "sign"})
	link := s.sign(t, "files.example.com", "/alice/f.txt", signer, time.Hour)
	linkQuery := link[strings.IndexByte(link, '?')+1:]
	sigValue := linkQuery[len("sig="):]
	folder := s.signFolder(t, "files.example.com", "/alice/", signer, time.Hour)
	folderTok := folder.URL[strings.Index(folder.URL, "sig=")+4:]
	folderCookie := folderCookieName("/alice/") + "=" + folderTok

	paths := []string{
		"/alice/f.txt", "/alice/", "/alice/a%20b.txt", "/alice/..;/secret", "/alice/%2e%2e;/secret",
		"/public/a.txt", "/public/..;/alice/f.txt", "/public/%2e%2e/alice/f.txt", "/public//x", "/public/a%2fb",
		"/robots.txt", "/robots.txt;/../alice", "/alice2/f.txt", "/secret.txt", "/alice/f.txt.", "/alice/f%252e%252e/x",
		"/%E2%80%AE/x", "/alice/%C0%AE%C0%AE/x", "/alice/%ef%bc%8e%ef%bc%8e/x",
	}
	methods := []string{"GET", "GET", "GET", "HEAD", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "get"}
	hopHeaders := []struct{ name, value string }{
		{"Upgrade", "websocket"}, {"Upgrade", "h2c"}, {"Connection", "Upgrade"}, {"Connection", "keep-alive, X-Hop"},
		{"Connection", "Upgrade, HTTP2-Settings"}, {"Http2-Settings", "AAMAAABkAAQAAP__"}, {"X-Hop", "1"},
		{"Te", "trailers"}, {"Trailer", "Authorization"}, {"Keep-Alive", "timeout=5"}, {"Proxy-Connection", "keep-alive"},
		{"X-Http-Method-Override", "DELETE"}, {"X-Http-Method", "PUT"}, {"X-Method-Override", "PATCH"},
		{"Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Referer", "http://files.example.com/alice/page.html?" + linkQuery + "&x=1"},
		{"Referer", folder.PathURL + "page.html"},
		{"Cookie", "theme=dark; " + folderCookie},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	arrived := 0
	for i := range 4000 {
		method := methods[rng.IntN(len(methods))]
		p := paths[rng.IntN(len(paths))]
		var query string
		cred := rng.IntN(7)
		switch cred {
		case 1: // the signed link (valid only for its path and GET/HEAD)
			query = linkQuery
		case 3:
			query = "sig=garbage"
		case 4: // the folder link in the query
			query = "sig=" + folderTok
		}
		if rng.IntN(3) == 0 {
			query = strings.TrimPrefix(query+"&x=1", "&")
		}
		target := "http://files.example.com" + p
		if cred == 5 { // the folder link in the path
			target = "http://files.example.com/_signet/v1/t/" + folderTok + p
		}
		if query != "" {
			target += "?" + query
		}
		var body io.Reader
		if rng.IntN(3) == 0 {
			body = strings.NewReader("GET /secret.txt HTTP/1.1\r\nHost: files.example.com\r\n\r\n")
		}
		r := httptest.NewRequest("GET", target, body)
		r.Method = method
		if body != nil && rng.IntN(2) == 0 {
			r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
		}
		if cred == 2 {
			r.Header.Set("Authorization", "Bearer "+reader)
		}
		if cred == 6 { // the folder link's cookie
			r.Header.Add("Cookie", "lang=en; "+folderCookie)
		}
		for _, h := range hopHeaders {
			if rng.IntN(3) == 0 {
				r.Header.Add(h.name, h.value)
				if h.name == "Trailer" {
					r.Trailer = http.Header{"Authorization": {"Bearer " + reader}}
				}
			}
		}
		hopNamed := strings.Contains(strings.Join(r.Header["Connection"], ","), "X-Hop")
		hasCookie := strings.Contains(strings.Join(r.Header["Cookie"], ";"), folderCookie)
		o := s.serve(t, r)
		got := o.next
		if got == nil {
			continue
		}
		arrived++
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("request %d (%s %s, credential %d): "+format, append([]any{i, method, target, cred}, args...)...)
		}
		if got.Method != http.MethodGet && got.Method != http.MethodHead {
			fail("method %q reached the origin", got.Method)
		}
		for _, name := range []string{"Authorization", "Upgrade", "Connection", "Http2-Settings", "Te", "Trailer",
			"Transfer-Encoding", "Content-Length", "Keep-Alive", "Proxy-Connection", "X-Hop",
			"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
			if _, ok := got.Header[name]; ok && (name != "X-Hop" || hopNamed) {
				fail("header %s reached the origin", name)
			}
		}
		if len(got.Trailer) != 0 || got.TransferEncoding != nil || got.ContentLength != 0 {
			fail("trailers %v, transfer-encoding %v, content-length %d", got.Trailer, got.TransferEncoding, got.ContentLength)
		}
		if got.Body != nil {
			if b, _ := io.ReadAll(got.Body); len(b) != 0 {
				fail("a body of %d bytes reached the origin", len(b))
			}
		}
		q, _ := url.ParseQuery(got.URL.RawQuery)
		if _, ok := q["sig"]; ok || strings.Contains(got.RequestURI, sigValue) || strings.Contains(got.URL.RawQuery, sigValue) {
			fail("the signature reached the origin: %q", got.RequestURI)
		}
		for _, ref := range got.Header["Referer"] {
			if strings.Contains(ref, sigValue) || strings.Contains(ref, folderTok) {
				fail("the signature reached the origin in the Referer: %q", ref)
			}
		}
		if strings.Contains(got.RequestURI, folderTok) || strings.Contains(got.URL.Path, "/_signet/") ||
			strings.Contains(strings.Join(got.Header["Cookie"], ";"), folderCookiePrefix) {
			fail("the folder token reached the origin: %q, cookies %q", got.RequestURI, got.Header["Cookie"])
		}
		if verifier.CheckPath(got.URL.Path, got.URL.RawPath) != nil {
			fail("ambiguous path %q reached the origin", got.URL.Path)
		}
		// Independently of CheckPath: what a Tomcat-style origin makes of
		// each segment (path parameters cut) is never a dot segment.
		for _, seg := range strings.Split(got.URL.Path, "/")[1:] {
			seg, _, _ = strings.Cut(seg, ";")
			if seg == "." || seg == ".." {
				fail("dot segment in %q reached the origin", got.URL.Path)
			}
		}
		public := verifier.AnyScopeCovers(s.h.PublicPaths, got.URL.Path)
		var covered bool
		switch cred {
		case 1:
			covered = got.URL.Path == "/alice/f.txt"
		case 2, 4, 5, 6:
			covered = verifier.ScopeCovers("/alice/", got.URL.Path)
		}
		if hasCookie && verifier.ScopeCovers("/alice/", got.URL.Path) {
			covered = true // the folder cookie, when nothing else was presented
		}
		if !public && !covered {
			fail("path %q is covered by neither a public prefix nor the credential", got.URL.Path)
		}
	}
	if arrived < 200 {
		t.Fatalf("only %d of 4000 requests reached the origin: the generator is too narrow", arrived)
	}
}
