package verifier

import (
	"errors"
	"strings"
	"testing"
)

func TestScopeCovers(t *testing.T) {
	tests := []struct {
		scope, path string
		want        bool
	}{
		// The root scope covers everything.
		{"/", "/", true},
		{"/", "/a", true},
		{"/", "/alice2/x", true},
		{"/", "/a/b/c.pdf", true},

		// A user folder, with and without the trailing slash.
		{"/alice", "/alice", true},
		{"/alice", "/alice/", true},
		{"/alice", "/alice/x", true},
		{"/alice", "/alice/x/y.pdf", true},
		{"/alice", "/alice2", false},
		{"/alice", "/alice2/x", false},
		{"/alice", "/alicex", false},
		{"/alice", "/alice.pdf", false},
		{"/alice", "/alic", false},
		{"/alice", "/", false},
		{"/alice", "/Alice", false},
		{"/alice", "/bob/alice", false},
		{"/alice/", "/alice", true},
		{"/alice/", "/alice/", true},
		{"/alice/", "/alice/x", true},
		{"/alice/", "/alice2", false},
		{"/alice/", "/alice2/", false},
		{"/alice/", "/alice2/x", false},
		{"/alice/", "/ali", false},

		// Nested folders.
		{"/a/b/", "/a/b/c", true},
		{"/a/b", "/a/b", true},
		{"/a/b/", "/a/bc", false},
		{"/a/b/", "/a", false},
		{"/a/b/", "/a/", false},

		// A file scope covers the file itself (and, as a prefix, below it).
		{"/r/q1.pdf", "/r/q1.pdf", true},
		{"/r/q1.pdf", "/r/q1.pdf/x", true},
		{"/r/q1.pdf", "/r/q1.pdfx", false},
		{"/r/q1.pdf", "/r/q1.pdf.bak", false},
		{"/r/q1.pdf", "/r/q1", false},
		{"/r/q1.pdf", "/r/q2.pdf", false},
		{"/r/q1.pdf", "/r/", false},
		{"/r/q1.pdf", "/r", false},

		// Unicode names compare byte for byte.
		{"/ünï/", "/ünï/x", true},
		{"/ünï/", "/ünïx", false},
	}
	for _, tt := range tests {
		if got := ScopeCovers(tt.scope, tt.path); got != tt.want {
			t.Errorf("ScopeCovers(%q, %q) = %v, want %v", tt.scope, tt.path, got, tt.want)
		}
	}
}

func TestAnyScopeCovers(t *testing.T) {
	tests := []struct {
		scopes []string
		path   string
		want   bool
	}{
		{nil, "/a", false},
		{[]string{}, "/a", false},
		{[]string{"/bob", "/alice/"}, "/alice/x", true},
		{[]string{"/bob", "/alice/"}, "/bob", true},
		{[]string{"/bob", "/alice/"}, "/alice2/x", false},
		{[]string{"/bob", "/alice/"}, "/carol/x", false},
		{[]string{"/bob", "/"}, "/carol/x", true},
	}
	for _, tt := range tests {
		if got := AnyScopeCovers(tt.scopes, tt.path); got != tt.want {
			t.Errorf("AnyScopeCovers(%q, %q) = %v, want %v", tt.scopes, tt.path, got, tt.want)
		}
	}
}

func TestCheckScope(t *testing.T) {
	tests := []struct {
		scope string
		ok    bool
	}{
		{"/", true},
		{"/alice", true},
		{"/alice/", true},
		{"/r/q1.pdf", true},
		{"/ünï/", true},
		{"", false},
		{"alice", false},
		{"alice/", false},
		{"//", false},
		{"/a//", false},
		{"/a/../b", false},
		{"/a/./", false},
		{"/..", false},
		{"/a*", false},
		{"/a/*", false},
		{"/a?", false},
		{"/a\\b", false},
		{"/a\x00", false},
		{"/a\n", false},
		{"/\xff", false},
	}
	for _, tt := range tests {
		err := CheckScope(tt.scope)
		if tt.ok && err != nil {
			t.Errorf("CheckScope(%q) = %v, want nil", tt.scope, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadScope) {
			t.Errorf("CheckScope(%q) = %v, want ErrBadScope", tt.scope, err)
		}
	}
}

func TestPermission(t *testing.T) {
	levels := []Permission{PermNone, PermRead, PermSign, PermAdmin}
	for i, p := range levels {
		if !p.Valid() {
			t.Errorf("%q.Valid() = false", p)
		}
		for j, want := range levels {
			// Each level includes the ones before it; nothing "allows" none.
			expect := i >= j && want != PermNone
			if got := p.Allows(want); got != expect {
				t.Errorf("%q.Allows(%q) = %v, want %v", p, want, got, expect)
			}
		}
	}
	for _, bad := range []Permission{"", "bogus", "Admin", "READ", "write"} {
		if bad.Valid() {
			t.Errorf("%q.Valid() = true", bad)
		}
		for _, p := range levels {
			if p.Allows(bad) {
				t.Errorf("%q.Allows(%q) = true", p, bad)
			}
			if bad.Allows(p) {
				t.Errorf("%q.Allows(%q) = true", bad, p)
			}
		}
	}
}

func FuzzScopeCovers(f *testing.F) {
	for _, s := range [][2]string{
		{"/", "/"}, {"/alice", "/alice2"}, {"/alice/", "/alice"}, {"/alice/", "/alice/x"},
		{"/r/q1.pdf", "/r/q1.pdfx"}, {"/r/q1.pdf", "/r/q1.pdf"}, {"", "/x"}, {"//", "/"},
		{"/a/b/", "/a/bc"}, {"/ü/", "/üx"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, scope, path string) {
		got := ScopeCovers(scope, path)
		s := strings.TrimSuffix(scope, "/")
		want := scope == "/" || path == s || strings.HasPrefix(path, s+"/")
		if got != want {
			t.Fatalf("ScopeCovers(%q, %q) = %v, want %v", scope, path, got, want)
		}
		if CheckScope(scope) != nil || CheckPath(path, "") != nil {
			return
		}
		// For valid inputs: a covered path covers everything below it, and
		// no sibling that merely shares the prefix is covered.
		if got && !ScopeCovers(scope, strings.TrimSuffix(path, "/")+"/x") {
			t.Fatalf("ScopeCovers(%q, %q) but not below it", scope, path)
		}
		if scope != "/" && ScopeCovers(scope, s+"x") {
			t.Fatalf("ScopeCovers(%q, %q): sibling covered", scope, s+"x")
		}
		if AnyScopeCovers([]string{scope}, path) != got {
			t.Fatalf("AnyScopeCovers disagrees with ScopeCovers for %q, %q", scope, path)
		}
	})
}
