package rules

import (
	"slices"
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Access is what a key may do: the paths it covers and its permission.
type Access struct {
	Scopes []string
	Perm   verifier.Permission
}

// Effective is the access of key k whose user record is u (nil for
// site-wide keys). A site-wide key has its own scopes and permission. A
// user key acts as its user: its access is the user's, narrowed by the
// key's own scopes and permission when it has them (by default it has none
// and follows the user). A user key whose user record is missing may do
// nothing. A public key never has more than read.
func Effective(k *keystore.Key, u *keystore.User) Access {
	var acc Access
	switch {
	case k.User == "":
		acc = Access{Scopes: k.Scopes, Perm: k.Permissions}
	case u == nil:
		return Access{Perm: verifier.PermNone}
	default:
		userScopes := u.Scopes
		if u.Permissions == verifier.PermAdmin {
			userScopes = []string{"/"}
		}
		acc.Perm = u.Permissions
		if k.Permissions != "" {
			acc.Perm = minPerm(k.Permissions, u.Permissions)
		}
		acc.Scopes = userScopes
		if len(k.Scopes) > 0 {
			acc.Scopes = intersectScopes(k.Scopes, userScopes)
		}
	}
	if k.Type == verifier.KeyPublic {
		acc.Perm = minPerm(acc.Perm, verifier.PermRead)
	}
	if len(acc.Scopes) == 0 {
		acc.Perm = verifier.PermNone
	}
	return acc
}

// Covers reports whether acc covers path.
func (acc Access) Covers(path string) bool { return verifier.AnyScopeCovers(acc.Scopes, path) }

// Within reports whether every scope of scopes lies inside acc.
func (acc Access) Within(scopes []string) bool {
	for _, s := range scopes {
		if !acc.Covers(s) {
			return false
		}
	}
	return true
}

func rank(p verifier.Permission) int {
	for i, q := range []verifier.Permission{verifier.PermRead, verifier.PermSign, verifier.PermAdmin} {
		if p == q {
			return i + 1
		}
	}
	return 0
}

func minPerm(a, b verifier.Permission) verifier.Permission {
	if rank(a) <= rank(b) {
		if rank(a) == 0 {
			return verifier.PermNone
		}
		return a
	}
	return b
}

// HighestPerm is the highest of ps (none when empty).
func HighestPerm(ps ...verifier.Permission) verifier.Permission {
	best := verifier.PermNone
	for _, p := range ps {
		if rank(p) > rank(best) {
			best = p
		}
	}
	return best
}

// intersectScopes is the set of paths both a and b cover, as scopes: for
// each pair, the narrower one when one covers the other.
func intersectScopes(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			var s string
			switch {
			case verifier.ScopeCovers(y, x):
				s = x
			case verifier.ScopeCovers(x, y):
				s = y
			default:
				continue
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// UserRequest is the body of a user creation (POST /signet/users,
// POST {api}/users).
type UserRequest struct {
	Name        string   `json:"name"`
	Scopes      []string `json:"scopes"`
	Permissions string   `json:"permissions"`
	SelfService bool     `json:"self_service"`
}

// UserUpdate is the body of a user change; absent fields stay as they are.
type UserUpdate struct {
	Scopes      *[]string `json:"scopes"`
	Permissions *string   `json:"permissions"`
	SelfService *bool     `json:"self_service"`
}

// mayManageUsers: site administrators only.
func mayManageUsers(a Actor) error {
	if !a.IsAdmin() {
		return deny("permission", "managing users needs the admin permission")
	}
	return nil
}

// NewUser checks that a may create the user req describes and returns the
// record to store.
func NewUser(a Actor, req UserRequest, now time.Time) (*keystore.User, error) {
	if err := mayManageUsers(a); err != nil {
		return nil, err
	}
	if !keystore.ValidUserName(req.Name) {
		return nil, BadField("name", "must be 1-64 characters of a-z 0-9 . _ -")
	}
	perm := verifier.Permission(req.Permissions)
	if perm == "" {
		perm = verifier.PermRead
	}
	if !perm.Valid() {
		return nil, BadField("permissions", "must be one of none, read, sign, admin")
	}
	scopes := req.Scopes
	if perm == verifier.PermAdmin && scopes == nil {
		scopes = []string{"/"}
	}
	if err := checkScopes(scopes); err != nil {
		return nil, err
	}
	if perm == verifier.PermAdmin && !slices.Equal(scopes, []string{"/"}) {
		return nil, BadField("scopes", `a site administrator's scope is / (give ["/"] or no scopes)`)
	}
	now = now.UTC().Truncate(time.Second)
	return &keystore.User{Name: req.Name, Scopes: scopes, Permissions: perm, SelfService: req.SelfService,
		CreatedAt: now, UpdatedAt: now}, nil
}

// UpdateUser checks that a may make the change and returns the function
// that applies it to the stored record.
func UpdateUser(a Actor, req UserUpdate, now time.Time) (func(*keystore.User) error, error) {
	if err := mayManageUsers(a); err != nil {
		return nil, err
	}
	if req.Scopes == nil && req.Permissions == nil && req.SelfService == nil {
		return nil, BadField("body", "nothing to update: give scopes, permissions or self_service")
	}
	if req.Scopes != nil {
		if err := checkScopes(*req.Scopes); err != nil {
			return nil, err
		}
	}
	if req.Permissions != nil && !verifier.Permission(*req.Permissions).Valid() {
		return nil, BadField("permissions", "must be one of none, read, sign, admin")
	}
	return func(u *keystore.User) error {
		if req.Scopes != nil {
			u.Scopes = *req.Scopes
		}
		if req.Permissions != nil {
			if u.Permissions == verifier.PermAdmin && *req.Permissions != string(verifier.PermAdmin) && req.Scopes == nil {
				// Its scope was / because it was an administrator: keeping
				// it would leave the user reading the whole site.
				return BadField("scopes", "give the user's scopes when it stops being a site administrator")
			}
			u.Permissions = verifier.Permission(*req.Permissions)
			if u.Permissions == verifier.PermAdmin && req.Scopes == nil {
				u.Scopes = []string{"/"}
			}
		}
		if req.SelfService != nil {
			u.SelfService = *req.SelfService
		}
		if u.Permissions == verifier.PermAdmin && !slices.Equal(u.Scopes, []string{"/"}) {
			return BadField("scopes", "a site administrator's scope is /")
		}
		u.UpdatedAt = now.UTC().Truncate(time.Second)
		return nil
	}, nil
}

// DeleteUser checks that a may delete users (which deletes their keys).
func DeleteUser(a Actor) error { return mayManageUsers(a) }

// ReadUsers checks that a may list and read user records.
func ReadUsers(a Actor) error { return mayManageUsers(a) }
