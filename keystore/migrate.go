package keystore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/caddy-signet/signet/verifier"
)

// MigrateUsers upgrades a store written by a release without user records,
// where a key's User was a free label (any text up to 200 bytes): it
// creates, for every distinct non-empty Key.User that names no user
// record, a user with
//
//   - Scopes: the union of that user's keys' scopes, deduplicated and
//     sorted, without the scopes another one of them covers
//     (verifier.ScopeCovers: /alice/shared/ goes when /alice/ is there);
//   - Permissions: the highest of those keys' permissions (none < read <
//     sign < admin); if that is admin, Scopes is ["/"];
//   - SelfService false, CreatedAt and UpdatedAt now.
//
// A label that is not a valid user name ("Alice Smith") is mapped to one:
// lower-cased, every run of characters outside a–z 0–9 . _ - replaced by
// "-", trimmed of "-", cut to 64 characters, and "user" if nothing is
// left ("alice-smith"). Labels that map to the same name make one user;
// a mapped name that already has a user record joins it. MigrateUsers
// then rewrites the User of those keys to the mapped name (UpdateKey), so
// that every user key names a user record.
//
// It is idempotent, and safe when several instances run it at once on one
// store: a user another run created first (ErrExists) is left as that run
// made it, and a key another run rewrote is left alone. It returns the
// users this call created, ordered by name.
func MigrateUsers(ctx context.Context, s Store, now time.Time) ([]*User, error) {
	keys, err := s.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	exists := make(map[string]bool, len(users))
	for _, u := range users {
		exists[u.Name] = true
	}
	byName := map[string][]*Key{} // keys of users to create
	var relabel []*Key            // keys whose label is not a name
	for _, k := range keys {
		if k.User == "" || exists[k.User] {
			continue
		}
		name := k.User
		if !ValidUserName(name) {
			name = userNameFromLabel(name)
			relabel = append(relabel, k)
		}
		if !exists[name] {
			byName[name] = append(byName[name], k)
		}
	}
	var created []*User
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		u := migratedUser(name, byName[name], now)
		switch err := s.CreateUser(ctx, u); {
		case err == nil:
			created = append(created, u)
		case !errors.Is(err, ErrExists):
			return created, fmt.Errorf("creating user %s: %w", name, err)
		}
	}
	for _, k := range relabel {
		label, name := k.User, userNameFromLabel(k.User)
		_, err := s.UpdateKey(ctx, k.ID, func(k *Key) error {
			if k.User != label {
				return errRelabelled
			}
			k.User = name
			return nil
		})
		if err != nil && !errors.Is(err, errRelabelled) && !errors.Is(err, ErrNotFound) {
			return created, fmt.Errorf("setting the user of key %s to %s: %w", k.ID, name, err)
		}
	}
	return created, nil
}

// errRelabelled aborts the rewrite of a key whose label changed meanwhile
// (another run rewrote it, or someone edited it).
var errRelabelled = errors.New("key relabelled meanwhile")

// migratedUser is the user record MigrateUsers makes for name from its keys.
func migratedUser(name string, keys []*Key, now time.Time) *User {
	perm := verifier.PermNone
	var scopes []string
	for _, k := range keys {
		if k.Permissions.Valid() && (perm == verifier.PermNone || k.Permissions.Allows(perm)) {
			perm = k.Permissions
		}
		for _, sc := range k.Scopes {
			if verifier.CheckScope(sc) == nil {
				scopes = append(scopes, sc)
			}
		}
	}
	scopes = outermostScopes(scopes)
	switch {
	case perm == verifier.PermAdmin:
		scopes = []string{"/"}
	case len(scopes) == 0:
		// Keys without a valid scope gave no access: a disabled user.
		perm, scopes = verifier.PermNone, []string{"/"}
	}
	return &User{Name: name, Scopes: scopes, Permissions: perm, CreatedAt: now, UpdatedAt: now}
}

// outermostScopes returns scopes deduplicated and sorted, without those
// that another one covers. Of two that cover each other ("/a" and "/a/")
// the shorter stays.
func outermostScopes(scopes []string) []string {
	slices.SortFunc(scopes, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	var out []string
	for _, s := range scopes {
		if !slices.ContainsFunc(out, func(o string) bool { return verifier.ScopeCovers(o, s) }) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// userNameFromLabel maps a key's free user label to a user name, as
// MigrateUsers documents.
func userNameFromLabel(label string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(label) {
		if r < 0x80 && userNameChar(byte(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > maxUserNameLen {
		name = name[:maxUserNameLen]
	}
	if !ValidUserName(name) { // empty, ".", ".."
		return "user"
	}
	return name
}
