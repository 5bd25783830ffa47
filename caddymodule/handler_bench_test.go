package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// benchRequest runs serve b.N times on a request as Caddy hands it to a
// handler (fresh replacer per request, Authorization header set).
func benchRequest(b *testing.B, target string, auth []string, serve func(http.ResponseWriter, *http.Request) error) {
	var hdr http.Header
	if auth != nil {
		hdr = http.Header{"Authorization": auth}
	}
	benchRequestHeader(b, target, hdr, serve)
}

// benchRequestHeader is benchRequest with the header lines hdr (copied
// for each request; the handler may change them).
func benchRequestHeader(b *testing.B, target string, hdr http.Header, serve func(http.ResponseWriter, *http.Request) error) {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	w := &nopResponseWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		repl := caddy.NewReplacer()
		req := r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl))
		req.Header = make(http.Header, len(hdr))
		for k, v := range hdr {
			req.Header[k] = append([]string(nil), v...)
		}
		clear(w.h)
		u := *r.URL // handlers may rewrite the URL (signet strips its parameter)
		req.URL = &u
		if err := serve(w, req); err != nil {
			b.Fatal(err)
		}
	}
}

const benchURL = "http://files.example.com/reports/2026/q1.pdf"

// BenchmarkBareNext is the baseline: the same request handed straight to
// the next handler.
func BenchmarkBareNext(b *testing.B) {
	benchRequest(b, benchURL, []string{"Bearer x"}, bareNext.ServeHTTP)
}

func benchBearer(b *testing.B, s *testSite) {
	_, token := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}})
	benchRequest(b, benchURL, []string{"Bearer " + token}, func(w http.ResponseWriter, r *http.Request) error {
		return s.h.ServeHTTP(w, r, bareNext)
	})
}

// BenchmarkBearer is a request with a valid API key through the handler
// with a warm cache.
func BenchmarkBearer(b *testing.B) { benchBearer(b, newTestSite(b, nil, nil)) }

// BenchmarkBearerRedis is BenchmarkBearer with the Redis store behind the
// cache: the request path reads only the in-process view, so it should
// cost the same.
func BenchmarkBearerRedis(b *testing.B) {
	srv := redistest.Start(b)
	benchBearer(b, newTestSite(b, &App{Store: &StoreConfig{Type: "redis", URL: "redis://" + srv.Addr(), Namespace: "bench"}}, nil))
}

// BenchmarkSignedURL is a GET of a valid signed URL through the handler,
// with the issuing key's status checked in the warm cache.
func BenchmarkSignedURL(b *testing.B) {
	s := newTestSite(b, nil, nil)
	k, _ := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}, Permissions: "sign"})
	link := s.sign(b, "files.example.com", "/reports/2026/q1.pdf", k, time.Hour)
	benchRequest(b, link, nil, func(w http.ResponseWriter, r *http.Request) error {
		err := s.h.ServeHTTP(w, r, bareNext)
		if r.URL.RawQuery != "" {
			b.Fatal("signature not stripped")
		}
		return err
	})
}

// BenchmarkOfflineURL is BenchmarkSignedURL for a link the key signed
// itself (offline signing): the secret comes from the key's entry in the
// view, the rest is the same.
func BenchmarkOfflineURL(b *testing.B) {
	s := newTestSite(b, nil, nil)
	_, token := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}, Permissions: "sign", OfflineSigning: true})
	link := offlineLink(b, token, "/reports/2026/q1.pdf", false, verifier.Policy{}, time.Now(), time.Hour)
	benchRequest(b, link, nil, func(w http.ResponseWriter, r *http.Request) error {
		err := s.h.ServeHTTP(w, r, bareNext)
		if r.URL.RawQuery != "" {
			b.Fatal("signature not stripped")
		}
		return err
	})
}

// BenchmarkBareNextSigned is the baseline for BenchmarkSignedURL: the same
// request (with its query) straight to the next handler.
func BenchmarkBareNextSigned(b *testing.B) {
	s := newTestSite(b, nil, nil)
	k, _ := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}, Permissions: "sign"})
	benchRequest(b, s.sign(b, "files.example.com", "/reports/2026/q1.pdf", k, time.Hour), nil, bareNext.ServeHTTP)
}

// BenchmarkBearerParallel is BenchmarkBearer from every core at once: the
// cache must not contend.
func BenchmarkBearerParallel(b *testing.B) {
	s := newTestSite(b, nil, nil)
	_, token := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, benchURL, nil)
		w := &nopResponseWriter{h: http.Header{}}
		auth := []string{"Bearer " + token}
		for pb.Next() {
			req := r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			req.Header = http.Header{"Authorization": auth}
			if err := s.h.ServeHTTP(w, req, bareNext); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The folder link benchmarks: one link to /reports/ presented in the query
// (which also sets the cookie), in the path, and in the cookie.
func benchFolder(b *testing.B) (*testSite, string) {
	s := newTestSite(b, nil, nil)
	k, _ := s.key(b, rules.NewKeyRequest{Scopes: []string{"/reports/"}, Permissions: "sign"})
	l := s.signFolder(b, "files.example.com", "/reports/", k, time.Hour)
	return s, l.URL[strings.Index(l.URL, "sig=")+4:]
}

func BenchmarkFolderQuery(b *testing.B) {
	s, tok := benchFolder(b)
	benchRequest(b, benchURL+"?sig="+tok, nil, func(w http.ResponseWriter, r *http.Request) error {
		err := s.h.ServeHTTP(w, r, bareNext)
		if r.URL.RawQuery != "" || len(w.Header()["Set-Cookie"]) != 1 {
			b.Fatal("signature not stripped, or no cookie")
		}
		return err
	})
}

func BenchmarkFolderPath(b *testing.B) {
	s, tok := benchFolder(b)
	benchRequest(b, "http://files.example.com/_signet/v1/t/"+tok+"/reports/2026/q1.pdf", nil, func(w http.ResponseWriter, r *http.Request) error {
		err := s.h.ServeHTTP(w, r, bareNext)
		if r.URL.Path != "/reports/2026/q1.pdf" {
			b.Fatalf("next got %q", r.URL.Path)
		}
		return err
	})
}

func BenchmarkFolderCookie(b *testing.B) {
	s, tok := benchFolder(b)
	hdr := http.Header{"Cookie": {"theme=dark; " + folderCookieName("/reports/") + "=" + tok}}
	benchRequestHeader(b, benchURL, hdr, func(w http.ResponseWriter, r *http.Request) error {
		err := s.h.ServeHTTP(w, r, bareNext)
		if c := r.Header["Cookie"]; len(c) != 1 || c[0] != "theme=dark" {
			b.Fatalf("cookies %q", c)
		}
		return err
	})
}

// BenchmarkBareNextCookie is the baseline for BenchmarkFolderCookie: the
// same request (its Cookie header copied as the harness does) straight to
// the next handler.
func BenchmarkBareNextCookie(b *testing.B) {
	_, tok := benchFolder(b)
	hdr := http.Header{"Cookie": {"theme=dark; " + folderCookieName("/reports/") + "=" + tok}}
	benchRequestHeader(b, benchURL, hdr, bareNext.ServeHTTP)
}
