package client

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// testKey is a secret key value made for these tests (no server has it).
const testKey = "sk_q3ADzCh46-K1fcjhjnqI2EDikr34lvVVtUJeaZm2YyjDebcn"

var testNow = time.Unix(1767261600, 0) // 2026-01-01T10:00:00Z

func testSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyVerifier verifies key-signed tokens of testKey as a server does
// (the ring holds some other secret, which must not be used).
func keyVerifier(t testing.TB) *verifier.Verifier {
	t.Helper()
	k, err := verifier.OfflineKeyOf(testKey)
	if err != nil {
		t.Fatal(err)
	}
	ring := []verifier.Secret{{ID: "ring", Key: make([]byte, 32)}}
	v, err := verifier.NewVerifier(ring, DefaultParam, 0, verifier.WithOfflineKeys(func(id verifier.KeyRef) *verifier.OfflineKey {
		if id.String() == k.KeyID() {
			return k
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyURL verifies the URL u as a server would get it, from its query
// (or from its path, for a path form under api).
func verifyURL(t testing.TB, v *verifier.Verifier, u, api string, now time.Time) (verifier.Claims, *url.URL, error) {
	t.Helper()
	p, err := url.ParseRequestURI(u)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	tg := verifier.Target{Host: p.Host, Method: "GET", Path: p.Path, RawPath: p.RawPath, RawQuery: p.RawQuery}
	if api != "" {
		pf := verifier.NewPathForm(api)
		if pf.Is(p.Path) {
			tok, rest, restRaw, err := pf.Cut(p.Path, p.RawPath)
			if err != nil {
				return verifier.Claims{}, p, err
			}
			tg.Path, tg.RawPath = rest, restRaw
			c, err := v.VerifyToken(tok, tg, now)
			return c, p, err
		}
	}
	c, err := v.Verify(tg, now)
	return c, p, err
}

// TestKeySignedLinks: links signed by the Signer verify as key-signed
// tokens of its key, with what was asked for bound in them, and break
// with any change.
func TestKeySignedLinks(t *testing.T) {
	s := testSigner(t)
	v := keyVerifier(t)
	for _, c := range []struct {
		name       string
		path       string
		opts       []Option
		wantPath   string // the decoded path of the URL
		wantQuery  string // its query without the token
		wantPrefix string
		wantPolicy verifier.Policy
	}{
		{name: "plain", path: "/reports/q1.txt", wantPath: "/reports/q1.txt"},
		{name: "reserved and non-ASCII", path: "/docs/team a/café+menu (v2)%;x=1,@!$&'*.pdf",
			wantPath: "/docs/team a/café+menu (v2)%;x=1,@!$&'*.pdf"},
		{name: "query pairs", path: "/a.txt", opts: []Option{QueryPair("b", "x y+z"), QueryPair("a", "1&2=3"), QueryPair("é", "")},
			wantPath: "/a.txt", wantQuery: "b=x%20y%2Bz&a=1%262%3D3&%C3%A9="},
		{name: "raw query", path: "/a.txt", opts: []Option{RawQuery("q=a+b&q=a%20b&x=1;y=2&empty&=v&%7Euser=~me")},
			wantPath: "/a.txt", wantQuery: "q=a+b&q=a%20b&x=1;y=2&empty&=v&%7Euser=~me"},
		{name: "every file policy", path: "/r/q1.pdf",
			opts:     []Option{DownloadName(`Résumé "final"; v2.pdf`), Inline(), ContentType("application/pdf"), MaxUses(3), ClientCIDR("203.0.113.7")},
			wantPath: "/r/q1.pdf",
			wantPolicy: verifier.Policy{DownloadName: `Résumé "final"; v2.pdf`, Inline: true, ContentType: "application/pdf",
				MaxUses: 3, ClientCIDR: mustCIDR(t, "203.0.113.7/32")}},
		{name: "folder", path: "/movie", opts: []Option{Folder(), MaxUses(10), ClientCIDR("2001:db8::/32")},
			wantPath: "/movie/", wantPrefix: "/movie/",
			wantPolicy: verifier.Policy{MaxUses: 10, ClientCIDR: mustCIDR(t, "2001:db8::/32")}},
		{name: "folder path form", path: "/фото/2026 лето/", opts: []Option{PathForm()},
			wantPath: "/_signet/v1/t/", wantPrefix: "/фото/2026 лето/"},
		{name: "folder path form, own api", path: "/movie/", opts: []Option{PathForm(), API("/files-api/")},
			wantPath: "/files-api/t/", wantPrefix: "/movie/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]Option{Now(testNow)}, c.opts...)
			u, err := s.SignURL("https://Files.Example.com:8443", c.path, 10*time.Minute, opts...)
			if err != nil {
				t.Fatal(err)
			}
			api := DefaultAPI
			if strings.HasPrefix(c.wantPath, "/files-api/") {
				api = "/files-api"
			}
			claims, p, err := verifyURL(t, v, u, api, testNow)
			if err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if !strings.HasPrefix(p.Path, c.wantPath) || (c.wantPrefix == "" && p.Path != c.wantPath) {
				t.Fatalf("%s decodes to %q, want %q", u, p.Path, c.wantPath)
			}
			if q := verifier.StripParam(p.RawQuery, DefaultParam); q != c.wantQuery {
				t.Fatalf("%s: query %q, want %q", u, q, c.wantQuery)
			}
			if !claims.KeySigned() || claims.KeyID != s.KeyID() || claims.Prefix != c.wantPrefix || claims.Policy != c.wantPolicy ||
				claims.IssuedAt != testNow.Unix() || claims.ExpiresAt != testNow.Unix()+600 {
				t.Fatalf("claims %+v", claims)
			}
			// Any one-byte change of the URL is refused.
			for _, i := range []int{len("https://Files.Example.com:8443") + 2, len(u) - 1, strings.LastIndex(u, "sig=") + 10} {
				b := []byte(u)
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				if _, _, err := verifyURL(t, v, string(b), api, testNow); err == nil {
					t.Errorf("%s (byte %d changed) verifies", b, i)
				}
			}
		})
	}
}

func mustCIDR(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := verifier.ParseClientCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestURLs: the exact URLs of the spec's rules: path escaping, the query
// written as given, pairs in their order, url.Values sorted by name, the
// signature parameter last, folder prefixes and the path form.
func TestURLs(t *testing.T) {
	s := testSigner(t)
	sign := func(base, path string, opts ...Option) string {
		t.Helper()
		u, err := s.SignURL(base, path, time.Hour, append([]Option{Now(testNow), URLID(verifier.URLID{})}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	strip := func(u string) string { // the URL without its token
		t.Helper()
		i := strings.LastIndex(u, "=")
		return u[:i+1]
	}
	for _, c := range []struct {
		path string
		opts []Option
		want string
	}{
		{"/reports/q1.txt", nil, "https://h/reports/q1.txt?sig="},
		{"/a b/é+%~-._/x", nil, "https://h/a%20b/%C3%A9%2B%25~-._/x?sig="},
		{"/!$&'()*,;=:@[]", nil, "https://h/%21%24%26%27%28%29%2A%2C%3B%3D%3A%40%5B%5D?sig="},
		{"/a", []Option{QueryPair("b", "2"), QueryPair("a", "1")}, "https://h/a?b=2&a=1&sig="},
		{"/a", []Option{QueryPair("sp ace", "x y"), QueryPair("plus", "+"), QueryPair("pct", "%"), QueryPair("", "")},
			"https://h/a?sp%20ace=x%20y&plus=%2B&pct=%25&=&sig="},
		{"/a", []Option{Query(url.Values{"b": {"2", "1"}, "a": {"z"}, "c": {""}})}, "https://h/a?a=z&b=2&b=1&c=&sig="},
		{"/a", []Option{QueryPair("z", "0"), Query(url.Values{"b": {"2"}, "a": {"1"}}), QueryPair("y", "9")}, "https://h/a?z=0&a=1&b=2&y=9&sig="},
		{"/a", []Option{RawQuery("b=2&a=1&c=%2b+;")}, "https://h/a?b=2&a=1&c=%2b+;&sig="},
		{"/a", []Option{Param("s"), QueryPair("sig", "1")}, "https://h/a?sig=1&s="},
		{"/movie", []Option{Folder()}, "https://h/movie/?sig="},
		{"/movie/", []Option{Folder()}, "https://h/movie/?sig="},
		{"/", []Option{Folder()}, "https://h/?sig="},
		{"/caf é", []Option{Folder(), Param("token")}, "https://h/caf%20%C3%A9/?token="},
	} {
		if got := strip(sign("https://h", c.path, c.opts...)); got != c.want {
			t.Errorf("%q %v:\n got %s\nwant %s", c.path, c.opts, got, c.want)
		}
	}

	// A folder's two spellings give the same link.
	if a, b := sign("http://h:8080", "/movie", Folder()), sign("http://h:8080", "/movie/", Folder()); a != b {
		t.Errorf("/movie and /movie/ differ:\n%s\n%s", a, b)
	}
	// The path form: base + api + "/t/" + token + escaped prefix.
	q := sign("https://h", "/фото/2026 лето", Folder())
	tok := q[strings.LastIndex(q, "=")+1:]
	if got, want := sign("https://h", "/фото/2026 лето", PathForm()),
		"https://h/_signet/v1/t/"+tok+"/%D1%84%D0%BE%D1%82%D0%BE/2026%20%D0%BB%D0%B5%D1%82%D0%BE/"; got != want {
		t.Errorf("path form:\n got %s\nwant %s", got, want)
	}
	if got, want := sign("https://h", "/movie", PathForm(), API("/x y/api/")), "https://h/x%20y/api/t/"+tokenOfFolder(t, s, "/movie")+"/movie/"; got != want {
		t.Errorf("path form with api:\n got %s\nwant %s", got, want)
	}
	// Sign: both forms of a folder link, and what it grants.
	link, err := s.Sign("https://h", "/movie", time.Hour, Folder(), Now(testNow), URLID(verifier.URLID{1}))
	if err != nil {
		t.Fatal(err)
	}
	if link.Path != "/movie/" || !link.Folder || link.ID != (verifier.URLID{1}).String() || !link.ExpiresAt.Equal(testNow.Add(time.Hour)) ||
		!strings.HasPrefix(link.URL, "https://h/movie/?sig=") || !strings.HasPrefix(link.PathURL, "https://h/_signet/v1/t/") {
		t.Errorf("folder link %+v", link)
	}
	file, err := s.Sign("https://h", "/a b.txt", time.Minute)
	if err != nil || file.PathURL != "" || file.Folder || file.Path != "/a b.txt" {
		t.Errorf("file link %+v %v", file, err)
	}
}

func tokenOfFolder(t *testing.T, s *Signer, path string) string {
	t.Helper()
	u, err := s.SignURL("https://h", path, time.Hour, Folder(), Now(testNow), URLID(verifier.URLID{}))
	if err != nil {
		t.Fatal(err)
	}
	return u[strings.LastIndex(u, "=")+1:]
}

// TestDefaults: without Now and URLID, the link is issued now with a
// random id.
func TestDefaults(t *testing.T) {
	s := testSigner(t)
	before := time.Now().Unix()
	a, err := s.Sign("https://h", "/a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	b, err := s.Sign("https://h", "/a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || a.URL == b.URL {
		t.Fatalf("two links with one id: %s %s", a.URL, b.URL)
	}
	if exp := a.ExpiresAt.Unix() - 60; exp < before || exp > after {
		t.Fatalf("issued at %d, not in [%d, %d]", exp, before, after)
	}
	// The package-level SignURL is the Signer's.
	u1, err1 := SignURL("https://h", "/a", testKey, time.Minute, Now(testNow), URLID(verifier.URLID{}))
	u2, err2 := s.SignURL("https://h", "/a", time.Minute, Now(testNow), URLID(verifier.URLID{}))
	if err1 != nil || err2 != nil || u1 != u2 {
		t.Fatalf("SignURL %s %v, Signer %s %v", u1, err1, u2, err2)
	}
}
