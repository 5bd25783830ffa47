package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-signet/signet/internal/redistest"
	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// newTestHandler returns a provisioned-like Handler over a fresh embedded
// store, and a valid key for it.
func newTestHandler(tb testing.TB, req createKeyRequest) (*Handler, *keystore.Cache, string) {
	tb.Helper()
	st, err := keystore.OpenBolt(filepath.Join(tb.TempDir(), "signet.db"), time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	return newTestHandlerOn(tb, st, req)
}

// newTestHandlerOn is newTestHandler over the given store.
func newTestHandlerOn(tb testing.TB, st keystore.Store, req createKeyRequest) (*Handler, *keystore.Cache, string) {
	tb.Helper()
	c, err := keystore.NewCache(context.Background(), st, keystore.CacheOptions{Derive: derivePlaceholders})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close(); _ = st.Close() })
	k, token, err := newKey(req, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.CreateKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	app := &App{backend: &backend{store: st, cache: c}, MaxStaleness: caddy.Duration(defaultMaxStaleness), MaxLifetime: caddy.Duration(defaultMaxLifetime)}
	h := &Handler{cache: c, app: app, logger: zap.NewNop(), Realm: "signet", API: defaultAPIPrefix, param: verifier.DefaultParam, metrics: true}
	h.challenge, h.invalid = `Bearer realm="signet"`, `Bearer realm="signet", error="invalid_token"`
	return h, c, token
}

type nopResponseWriter struct{ h http.Header }

func (w *nopResponseWriter) Header() http.Header         { return w.h }
func (w *nopResponseWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopResponseWriter) WriteHeader(int)             {}

var bareNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// benchRequest runs serve b.N times on a request as Caddy hands it to a
// handler (fresh replacer per request, Authorization header set).
func benchRequest(b *testing.B, token string, serve func(http.ResponseWriter, *http.Request) error) {
	r := httptest.NewRequest(http.MethodGet, "http://files.example.com/reports/2026/q1.pdf", nil)
	w := &nopResponseWriter{h: http.Header{}}
	auth := []string{"Bearer " + token}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		repl := caddy.NewReplacer()
		req := r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl))
		req.Header = http.Header{"Authorization": auth}
		u := *r.URL // handlers may rewrite the URL (signet strips its parameter)
		req.URL = &u
		if err := serve(w, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareNext is the baseline: the same request handed straight to
// the next handler.
func BenchmarkBareNext(b *testing.B) {
	_, _, token := newTestHandler(b, createKeyRequest{Name: "bench"})
	benchRequest(b, token, bareNext.ServeHTTP)
}

// BenchmarkBearer is a request with a valid API key through the handler
// with a warm cache.
func BenchmarkBearer(b *testing.B) {
	h, _, token := newTestHandler(b, createKeyRequest{Name: "bench", Scopes: []string{"/reports/"}})
	benchRequest(b, token, func(w http.ResponseWriter, r *http.Request) error {
		return h.ServeHTTP(w, r, bareNext)
	})
}

// BenchmarkBearerRedis is BenchmarkBearer with the Redis store behind the
// cache: the request path reads only the in-process view, so it should
// cost the same.
func BenchmarkBearerRedis(b *testing.B) {
	srv := redistest.Start(b)
	st := keystore.NewRedisStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), "bench")
	b.Cleanup(func() { _ = st.Close() })
	h, _, token := newTestHandlerOn(b, st, createKeyRequest{Name: "bench", Scopes: []string{"/reports/"}})
	benchRequest(b, token, func(w http.ResponseWriter, r *http.Request) error {
		return h.ServeHTTP(w, r, bareNext)
	})
}

// BenchmarkSignedURL is a GET of a valid signed URL through the handler,
// with the issuing key's status checked in the warm cache.
func BenchmarkSignedURL(b *testing.B) {
	h, c, _ := newTestHandler(b, createKeyRequest{Name: "bench", Scopes: []string{"/reports/"}, Permissions: "sign"})
	v, err := verifier.NewVerifier([]verifier.Secret{{ID: "k1", Key: make([]byte, 32)}}, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	h.app.verifier = v
	id, _ := verifier.NewURLID()
	now := time.Now()
	var keyID string
	for _, k := range mustList(b, c) {
		keyID = k.ID
	}
	token, err := h.app.verifier.Sign(verifier.Claims{
		ExpiresAt: now.Add(time.Hour).Unix(), IssuedAt: now.Unix(), ID: id, KeyID: keyID,
	}, verifier.Target{Host: "files.example.com", Method: "GET", Path: "/reports/2026/q1.pdf"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://files.example.com/reports/2026/q1.pdf?sig="+token, nil)
	w := &nopResponseWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req := r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		req.Header = http.Header{}
		u := *r.URL
		req.URL = &u
		if err := h.ServeHTTP(w, req, bareNext); err != nil {
			b.Fatal(err)
		}
		if req.URL.RawQuery != "" {
			b.Fatal("signature not stripped")
		}
	}
}

func mustList(b *testing.B, c *keystore.Cache) []*keystore.Key {
	keys, err := c.Store().ListKeys(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// BenchmarkBearerParallel is BenchmarkBearer from every core at once: the
// cache must not contend.
func BenchmarkBearerParallel(b *testing.B) {
	h, _, token := newTestHandler(b, createKeyRequest{Name: "bench", Scopes: []string{"/reports/"}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "http://files.example.com/reports/2026/q1.pdf", nil)
		w := &nopResponseWriter{h: http.Header{}}
		auth := []string{"Bearer " + token}
		for pb.Next() {
			req := r.WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			req.Header = http.Header{"Authorization": auth}
			if err := h.ServeHTTP(w, req, bareNext); err != nil {
				b.Fatal(err)
			}
		}
	})
}
