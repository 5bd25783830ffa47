package verifier

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
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
		{"unicode", "/ünïcödé/файл.pdf", "", true},
		{"CJK", "/日本/報告.pdf", "", true},
		{"emoji", "/😀/x", "", true},
		{"dot prefix", "/.well-known/x", "", true},
		{"dot suffix", "/a./b.", "", true},
		{"three dots", "/...", "", true},
		{"dots inside", "/a..b/..c", "", true},
		{"percent in name", "/a%2Fb", "/a%252Fb", true},
		{"encoded percent 5c", "/a%5cb", "/a%255cb", true},
		{"raw path with other escapes", "/a/b c", "/a/b%20c", true},
		{"raw path ending in percent", "/a%", "/a%25", true},
		{"raw path short escape", "/a%2", "/a%2", true},
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
	for _, p := range [][2]string{{"/a/b/c.pdf", ""}, {"/a b", "/a%20b"}, {"/a/../b", ""}, {"/a/b", "/a%2Fb"}} {
		allocs := testing.AllocsPerRun(100, func() { _ = CheckPath(p[0], p[1]) })
		if allocs != 0 {
			t.Errorf("CheckPath(%q, %q) allocates %v times per call, want 0", p[0], p[1], allocs)
		}
	}
}

// pathRefCheck is an independent reading of CheckPath's rules.
func pathRefCheck(path, rawPath string) bool {
	if !strings.HasPrefix(path, "/") || !utf8.ValidString(path) {
		return false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	segs := strings.Split(path[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || (seg == "" && i != len(segs)-1) {
			return false
		}
	}
	lower := []byte(rawPath)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	return !strings.Contains(string(lower), "%2f") && !strings.Contains(string(lower), "%5c")
}

func FuzzCheckPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/", ""}, {"/a/b.pdf", ""}, {"/a/", ""}, {"/ünï/ф", ""}, {"/a b", "/a%20b"},
		{"", ""}, {"a", ""}, {"//", ""}, {"/a//b", ""}, {"/./a", ""}, {"/a/.", ""}, {"/a/..", ""},
		{"/..", ""}, {"/a\\b", ""}, {"/a\x00b", ""}, {"/a\x7f", ""}, {"/\xff", ""},
		{"/a/b", "/a%2Fb"}, {"/a/b", "/a%2fb"}, {"/a\\b", "/a%5Cb"}, {"/a\\b", "/a%5cb"},
		{"/a%", "/a%25"}, {"/a%2", "/a%2"}, {"/a%/b", "/a%25%2Fb"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, rawPath string) {
		err := CheckPath(path, rawPath)
		if err != nil && !errors.Is(err, ErrAmbiguousPath) {
			t.Fatalf("CheckPath(%q, %q) = %v, want nil or ErrAmbiguousPath", path, rawPath, err)
		}
		// C1 controls (U+0080–U+009F) are left out of the comparison: see
		// TestCheckPathC1Controls.
		c1 := strings.ContainsFunc(path, func(r rune) bool { return r >= 0x80 && r <= 0x9f })
		if ref := pathRefCheck(path, rawPath); (err == nil) != ref && !c1 {
			t.Fatalf("CheckPath(%q, %q) = %v, reference accepts = %v", path, rawPath, err, ref)
		}
		if err != nil {
			return
		}
		switch {
		case path[0] != '/':
			t.Fatalf("accepted relative path %q", path)
		case !utf8.ValidString(path):
			t.Fatalf("accepted invalid UTF-8 %q", path)
		case strings.Contains(path, "//"), strings.Contains(path, "\\"), strings.ContainsRune(path, 0):
			t.Fatalf("accepted %q", path)
		case strings.Contains(path+"/", "/./"), strings.Contains(path+"/", "/../"):
			t.Fatalf("accepted dot segment in %q", path)
		case strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			t.Fatalf("accepted control character in %q", path)
		}
		for _, c := range []string{"%2f", "%2F", "%5c", "%5C"} {
			if strings.Contains(rawPath, c) {
				t.Fatalf("accepted raw path %q with %s", rawPath, c)
			}
		}
	})
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
