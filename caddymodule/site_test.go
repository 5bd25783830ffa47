package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// testSite is an App and a Handler provisioned by the production code
// (check, Provision, the store opened as Start opens it) over a fresh
// embedded store, unless app names another store.
type testSite struct {
	app *App
	h   *Handler
	st  *running
}

func newTestSite(tb testing.TB, app *App, h *Handler) *testSite {
	tb.Helper()
	if app == nil {
		app = &App{}
	}
	if app.Store == nil {
		app.Store = &StoreConfig{Type: "file", Path: filepath.Join(tb.TempDir(), "signet.db")}
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := app.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	st, err := app.state()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = app.Cleanup() })
	if h == nil {
		h = &Handler{}
	}
	if err := h.check(); err != nil {
		tb.Fatal(err)
	}
	if err := h.provision(zap.NewNop(), app); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Cleanup() })
	return &testSite{app: app, h: h, st: st}
}

// key creates a key as the operator would and returns it with its value.
func (s *testSite) key(tb testing.TB, req rules.NewKeyRequest) (*keystore.Key, string) {
	tb.Helper()
	if req.Name == "" {
		req.Name = "test"
	}
	k, token, err := rules.NewKey(rules.Operator, req, s.st.backend.cache.User, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.st.backend.cache.CreateKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	return k, token
}

// sign returns a link to path issued by k (nil: the operator) for host.
func (s *testSite) sign(tb testing.TB, host, path string, k *keystore.Key, lifetime time.Duration) string {
	tb.Helper()
	actor := rules.Operator
	if k != nil {
		actor = rules.KeyActor(k, s.st.backend.cache.User(k.User), false)
	}
	resp, err := s.app.signURL(context.Background(), s.st, &url.URL{Scheme: "http", Host: host}, "", linkSpec{grant: path}, actor, lifetime, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return resp.URL
}

// signFolder returns a folder link to the folder prefix (ending in "/")
// issued by k (nil: the operator) for host.
func (s *testSite) signFolder(tb testing.TB, host, prefix string, k *keystore.Key, lifetime time.Duration) signedURLResponse {
	tb.Helper()
	actor := rules.Operator
	if k != nil {
		actor = rules.KeyActor(k, s.st.backend.cache.User(k.User), false)
	}
	resp, err := s.app.signURL(context.Background(), s.st, &url.URL{Scheme: "http", Host: host}, defaultAPIPrefix, linkSpec{grant: prefix, folder: true}, actor, lifetime, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// withReplacer gives r a fresh Caddy replacer, as Caddy's server does.
func withReplacer(r *http.Request) *http.Request {
	repl := caddy.NewReplacer()
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

type nopResponseWriter struct{ h http.Header }

func (w *nopResponseWriter) Header() http.Header         { return w.h }
func (w *nopResponseWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopResponseWriter) WriteHeader(int)             {}

var bareNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// signWith returns a link to path issued by k (nil: the operator) with
// policy p.
func (s *testSite) signWith(tb testing.TB, path string, k *keystore.Key, p verifier.Policy, lifetime time.Duration) signedURLResponse {
	tb.Helper()
	actor := rules.Operator
	if k != nil {
		actor = rules.KeyActor(k, s.st.backend.cache.User(k.User), false)
	}
	resp, err := s.app.signURL(context.Background(), s.st, &url.URL{Scheme: "http", Host: "files.example.com"}, defaultAPIPrefix,
		linkSpec{grant: path, policy: p}, actor, lifetime, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}
