package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// origin is a next handler that answers like file_server: 200 with a
// body, 206 for a Range, 404 for /missing, and its own Content-Type.
type origin struct{ hits atomic.Int64 }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	o.hits.Add(1)
	if strings.HasSuffix(r.URL.Path, "/missing") {
		return caddyhttp.Error(http.StatusNotFound, nil)
	}
	w.Header().Set("Content-Type", "text/html")
	if r.Header.Get("Range") != "" {
		w.WriteHeader(http.StatusPartialContent)
	}
	_, err := w.Write([]byte("0123456789"))
	return err
}

func (s *testSite) serveWith(t *testing.T, r *http.Request, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.h.ServeHTTP(w, withReplacer(r), next); err != nil {
		if he, ok := err.(caddyhttp.HandlerError); ok {
			w.Code = he.StatusCode
			return w
		}
		t.Fatalf("ServeHTTP: %v", err)
	}
	return w
}

func errorCode(w *httptest.ResponseRecorder) string {
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return body.Error.Code
}

// TestLinkResponsePolicies: download_name, inline and content_type replace
// the origin's headers on success; client_cidr admits only its network.
func TestLinkResponsePolicies(t *testing.T) {
	s := newTestSite(t, nil, nil)
	o := &origin{}
	get := func(link string, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", link, nil)
		if remote != "" {
			r.RemoteAddr = remote
		}
		return s.serveWith(t, r, o)
	}
	l := s.signWith(t, "/r/q1.pdf", nil, verifier.Policy{DownloadName: "日本語 report.pdf", ContentType: "application/pdf"}, time.Hour)
	w := get(l.URL, "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/pdf" ||
		w.Header().Get("Content-Disposition") != `attachment; filename="___ report.pdf"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%20report.pdf` ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download: %d %v", w.Code, w.Header())
	}
	l = s.signWith(t, "/r/q1.pdf", nil, verifier.Policy{Inline: true}, time.Hour)
	if w := get(l.URL, ""); w.Header().Get("Content-Disposition") != "inline" || w.Header().Get("Content-Type") != "text/html" {
		t.Errorf("inline: %v", w.Header())
	}
	// A changed policy is a different token: the link breaks.
	if w := get(strings.Replace(l.URL, "sig=AQ", "sig=AR", 1), ""); w.Code != 403 {
		t.Errorf("tampered: %d", w.Code)
	}

	v4 := netip.MustParsePrefix("203.0.113.0/24")
	l = s.signWith(t, "/r/q1.pdf", nil, verifier.Policy{ClientCIDR: v4}, time.Hour)
	if w := get(l.URL, "203.0.113.9:5555"); w.Code != 200 {
		t.Errorf("client in the CIDR: %d", w.Code)
	}
	if w := get(l.URL, "198.51.100.1:5555"); w.Code != 403 || errorCode(w) != "client_not_allowed" {
		t.Errorf("client outside the CIDR: %d %s", w.Code, errorCode(w))
	}
	// Caddy's client IP (trusted_proxies applied) decides, not RemoteAddr.
	r := httptest.NewRequest("GET", l.URL, nil)
	r.RemoteAddr = "10.0.0.1:1"
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "203.0.113.20"}))
	if w := s.serveWith(t, r, o); w.Code != 200 {
		t.Errorf("client IP from Caddy's vars: %d", w.Code)
	}
	v6 := netip.MustParsePrefix("2001:db8::/32")
	l = s.signWith(t, "/r/q1.pdf", nil, verifier.Policy{ClientCIDR: v6}, time.Hour)
	if w := get(l.URL, "[2001:db8::7]:1"); w.Code != 200 {
		t.Errorf("IPv6 client in the CIDR: %d", w.Code)
	}
	if w := get(l.URL, "203.0.113.9:5555"); w.Code != 403 {
		t.Errorf("IPv4 client, IPv6 CIDR: %d", w.Code)
	}
}

// TestMaxUses: exactly max downloads, counted before the origin is asked,
// across concurrent requests; HEAD never counts; a 404 gives the use back;
// a Range from the same client resumes within the grace.
func TestMaxUses(t *testing.T) {
	s := newTestSite(t, nil, nil)
	o := &origin{}
	l := s.signWith(t, "/r/q1.pdf", nil, verifier.Policy{MaxUses: 3}, time.Hour)
	req := func(method, rng, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, l.URL, nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		if remote != "" {
			r.RemoteAddr = remote
		}
		return s.serveWith(t, r, o)
	}
	if w := req("HEAD", "", ""); w.Code != 200 {
		t.Fatalf("HEAD: %d", w.Code)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := req("GET", "", ""); w.Code == 200 {
				ok.Add(1)
			} else if w.Code != 403 || errorCode(w) != "max_uses_reached" {
				t.Errorf("refused with %d %s", w.Code, errorCode(w))
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 {
		t.Fatalf("%d of 50 concurrent downloads succeeded, want 3", ok.Load())
	}
	if w := req("HEAD", "", ""); w.Code != 403 {
		t.Errorf("HEAD once used up: %d", w.Code)
	}
	// The same client (192.0.2.1, httptest's) resumes; another cannot.
	if w := req("GET", "bytes=5-", ""); w.Code != 206 {
		t.Errorf("resume by the same client: %d %s", w.Code, errorCode(w))
	}
	if w := req("GET", "bytes=5-", "198.51.100.1:1"); w.Code != 403 {
		t.Errorf("resume by another client: %d", w.Code)
	}
	if w := req("GET", "bytes=0-4", ""); w.Code != 403 {
		t.Errorf("a Range from 0 starts a new download: %d", w.Code)
	}
	ctx := context.Background()
	rec, err := s.st.backend.cache.GetLink(ctx, l.ID, time.Now())
	if err != nil || rec.Uses != 3 {
		t.Fatalf("ledger: %+v %v", rec, err)
	}

	// A 404 is no download: the use is given back.
	m := s.signWith(t, "/r/missing", nil, verifier.Policy{MaxUses: 1}, time.Hour)
	for i := range 3 {
		r := httptest.NewRequest("GET", m.URL, nil)
		if w := s.serveWith(t, r, o); w.Code != 404 {
			t.Fatalf("missing file, try %d: %d %s", i, w.Code, errorCode(w))
		}
	}
	if rec, _ := s.st.backend.cache.GetLink(ctx, m.ID, time.Now()); rec == nil || rec.Uses != 0 {
		t.Errorf("uses after three 404s: %+v", rec)
	}
}

// TestLinkLedger: every link issued is in the ledger with its policies;
// ordinary uses are counted in memory and flushed; PATCH moves the expiry
// of the URL as it is, on the request path at once.
func TestLinkLedger(t *testing.T) {
	s := newTestSite(t, nil, nil)
	cache := s.st.backend.cache
	ctx := context.Background()
	signer, _ := s.key(t, rules.NewKeyRequest{Scopes: []string{"/r/"}, Permissions: "sign"})
	l := s.signWith(t, "/r/q1.pdf", signer, verifier.Policy{DownloadName: "q1.pdf"}, time.Hour)
	rec, err := cache.GetLink(ctx, l.ID, time.Now())
	if err != nil || rec.Path != "/r/q1.pdf" || rec.KeyID != signer.ID || rec.Policy.DownloadName != "q1.pdf" || !rec.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("ledger record %+v, %v", rec, err)
	}
	o := &origin{}
	for range 4 {
		s.serveWith(t, httptest.NewRequest("GET", l.URL, nil), o)
	}
	r := httptest.NewRequest("GET", l.URL, nil)
	r.Header.Set("Range", "bytes=3-")
	s.serveWith(t, r, o) // resuming: not a new use
	s.serveWith(t, httptest.NewRequest("HEAD", l.URL, nil), o)
	if err := cache.FlushLastUsed(); err != nil {
		t.Fatal(err)
	}
	if rec, _ := cache.GetLink(ctx, l.ID, time.Now()); rec.Uses != 4 || rec.LastUsed == nil {
		t.Errorf("uses %d, last used %v; want 4 and a time", rec.Uses, rec.LastUsed)
	}

	// Shorten it to now: the same URL stops at once.
	if _, err := cache.SetLinkExpiry(ctx, l.ID, time.Now().Add(-time.Second), time.Now()); err != nil {
		t.Fatal(err)
	}
	if w := s.serveWith(t, httptest.NewRequest("GET", l.URL, nil), o); w.Code != 403 || errorCode(w) != "expired" {
		t.Errorf("shortened: %d %s", w.Code, errorCode(w))
	}
	// A link whose token expires in a second, extended by an hour, goes on
	// working after its token's expiry.
	short := s.signWith(t, "/r/q1.pdf", signer, verifier.Policy{}, time.Second)
	if _, err := cache.SetLinkExpiry(ctx, short.ID, time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := short.ExpiresAt
	for time.Now().Before(deadline.Add(10 * time.Millisecond)) {
		time.Sleep(20 * time.Millisecond) // waiting for the clock itself, not for a condition
	}
	if w := s.serveWith(t, httptest.NewRequest("GET", short.URL, nil), o); w.Code != 200 {
		t.Errorf("extended past its token's expiry: %d %s", w.Code, errorCode(w))
	}
}
