package verifier

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestVerifyToken: a folder token presented outside the query verifies for
// every clean path under its folder with any query, and nothing else.
func TestVerifyToken(t *testing.T) {
	s := testSecret("k1", 7)
	v := mustVerifier(t, "", 0, s)
	folder := testClaims()
	folder.Prefix = "/movie/"
	ftok := mustSign(t, s, folder, Target{Host: "h", Method: "GET", Path: "/movie/"})
	exact := testClaims()
	etok := mustSign(t, s, exact, Target{Host: "h", Method: "GET", Path: "/movie/a.ts"})

	tests := []struct {
		tok, method, host, uri string
		want                   error
	}{
		{ftok, "GET", "h", "/movie/seg1.ts", nil},
		{ftok, "HEAD", "H:80", "/movie/", nil},
		{ftok, "GET", "h", "/movie", nil},
		{ftok, "GET", "h", "/movie/sub/x.jpg?w=100&sort=name", nil},
		{ftok, "GET", "h", "/movie2/a.ts", ErrBadSignature},
		{ftok, "GET", "h", "/secret", ErrBadSignature},
		{ftok, "GET", "other", "/movie/a.ts", ErrBadSignature},
		{ftok, "GET", "h", "/movie/../secret", ErrAmbiguousPath},
		{ftok, "GET", "h", "/movie/%2e%2e/secret", ErrAmbiguousPath},
		{ftok, "GET", "h", "/movie/a%2Fb", ErrAmbiguousPath},
		{ftok, "GET", "h", "/movie//a", ErrAmbiguousPath},
		{ftok, "POST", "h", "/movie/a.ts", ErrMethodNotAllowed},
		{ftok + "A", "GET", "h", "/movie/a.ts", ErrMalformedToken},
		{ftok[:len(ftok)-2] + "AA", "GET", "h", "/movie/a.ts", ErrBadSignature},
		{"", "GET", "h", "/movie/a.ts", ErrMalformedToken},
		// An exact token is refused outside the query, even for its own path.
		{etok, "GET", "h", "/movie/a.ts", ErrNotFolderToken},
	}
	for _, tt := range tests {
		tg := reqTarget(t, tt.method, tt.host, tt.uri)
		c, err := v.VerifyToken(tt.tok, tg, testNow)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("VerifyToken(%s %s %s) = %v, want %v", tt.method, tt.host, tt.uri, err, tt.want)
		}
		if err == nil && c.Prefix != "/movie/" {
			t.Errorf("%s: prefix %q", tt.uri, c.Prefix)
		}
	}
	// The same folder token in the query grants the same, any query included.
	for _, uri := range []string{"/movie/a.ts?sig=" + ftok, "/movie/a.ts?x=1&sig=" + ftok + "&y"} {
		if _, err := v.Verify(reqTarget(t, "GET", "h", uri), testNow); err != nil {
			t.Errorf("Verify(%s) = %v", uri, err)
		}
	}
	if _, err := v.VerifyToken(ftok, reqTarget(t, "GET", "h", "/movie/a.ts"), testNow.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired folder token: %v", err)
	}
}

func TestPathFormCut(t *testing.T) {
	f := NewPathForm("/_signet/v1")
	tok := "AQcyMDI2" + strings.Repeat("A", 20) + "-_"
	tests := []struct {
		uri                string
		tok, rest, restRaw string
		err                error
	}{
		{"/_signet/v1/t/" + tok + "/movie/index.m3u8", tok, "/movie/index.m3u8", "", nil},
		{"/_signet/v1/t/" + tok + "/", tok, "/", "", nil},
		{"/_signet/v1/t/" + tok + "/caf%C3%A9/a%20b.jpg", tok, "/café/a b.jpg", "", nil},
		{"/_signet/v1/t/" + tok + "/a%2Fb", tok, "/a/b", "/a%2Fb", nil},
		{"/_signet/v1/t/" + tok, "", "", "", ErrMalformedToken},
		{"/_signet/v1/t//movie/", "", "", "", ErrMalformedToken},
		{"/_signet/v1/t/ab=c/movie/", "ab=c", "/movie/", "", nil}, // VerifyToken refuses it
		{"/_signet/v1/t/a%41/movie/", "", "", "", ErrMalformedToken},
		{"/_signet/v1/t/a%2Fb/movie/", "", "", "", ErrMalformedToken},
		{"/_signet/v1/t/" + strings.Repeat("A", MaxTokenLen+1) + "/x", "", "", "", ErrMalformedToken},
		{"/_signet/v1/t", "", "", "", ErrNoToken},
		{"/_signet/v1/keys", "", "", "", ErrNoToken},
		{"/movie/t/" + tok + "/x", "", "", "", ErrNoToken},
		{"/_signet/v%31/t/" + tok + "/x", tok, "/x", "", ErrMalformedToken},
	}
	for _, tt := range tests {
		u, err := url.ParseRequestURI(tt.uri)
		if err != nil {
			t.Fatal(err)
		}
		tok, rest, restRaw, err := f.Cut(u.Path, u.RawPath)
		if err != tt.err {
			t.Errorf("Cut(%s) err = %v, want %v", tt.uri, err, tt.err)
			continue
		}
		if err == nil && (tok != tt.tok || rest != tt.rest || restRaw != tt.restRaw) {
			t.Errorf("Cut(%s) = %q %q %q, want %q %q %q", tt.uri, tok, rest, restRaw, tt.tok, tt.rest, tt.restRaw)
		}
	}
	if got, want := f.URLPath(tok, "/café/"), "/_signet/v1/t/"+tok+"/caf%C3%A9/"; got != want {
		t.Errorf("URLPath = %q, want %q", got, want)
	}
	if (PathForm{}).Is("/t/x/") {
		t.Error("the zero PathForm finds tokens")
	}
}

// FuzzPathFormCut: whatever the request path, Cut either refuses it or
// returns a token of base64url characters and a rest that, put back after
// the namespace and the token, is the path again (decoded and raw alike).
func FuzzPathFormCut(f *testing.F) {
	f.Add("/_signet/v1/t/AQcy/movie/index.m3u8")
	f.Add("/_signet/v1/t/AQcy/caf%C3%A9/a%2Fb?x")
	f.Add("/_signet/v1/t/%41Qcy/x")
	f.Add("/_signet/v1/t/AQcy")
	f.Add("/_signet/v1/t//")
	f.Add("/_signet/v%31/t/AQcy/x")
	pf := NewPathForm("/_signet/v1")
	f.Fuzz(func(t *testing.T, uri string) {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return
		}
		tok, rest, restRaw, err := pf.Cut(u.Path, u.RawPath)
		if err != nil {
			if err != ErrNoToken && err != ErrMalformedToken {
				t.Fatalf("error %v", err)
			}
			if (err == ErrNoToken) == pf.Is(u.Path) {
				t.Fatalf("Cut(%q) = %v, Is = %v", uri, err, pf.Is(u.Path))
			}
			return
		}
		if tok == "" || len(tok) > MaxTokenLen || strings.Contains(tok, "/") {
			t.Fatalf("token %q", tok)
		}
		if rest == "" || rest[0] != '/' || "/_signet/v1/t/"+tok+rest != u.Path {
			t.Fatalf("Cut(%q): rest %q does not rebuild path %q", uri, rest, u.Path)
		}
		if u.RawPath != "" {
			if "/_signet/v1/t/"+tok+restRaw != u.RawPath {
				t.Fatalf("Cut(%q): raw rest %q does not rebuild %q", uri, restRaw, u.RawPath)
			}
			if d, err := url.PathUnescape(restRaw); err != nil || d != rest {
				t.Fatalf("Cut(%q): raw rest %q decodes to %q, not %q", uri, restRaw, d, rest)
			}
		}
	})
}

func TestPathFormStripURL(t *testing.T) {
	f := NewPathForm("/_signet/v1")
	for in, want := range map[string]string{
		"http://h/_signet/v1/t/TOK/movie/a.ts":    "http://h/movie/a.ts",
		"https://h:8443/_signet/v1/t/TOK/":        "https://h:8443/",
		"http://h/_signet/v1/t/TOK":               "http://h/",
		"http://h/_signet/v1/t/TOK?x=1":           "http://h/?x=1",
		"http://h/_signet/v1/t/TOK/a/b.html#frag": "http://h/a/b.html#frag",
		"http://h/movie/a.ts?sig=x":               "http://h/movie/a.ts?sig=x",
		"http://h/_signet/v1/keys":                "http://h/_signet/v1/keys",
	} {
		if got := f.StripURL(in); got != want {
			t.Errorf("StripURL(%q) = %q, want %q", in, got, want)
		}
	}
}
