package verifier

import "strings"

// Permission is what a key may do. Each level includes the ones before it:
// none < read < sign < admin.
type Permission string

// The permission levels.
const (
	PermNone  Permission = "none"  // disabled; can be re-enabled
	PermRead  Permission = "read"  // GET/HEAD of files in scope
	PermSign  Permission = "sign"  // read + create signed URLs in scope
	PermAdmin Permission = "admin" // sign + manage keys and revocations
)

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool {
	switch p {
	case PermNone, PermRead, PermSign, PermAdmin:
		return true
	}
	return false
}

// Allows reports whether p includes want.
func (p Permission) Allows(want Permission) bool { return p.rank() >= want.rank() && want.rank() > 0 }

func (p Permission) rank() int {
	switch p {
	case PermRead:
		return 1
	case PermSign:
		return 2
	case PermAdmin:
		return 3
	}
	return 0
}

// CheckScope reports whether scope is a valid scope: a clean absolute path
// (see CheckPath), optionally ending in "/".
func CheckScope(scope string) error {
	if CheckPath(scope, "") != nil || strings.ContainsAny(scope, "*?") {
		return ErrBadScope
	}
	return nil
}

// ScopeCovers reports whether scope grants path, matching at segment
// boundaries: the scope "/alice" or "/alice/" covers "/alice",
// "/alice/" and everything below, but never "/alice2". The scope "/"
// covers every path. path must already have passed CheckPath.
func ScopeCovers(scope, path string) bool {
	if scope == "/" {
		return true
	}
	s := strings.TrimSuffix(scope, "/")
	if !strings.HasPrefix(path, s) {
		return false
	}
	return len(path) == len(s) || path[len(s)] == '/'
}

// AnyScopeCovers reports whether any of scopes covers path.
func AnyScopeCovers(scopes []string, path string) bool {
	for _, s := range scopes {
		if ScopeCovers(s, path) {
			return true
		}
	}
	return false
}
