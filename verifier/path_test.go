package verifier

import (
	"bufio"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		rawPath string
		ok      bool
	}{
		// Accepted: clean absolute paths, used exactly as given.
		{"root", "/", "", true},
		{"one segment", "/a", "", true},
		{"trailing slash", "/a/", "", true},
		{"file", "/a/b.pdf", "", true},
		{"semicolon", "/a/b;c", "", true},
		{"space", "/a b/c d.txt", "/a%20b/c%20d.txt", true},
		{"leading space", "/ a/ b.txt", "/%20a/%20b.txt", true},
		{"unicode", "/ünïcödé/файл.pdf", "", true},
		{"CJK", "/日本/報告.pdf", "", true},
		{"emoji", "/😀/x", "", true},
		{"dot prefix", "/.well-known/x", "", true},
		{"dot inside", "/a.b/c.d", "", true},
		{"dots inside", "/a..b/..c", "", true},
		{"raw path with other escapes", "/a/b c", "/a/b%20c", true},
		{"raw path ending in percent", "/a%", "/a%25", true},
		{"raw path short escape", "/a%2", "/a%2", true},
		{"lone percent", "/100%.txt", "", true},
		{"percent and one hex digit", "/a%2/b", "", true},
		{"percent and non-hex", "/a%zz", "", true},
		{"percent-u and three hex digits", "/a%u12", "", true},
		{"percent-u and non-hex", "/a%u12g4", "", true},
		{"plus", "/a+b", "", true},

		// Refused: every path with more than one reading.
		{"empty", "", "", false},
		{"relative", "a", "", false},
		{"relative dot", "./a", "", false},
		{"double slash", "//", "", false},
		{"leading double slash", "//a", "", false},
		{"inner double slash", "/a//b", "", false},
		{"trailing double slash", "/a//", "", false},
		{"dot segment first", "/./a", "", false},
		{"dot segment inner", "/a/./b", "", false},
		{"dot segment last", "/a/.", "", false},
		{"dot segment alone", "/.", "", false},
		{"dot segment trailing slash", "/a/./", "", false},
		{"dotdot last", "/a/..", "", false},
		{"dotdot inner", "/a/../b", "", false},
		{"dotdot root", "/..", "", false},
		{"dotdot trailing slash", "/../", "", false},
		{"backslash", "/a\\b", "", false},
		{"backslash dotdot", "/a\\..\\b", "", false},
		{"NUL", "/a\x00b", "", false},
		{"NUL at end", "/a\x00", "", false},
		{"DEL", "/a\x7f", "", false},
		{"tab", "/a\tb", "", false},
		{"newline", "/a\nb", "", false},
		{"CR", "/a\rb", "", false},
		{"escape", "/a\x1bb", "", false},
		{"invalid UTF-8 byte", "/a\xffb", "", false},
		{"truncated UTF-8", "/a\xc3", "", false},
		{"overlong slash", "/a\xc0\xafb", "", false},
		{"overlong dot", "/\xc0\xae\xc0\xae/x", "", false},
		{"surrogate", "/a\xed\xa0\x80", "", false},
		{"encoded slash upper", "/a/b", "/a%2Fb", false},
		{"encoded slash lower", "/a/b", "/a%2fb", false},
		{"encoded backslash upper", "/a\\b", "/a%5Cb", false},
		{"encoded backslash lower", "/a\\b", "/a%5cb", false},
		{"encoded slash at start", "//b", "/%2Fb", false},
		{"encoded slash after other escape", "/a b/c", "/a%20b%2Fc", false},
		{"encoded slash after percent", "/a%/b", "/a%25%2Fb", false},

		// Rule 1: "." or ".." once ";" parameters are removed (Tomcat,
		// Jetty, Spring read "/public/..;/x" as "/x").
		{"dotdot params", "/public/..;/reports/q1.txt", "", false},
		{"dotdot jsessionid", "/alice/..;jsessionid=x/x", "", false},
		{"dot params", "/a/.;/b", "", false},
		{"dotdot more params", "/..;a;b/", "", false},
		{"dotdot params last", "/a/..;", "", false},
		{"dot params last", "/a/.;x", "", false},
		{"dotdot params first", "/..;/x", "", false},
		// An empty core is "//" to Tomcat.
		{"empty core", "/a/;x/b", "", false},
		{"empty core last", "/a/;", "", false},
		{"empty core first", "/;/", "", false},

		// Double encoding: a second decoding would read another path.
		{"double-encoded dots", "/%2e%2e/secret", "/%252e%252e/secret", false},
		{"double-encoded slash", "/a%2Fb", "/a%252Fb", false},
		{"double-encoded backslash", "/a%5cb", "/a%255cb", false},
		{"double-encoded letter", "/%41", "/%2541", false},
		{"escape at end", "/a%2e", "", false},
		{"escape after lone percent", "/a%%2e", "", false},
		{"IIS u-escape", "/%u002e%u002e/x", "", false},
		{"IIS U-escape", "/%U002E/x", "", false},
		{"IIS u-escape hex letters", "/%uFF0Fx", "", false},

		// Windows: trailing dots and spaces are stripped from each segment.
		{"three dots", "/...", "", false},
		{"three dots inner", "/a/.../b", "", false},
		{"dotdot space", "/.. /x", "/..%20/x", false},
		{"dot space dot", "/. ./x", "/.%20./x", false},
		{"space only", "/a/ /b", "/a/%20/b", false},
		{"trailing dot", "/secret.txt.", "", false},
		{"trailing space", "/secret.txt ", "/secret.txt%20", false},
		{"trailing dots", "/a./b.", "", false},
		{"trailing dot directory", "/a/secret./x", "", false},
		{"nginx alias off-by-slash", "/static../x", "", false},
		{"core trailing dot", "/a/b.;x/c", "", false},
		{"core trailing space", "/a/b ;x", "/a/b%20;x", false},
		{"params trailing dot", "/a/b;x.", "", false},

		// Windows best fit (and compatibility mappings) to ".", "/", "\".
		{"fullwidth full stop", "/a/\uFF0E\uFF0E/b", "", false},
		{"fullwidth solidus", "/public/..\uFF0Fsecret", "", false},
		{"fullwidth reverse solidus", "/public/..\uFF3Csecret", "", false},
		{"division slash", "/a\u2215b", "", false},
		{"fraction slash", "/a\u2044b", "", false},
		{"big solidus", "/a\u29F8b", "", false},
		{"small full stop", "/\uFE52\uFE52/x", "", false},
		{"one dot leader", "/\u2024\u2024/x", "", false},
		{"two dot leader", "/\u2025/x", "", false},
		{"small reverse solidus", "/a\uFE68b", "", false},
		{"set minus", "/public/..\u2216secret", "", false},
		// Best fit to a space, which Win32 then strips at the end of a name.
		{"ideographic space at end", "/public/..\u3000/x", "", false},
		{"en quad at end", "/a/b\u2000", "", false},
		{"six-per-em space before params", "/a/b\u2006;x", "", false},
		{"ideographic space inside", "/日本\u3000語/", "", true},
		{"ideographic space in params", "/a;b\u3000;c/x", "", true},
		{"fullwidth letter", "/a/\uFF42.pdf", "", true},
		{"yen sign", "/価格¥1000.pdf", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPath(tt.path, tt.rawPath)
			if tt.ok && err != nil {
				t.Errorf("CheckPath(%q, %q) = %v, want nil", tt.path, tt.rawPath, err)
			}
			if !tt.ok && !errors.Is(err, ErrAmbiguousPath) {
				t.Errorf("CheckPath(%q, %q) = %v, want ErrAmbiguousPath", tt.path, tt.rawPath, err)
			}
		})
	}
}

// TestCheckPathRequests checks request paths as they are sent, decoded
// exactly as Caddy sees them (r.URL.Path and r.URL.RawPath).
func TestCheckPathRequests(t *testing.T) {
	tests := []struct {
		raw  string // the request path as sent
		path string // what Go decodes it to, when the test wants to show it
		ok   bool
	}{
		// Rule 1, in any encoding.
		{"/public/..;/reports/q1.txt", "", false},
		{"/alice/..;jsessionid=x/x", "", false},
		{"/a/.;/b", "", false},
		{"/a/%2e%2e;/b", "/a/..;/b", false},
		{"/a/%2E%2E;/b", "/a/..;/b", false},
		{"/a/.%2e;x/b", "/a/..;x/b", false},
		{"/a/%2e;/b", "/a/.;/b", false},
		{"/a/..%3B/b", "/a/..;/b", false},
		{"/a/%2e%2e%3bx/b", "/a/..;x/b", false},
		{"/..;a;b/", "", false},
		{"/%2e%2e;a;b/", "/..;a;b/", false},
		{"/a/%3Bx/b", "/a/;x/b", false},

		// ";" elsewhere: accepted (see TestSemicolonStaysInScope).
		{"/alice;x/f", "", true},
		{"/a/b;jsessionid=1", "", true},
		{"/a/b;c=d;e=f/g", "", true},
		{"/a/..x;y/b", "", true},
		{"/a/b%3Bc", "/a/b;c", true},

		// Double encoding.
		{"/%252e%252e/secret", "/%2e%2e/secret", false},
		{"/%252E%252E%252Fsecret", "/%2E%2E%2Fsecret", false},
		{"/a%252Fb", "/a%2Fb", false},
		{"/%25u002e%25u002e/x", "/%u002e%u002e/x", false},
		{"/%25U002E/x", "/%U002E/x", false},
		{"/a%25%32%65", "/a%2e", false},
		{"/100%25.txt", "/100%.txt", true},
		{"/100%25", "/100%", true},
		{"/a%25zz", "/a%zz", true},
		{"/a%252", "/a%2", true},

		// Windows names.
		{"/...", "", false},
		{"/..%20/x", "/.. /x", false},
		{"/.%20./x", "/. ./x", false},
		{"/%2e%2e%2e/x", "/.../x", false},
		{"/secret.txt.", "", false},
		{"/secret.txt%2e", "/secret.txt.", false},
		{"/secret.txt%20", "/secret.txt ", false},
		{"/a/b.;x", "", false},
		{"/a.b/c", "", true},
		{"/a/%20b", "/a/ b", true},

		// Best fit.
		{"/public/..%EF%BC%8Fsecret", "/public/..\uFF0Fsecret", false},
		{"/public/%EF%BC%8E%EF%BC%8E/secret", "/public/\uFF0E\uFF0E/secret", false},
		{"/a%E2%88%95b", "/a\u2215b", false},
		{"/a%E2%88%96b", "/a\u2216b", false},
		{"/public/..%E3%80%80/x", "/public/..\u3000/x", false},
		{"/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%A0%B1%E5%91%8A.pdf", "/日本語/報告.pdf", true},
		{"/caf%C3%A9/", "/café/", true},
		{"/café/x", "/café/x", true},
	}
	for _, tt := range tests {
		u, err := url.Parse("http://h" + tt.raw)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.raw, err)
		}
		if tt.path != "" && u.Path != tt.path {
			t.Errorf("%q decodes to %q, the test expects %q", tt.raw, u.Path, tt.path)
		}
		err = CheckPath(u.Path, u.RawPath)
		if tt.ok && err != nil {
			t.Errorf("%q: CheckPath(%q, %q) = %v, want nil", tt.raw, u.Path, u.RawPath, err)
		}
		if !tt.ok && !errors.Is(err, ErrAmbiguousPath) {
			t.Errorf("%q: CheckPath(%q, %q) = %v, want ErrAmbiguousPath", tt.raw, u.Path, u.RawPath, err)
		}
	}
}

// Go has decoded %2e before CheckPath runs: the encoded rule-1 path reaches
// it as "..;" with the escaped form in RawPath, and both forms are refused.
func TestCheckPathEncodedDotParams(t *testing.T) {
	u, err := url.Parse("http://h/a/%2e%2e;/b")
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/a/..;/b" || u.RawPath != "/a/%2e%2e;/b" {
		t.Fatalf("Path %q, RawPath %q; want %q, %q", u.Path, u.RawPath, "/a/..;/b", "/a/%2e%2e;/b")
	}
	for _, f := range [][2]string{{u.Path, u.RawPath}, {u.Path, ""}} {
		if err := CheckPath(f[0], f[1]); !errors.Is(err, ErrAmbiguousPath) {
			t.Errorf("CheckPath(%q, %q) = %v, want ErrAmbiguousPath", f[0], f[1], err)
		}
	}
}

// IIS %u escapes never reach a handler: Go's request parsing refuses an
// invalid escape in the path (net/http answers 400).
func TestIISPercentUNeverReachesCheckPath(t *testing.T) {
	for _, p := range []string{"/%u002e%u002e/secret", "/a/%u2215b", "/%U002E%U002E/x"} {
		if u, err := url.ParseRequestURI(p); err == nil {
			t.Errorf("url.ParseRequestURI(%q) = %q, want an error", p, u.Path)
		}
		req := "GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n"
		if r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(req))); err == nil {
			t.Errorf("http.ReadRequest(%q) = %q, want an error", req, r.URL.Path)
		}
	}
}

// Letter case and Unicode normalisation are not refused: real names differ
// in both. Signet compares bytes, so a scope or public prefix never covers
// another spelling: it is stricter than a case-insensitive or normalising
// file system (and a prefix revocation misses another spelling, too).
func TestCheckPathCaseAndNormalisation(t *testing.T) {
	const nfc, nfd = "/caf\u00e9/x", "/cafe\u0301/x"
	tests := []struct {
		path, scope string
	}{
		{"/Alice/x", "/alice/"},
		{"/ALICE/x", "/alice"},
		{"/alice/x", "/Alice/"},
		{nfd, "/caf\u00e9/"},
		{nfc, "/cafe\u0301/"},
		{"/Reports/q1.pdf", "/reports/"}, // a prefix revocation of /reports/ misses it
		{"/ｒeports/q1.pdf", "/reports/"}, // fullwidth letter: another name
	}
	for _, tt := range tests {
		if err := CheckPath(tt.path, ""); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", tt.path, err)
		}
		if ScopeCovers(tt.scope, tt.path) || AnyScopeCovers([]string{"/x/", tt.scope}, tt.path) {
			t.Errorf("scope %q covers %q", tt.scope, tt.path)
		}
		if !ScopeCovers(tt.scope, strings.TrimSuffix(tt.scope, "/")+"/x") {
			t.Errorf("scope %q does not cover its own spelling", tt.scope)
		}
	}
	if u, _ := url.Parse("http://h/cafe%CC%81/x"); u.Path != nfd || CheckPath(u.Path, u.RawPath) != nil {
		t.Errorf("NFD request: Path %q (want %q), CheckPath = %v", u.Path, nfd, CheckPath(u.Path, u.RawPath))
	}
}

// TestSemicolonStaysInScope confirms that, once rule 1 holds, an origin that
// strips ";" parameters (and one that also applies the Windows readings)
// never serves an accepted path from outside the scope or public path that
// covered it: only a ".." core climbed out.
func TestSemicolonStaysInScope(t *testing.T) {
	tests := []struct {
		scope, raw string
		escape     bool // whether a Tomcat-style strip reads it outside the scope
	}{
		{"/public/", "/public/..;/reports/q1.txt", true},
		{"/alice/", "/alice/..;jsessionid=x/x", true},
		{"/alice/", "/alice/%2e%2e;/bob/x", true},
		{"/alice/", "/alice/x/..;/..;/bob", true},
		{"/robots.txt", "/robots.txt/..;/secret", true},
		{"/alice/", "/alice/.;/x", false},
		{"/alice/", "/alice/;x/y", false},
		{"/alice/", "/alice/x;y/f", false},
		{"/alice/", "/alice/x/..;/y", false},
		{"/alice/", "/alice;x/f", false},
		{"/robots.txt", "/robots.txt;x", false},
		{"/robots.txt", "/robots.txt/;x", false},
		{"/public/", "/public/a;b=c;d/e;f", false},
	}
	for _, tt := range tests {
		u, err := url.Parse("http://h" + tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		tomcat := ScopeCovers(tt.scope, u.Path) && !ScopeCovers(stripParams.read(tt.scope), stripParams.read(u.Path))
		if tomcat != tt.escape {
			t.Errorf("%q under %q: Tomcat reads %q, escape = %v, want %v", tt.raw, tt.scope, stripParams.read(u.Path), tomcat, tt.escape)
		}
		if tt.escape && CheckPath(u.Path, u.RawPath) == nil {
			t.Errorf("%q escapes %q after a Tomcat strip, but CheckPath accepts it", tt.raw, tt.scope)
		}
		if o, bad := escapes(tt.scope, u.Path); bad && CheckPath(u.Path, u.RawPath) == nil {
			t.Errorf("accepted %q: origin %05b reads %q outside %q", tt.raw, o, o.read(u.Path), tt.scope)
		}
	}
	// Caveat (docs/security.md): a scope or public path that itself holds
	// ";" is read by Tomcat without it, so "/a;b/" grants "/a/…" there.
	if CheckScope("/a;b/") != nil || !ScopeCovers("/a;b/", "/a;b/x") || stripParams.read("/a;b/x") != "/a/x" {
		t.Error(`the documented caveat for a scope holding ";" no longer holds: update docs/security.md`)
	}
}

// TestRefusedTricksEscape shows why each refused trick matters: some origin
// reading leaves the prefix Signet matched.
func TestRefusedTricksEscape(t *testing.T) {
	for _, raw := range []string{
		"/public/..;/secret", "/public/%252e%252e/secret", "/public/%25u002e%25u002e/secret",
		"/public/..%20/secret", "/public/.../secret", "/public/..%EF%BC%8Fsecret",
		"/public/..%EF%BC%BCsecret", "/public/..%E2%88%95secret", "/public/..%E2%88%96secret",
		"/public/%EF%BC%8E%EF%BC%8E/secret", "/public/..%E3%80%80/secret", "/public/..%3B/secret",
	} {
		u, err := url.Parse("http://h" + raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, bad := escapes("/public/", u.Path); !bad {
			t.Errorf("%q: no origin reading leaves /public/; the model misses this trick", raw)
		}
		if CheckPath(u.Path, u.RawPath) == nil {
			t.Errorf("%q (Path %q) escapes /public/, but CheckPath accepts it", raw, u.Path)
		}
	}
}

// The raw path is checked even when the decoded path alone looks clean.
func TestCheckPathRawOnlyEncodedSeparator(t *testing.T) {
	for _, raw := range []string{"/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb", "%2F", "/x/%2f"} {
		if err := CheckPath("/a/b", raw); !errors.Is(err, ErrAmbiguousPath) {
			t.Errorf("CheckPath(%q, %q) = %v, want ErrAmbiguousPath", "/a/b", raw, err)
		}
	}
}

// CheckPath documents that it refuses any control character; U+0085 (NEL)
// and U+009B (CSI) are control characters too (unicode.IsControl).
func TestCheckPathC1Controls(t *testing.T) {
	for _, p := range []string{"/a\u0085b", "/a\u009b[31mb", "/\u0080"} {
		if err := CheckPath(p, ""); !errors.Is(err, ErrAmbiguousPath) {
			t.Errorf("CheckPath(%q) = %v: C1 control characters are accepted although the doc comment says no control character is", p, err)
		}
	}
}

func TestCheckPathDoesNotAllocate(t *testing.T) {
	for _, p := range [][2]string{
		{"/a/b/c.pdf", ""}, {"/a b", "/a%20b"}, {"/a/../b", ""}, {"/a/b", "/a%2Fb"},
		{"/a;x/b;y", ""}, {"/日本語/報告.pdf", ""}, {"/100%.txt", ""}, {"/a/..;/b", ""},
	} {
		allocs := testing.AllocsPerRun(100, func() { _ = CheckPath(p[0], p[1]) })
		if allocs != 0 {
			t.Errorf("CheckPath(%q, %q) allocates %v times per call, want 0", p[0], p[1], allocs)
		}
	}
}

// BenchmarkCheckPath measures the check every request pays, on a typical
// file path (no raw path: nothing in it needs escaping).
func BenchmarkCheckPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if CheckPath("/reports/2026/q1-summary.pdf", "") != nil {
			b.Fatal("refused")
		}
	}
}
