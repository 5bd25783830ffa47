package keystore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// ErrNoSuchUser is what CreateKey and UpdateKey return (possibly wrapped)
// when the resulting key's User names no user record.
var ErrNoSuchUser = errors.New("no such user")

// maxUserNameLen is the longest user name.
const maxUserNameLen = 64

// User is a user record: keys with Key.User == Name act as this user.
type User struct {
	Name        string              `json:"name"`         // the id: 1–64 of a–z 0–9 . _ -
	Scopes      []string            `json:"scopes"`       // home folders, at least one
	Permissions verifier.Permission `json:"permissions"`  // none, read, sign or admin
	SelfService bool                `json:"self_service"` // may manage its own keys
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	// Rev orders the changes to the records of a name; stores set it. It
	// only grows, also across deleting a user and creating one of the
	// same name, so caches can tell a late message about a deleted user
	// from its successor.
	Rev uint64 `json:"rev"`
}

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	c := *u
	c.Scopes = slices.Clone(u.Scopes)
	return &c
}

// Validate checks the shape of a user record (not who may store it): a
// valid name, at least one clean scope, a known permission. Stores refuse
// records that fail it.
func (u *User) Validate() error {
	if !ValidUserName(u.Name) {
		return fmt.Errorf("user name %q: want 1 to %d of a-z 0-9 . _ -", u.Name, maxUserNameLen)
	}
	if len(u.Scopes) == 0 {
		return fmt.Errorf("user %s: at least one scope is required", u.Name)
	}
	for _, s := range u.Scopes {
		if verifier.CheckScope(s) != nil {
			return fmt.Errorf("user %s: scope %q is not a clean path prefix", u.Name, s)
		}
	}
	if !u.Permissions.Valid() {
		return fmt.Errorf("user %s: unknown permissions %q", u.Name, u.Permissions)
	}
	return nil
}

// ValidUserName reports whether name is a user name: 1 to 64 characters
// of a–z, 0–9, '.', '_' and '-', other than "." and ".." (which could
// never be named in a URL path).
func ValidUserName(name string) bool {
	if len(name) == 0 || len(name) > maxUserNameLen || name == "." || name == ".." {
		return false
	}
	for i := range len(name) {
		if !userNameChar(name[i]) {
			return false
		}
	}
	return true
}

func userNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// sortUsers orders users by name, as ListUsers returns them.
func sortUsers(users []*User) {
	slices.SortFunc(users, func(a, b *User) int { return strings.Compare(a.Name, b.Name) })
}

// noSuchUser is ErrNoSuchUser for the user name.
func noSuchUser(name string) error { return fmt.Errorf("%w: %q", ErrNoSuchUser, name) }
