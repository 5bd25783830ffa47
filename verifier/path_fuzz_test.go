package verifier

import (
	"errors"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// pathModelAccepts is an independent, deliberately simple reading of
// CheckPath's rules, built from the standard library instead of one pass.
func pathModelAccepts(p, rawPath string) bool {
	if !strings.HasPrefix(p, "/") || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\\' || strings.ContainsRune(modelRefusedRunes, r) {
			return false
		}
	}
	// No empty, "." or ".." segment: path.Clean changes nothing but a
	// trailing slash.
	if p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "" && i == len(segs)-1 {
			break // after a trailing slash
		}
		core, _, _ := strings.Cut(seg, ";")
		for _, s := range []string{seg, core} {
			// Neither empty nor ending in what Win32 strips (dots, spaces,
			// and what best fit turns into a space); this also covers every
			// segment made only of dots and spaces.
			if s == "" || strings.TrimRight(s, modelTrailing) != s {
				return false
			}
		}
	}
	if modelEscape.MatchString(p) {
		return false // a second decoding would read something else
	}
	lower := strings.ToLower(rawPath)
	return !strings.Contains(lower, "%2f") && !strings.Contains(lower, "%5c")
}

const (
	// Refused anywhere: best-fit and compatibility dots, slashes, backslashes.
	modelRefusedRunes = "\uFF0E\uFE52\u2024\u2025\uFF0F\u2215\u2044\u29F8\uFF3C\uFE68\u2216"
	// Refused at the end of a segment or of its core.
	modelTrailing = ". \u2000\u2001\u2002\u2003\u2004\u2005\u2006\u3000"
)

var modelEscape = regexp.MustCompile(`%[0-9A-Fa-f]{2}|%[uU][0-9A-Fa-f]{4}`)

// legacyAccepts is what CheckPath accepted before the origin-specific rules
// (issue 9): used to confirm which of those paths an origin that strips ";"
// parameters could read outside a scope.
func legacyAccepts(p, rawPath string) bool {
	if !strings.HasPrefix(p, "/") || !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool {
		return r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\\'
	}) || p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		return false
	}
	lower := strings.ToLower(rawPath)
	return !strings.Contains(lower, "%2f") && !strings.Contains(lower, "%5c")
}

// origin is a set of normalisations an origin may apply to the path it
// receives before it opens a file; every combination is tried.
type origin uint8

const (
	stripParams origin = 1 << iota // Tomcat, Jetty, Spring: ";…" dropped from each segment
	decodeAgain                    // a second percent-decoding, IIS %uXXXX included
	bestFit                        // Windows ANSI conversion with best fit
	win32Names                     // Win32: trailing dots and spaces dropped
	foldCase                       // case-insensitive file system
	allOrigins  = foldCase<<1 - 1
)

var bestFitReplacer = strings.NewReplacer(
	"\uFF0E", ".", "\uFE52", ".", "\u2024", ".", "\u2025", "..",
	"\uFF0F", "/", "\u2215", "/", "\u2044", "/", "\u29F8", "/",
	"\uFF3C", `\`, "\uFE68", `\`, "\u2216", `\`,
	"\u2000", " ", "\u2001", " ", "\u2002", " ", "\u2003", " ",
	"\u2004", " ", "\u2005", " ", "\u2006", " ", "\u3000", " ",
)

// read is the path the origin o opens for the request path p: segments
// rewritten one by one, then dot segments resolved and "//" collapsed.
func (o origin) read(p string) string {
	if o&decodeAgain != 0 {
		p = modelEscape.ReplaceAllStringFunc(p, func(e string) string {
			if e[1]|0x20 == 'u' {
				r, _ := parseHex(e[2:])
				return string(rune(r))
			}
			b, _ := parseHex(e[1:])
			return string([]byte{byte(b)})
		})
	}
	if o&bestFit != 0 {
		p = bestFitReplacer.Replace(p)
	}
	segs := strings.Split(strings.ReplaceAll(p, `\`, "/"), "/")
	for i, s := range segs {
		if o&stripParams != 0 {
			s, _, _ = strings.Cut(s, ";")
		}
		if o&win32Names != 0 {
			s = win32Name(s)
		}
		if o&foldCase != 0 {
			s = strings.ToLower(s)
		}
		segs[i] = s
	}
	return path.Clean("/" + strings.Join(segs, "/"))
}

// win32Name drops trailing dots and spaces; a name made only of them is
// read, at worst, as the dot segment it resembles.
func win32Name(s string) string {
	t := strings.TrimRight(s, ". ")
	if t == "" && s != "" {
		switch n := strings.Count(s, "."); {
		case n >= 2:
			return ".."
		case n == 1:
			return "."
		}
	}
	return t
}

func parseHex(s string) (v int, ok bool) {
	for _, c := range []byte(s) {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | int(c-'0')
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			v = v<<4 | int(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// escapes returns the first origin that reads p, which scope covers for
// Signet, outside what it reads for scope (0, false if none does).
func escapes(scope, p string) (origin, bool) {
	if !ScopeCovers(scope, p) {
		return 0, false
	}
	for o := origin(0); o <= allOrigins; o++ {
		if !ScopeCovers(o.read(scope), o.read(p)) {
			return o, true
		}
	}
	return 0, false
}

// Scopes and public paths the properties are checked against, matched at
// segment boundaries like real ones.
var propertyScopes = []string{
	"/", "/alice/", "/alice", "/public/", "/robots.txt", "/a/b/", "/reports/2026/",
	"/café/", "/日本/", "/a;b/", "/.well-known/",
}

// pathTricks is the seed corpus: every way of reading a path differently
// that the tests know of, as raw request paths.
var pathTricks = []string{
	"/", "/a/b.pdf", "/reports/2026/q1-summary.pdf", "/.well-known/x", "/a b/c d.txt",
	"/public/..;/reports/q1.txt", "/alice/..;jsessionid=x/x", "/a/.;/b", "/a/%2e%2e;/b",
	"/a/%2E%2E%3B/b", "/..;a;b/", "/a/..;", "/a/;x/b", "/;/", "/alice;x/f", "/a/b;c=d;e=f/g",
	"/%252e%252e/secret", "/a%252Fb", "/%25u002e%25u002e/x", "/100%25.txt", "/a%25zz",
	"/...", "/..%20/x", "/.%20./x", "/secret.txt.", "/secret.txt%20", "/a/b.;x", "/static../x",
	"/public/..%EF%BC%8Fsecret", "/public/%EF%BC%8E%EF%BC%8E/x", "/a%E2%88%95b", "/a%E2%88%96b",
	"/public/..%E3%80%80/x", "/a/b%E2%80%80", "/%E6%97%A5%E6%9C%AC%E3%80%80%E8%AA%9E/",
	"/Alice/x", "/cafe%CC%81/x", "/caf%C3%A9/x", "/a//b", "/a/./b", "/a/../b", "/a%2Fb",
	"/a%5Cb", "/a%00b", "/a%C0%AEb", "/a%FFb", "/a%C2%85b",
}

func FuzzCheckPath(f *testing.F) {
	for _, raw := range pathTricks {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			f.Fatalf("seed %q: %v", raw, err)
		}
		f.Add(u.Path, u.RawPath)
		f.Add(raw, "")
	}
	f.Fuzz(func(t *testing.T, p, rawPath string) {
		check(t, p, rawPath)
		// The same bytes as a request target, decoded as Caddy sees it.
		if u, err := url.ParseRequestURI(p); err == nil && u.Opaque == "" && u.RawQuery == "" {
			check(t, u.Path, u.RawPath)
		}
	})
}

func check(t *testing.T, p, rawPath string) {
	err := CheckPath(p, rawPath)
	if err != nil && !errors.Is(err, ErrAmbiguousPath) {
		t.Fatalf("CheckPath(%q, %q) = %v, want nil or ErrAmbiguousPath", p, rawPath, err)
	}
	if model := pathModelAccepts(p, rawPath); (err == nil) != model {
		t.Fatalf("CheckPath(%q, %q) = %v, but the model accepts = %v", p, rawPath, err, model)
	}
	for _, s := range propertyScopes {
		// Whatever CheckPath accepts, no origin reads outside the scope
		// that covers it.
		if o, bad := escapes(s, p); err == nil && bad {
			t.Fatalf("accepted %q: scope %q covers it, but origin %05b reads %q outside %q", p, s, o, o.read(p), o.read(s))
		}
		// Of what CheckPath used to accept, a Tomcat-style strip reads
		// outside a scope only through a ".." core (issue 9).
		if !legacyAccepts(p, rawPath) || !ScopeCovers(s, p) || ScopeCovers(stripParams.read(s), stripParams.read(p)) {
			continue
		}
		if !strings.Contains(p+"/", "/..;") {
			t.Fatalf("legacy-accepted %q escapes %q after a Tomcat strip (%q) without a \"..\" core", p, s, stripParams.read(p))
		}
	}
}
