package rules

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Limits on key fields.
const (
	MaxNameLen  = 200
	MaxUserLen  = 200
	MaxScopes   = 100
	MaxScopeLen = 1024
)

// NewKeyRequest is the body of a key creation (POST /signet/keys).
type NewKeyRequest struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	User        string     `json:"user"`
	Scopes      []string   `json:"scopes"`
	Permissions string     `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at"`
	// OfflineSigning gives the key an offline signing secret derived
	// from its value, so the application signs links itself
	// (docs/signed-urls.md, "Signing with an API key"). Only a secret key
	// that may sign can have one.
	OfflineSigning bool `json:"offline_signing"`
}

// KeyUpdate is the body of a key change (PATCH /signet/keys/{id}); absent
// fields stay as they are, "expires_at": null removes the expiry.
type KeyUpdate struct {
	Name        *string         `json:"name"`
	User        *string         `json:"user"`
	Scopes      *[]string       `json:"scopes"`
	Permissions *string         `json:"permissions"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	// OfflineSigning false drops the key's offline secret, which ends
	// every link it signed itself; true keeps it (it cannot be added
	// after creation: the key's value is needed).
	OfflineSigning *bool `json:"offline_signing"`
}

// Users looks up a user record by name (nil when there is none).
type Users func(name string) *keystore.User

// keyManager is how a may manage keys: as a site administrator (any key),
// by self-service (the keys of its own user only, never wider than
// itself), or not at all.
func keyManager(a Actor) (admin bool, err error) {
	if a.IsAdmin() {
		return true, nil
	}
	k := a.Key
	switch {
	case k.Type != verifier.KeySecret || k.User == "" || a.User == nil:
		return false, deny("permission", "managing keys needs the admin permission (or a secret user key with self-service)")
	case !a.SiteSelfService && !a.User.SelfService:
		return false, deny("permission", "self-service is off for this user: an administrator manages its keys")
	case !a.Access().Perm.Allows(verifier.PermRead):
		return false, deny("permission", "this key is disabled")
	}
	return false, nil
}

// ownKey checks that a non-admin a may touch key k: a key of its own user.
func ownKey(a Actor, k *keystore.Key) error {
	if k.User != a.Key.User {
		return deny("permission", "a user key may manage only the keys of its own user")
	}
	return nil
}

// notWider checks that key k (with user record u) grants nothing a does
// not have: its own scopes and permission and its access lie within a's,
// and it expires no later than a's key.
func notWider(a Actor, k *keystore.Key, u *keystore.User) error {
	own, acc := a.Access(), Effective(k, u)
	switch {
	case !own.Within(k.Scopes) || !own.Within(acc.Scopes):
		return deny("scope", "the key would reach paths the calling key does not")
	case rank(acc.Perm) > rank(own.Perm) || rank(k.Permissions) > rank(own.Perm):
		return deny("permission", "the key would have more permission than the calling key")
	case a.Key.ExpiresAt != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*a.Key.ExpiresAt)):
		return deny("expiry", "the key would expire later than the calling key")
	}
	return nil
}

// NewKey checks that a may create the key req describes and returns the
// record to store and the key value, which the caller shows once. A user
// key needs its user record (users). Site administrators create any key;
// by default a user key has no scopes or permission of its own and follows
// its user. A self-service caller creates keys of its own user only (the
// default user), by default with its own access and expiry, never wider.
func NewKey(a Actor, req NewKeyRequest, users Users, now time.Time) (*keystore.Key, string, error) {
	admin, err := keyManager(a)
	if err != nil {
		return nil, "", err
	}
	if !admin {
		if req.User == "" {
			req.User = a.Key.User
		}
		if req.User != a.Key.User {
			return nil, "", deny("permission", "a user key may create keys only for its own user")
		}
		own := a.Access()
		if req.Scopes == nil {
			req.Scopes = own.Scopes
		}
		if req.Permissions == "" {
			req.Permissions = string(own.Perm)
		}
		if req.ExpiresAt == nil {
			req.ExpiresAt = a.Key.ExpiresAt
		}
	}
	if err := checkText("name", req.Name, MaxNameLen, true); err != nil {
		return nil, "", err
	}
	var user *keystore.User
	if req.User != "" {
		if user = users(req.User); user == nil {
			return nil, "", BadField("user", "no such user %q: create the user first", truncate(req.User, 64))
		}
	}
	typ := verifier.KeyType(req.Type)
	if typ == "" {
		typ = verifier.KeySecret
	}
	if !typ.Valid() {
		return nil, "", BadField("type", "must be secret or public")
	}
	perm := verifier.Permission(req.Permissions)
	if perm == "" && req.User == "" {
		perm = verifier.PermRead
	}
	if perm != "" {
		if err := checkPermissions(perm, typ); err != nil {
			return nil, "", err
		}
	}
	scopes := req.Scopes
	if scopes == nil && req.User == "" {
		scopes = []string{"/"}
	}
	if scopes != nil {
		if err := checkScopes(scopes); err != nil {
			return nil, "", err
		}
	}
	if err := checkExpiry(req.ExpiresAt, now); err != nil {
		return nil, "", err
	}
	token, err := verifier.NewKeyToken(typ)
	if err != nil {
		return nil, "", err
	}
	now = now.UTC().Truncate(time.Second)
	k := &keystore.Key{
		ID: verifier.KeyIDOf(token), Name: req.Name, Type: typ, User: req.User, Scopes: scopes,
		Permissions: perm, Hint: verifier.KeyHint(token), CreatedAt: now, UpdatedAt: now,
		Digest: verifier.DigestToken(token),
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	if req.OfflineSigning {
		switch {
		case typ != verifier.KeySecret:
			return nil, "", BadField("offline_signing", "public keys cannot sign: offline signing needs a secret key")
		case !Effective(k, user).Perm.Allows(verifier.PermSign):
			return nil, "", BadField("offline_signing", "offline signing needs a key that may sign (permissions sign or admin)")
		}
		k.OfflineSecret = verifier.OfflineSecret(token)
	}
	if !admin {
		if err := notWider(a, k, user); err != nil {
			return nil, "", err
		}
	}
	return k, token, nil
}

// UpdateKey checks that a may make the change req describes and returns
// the function that applies it to the stored record (checks that depend on
// the record run there, atomically with the write).
func UpdateKey(a Actor, req KeyUpdate, users Users, now time.Time) (func(*keystore.Key) error, error) {
	admin, err := keyManager(a)
	if err != nil {
		return nil, err
	}
	if req.Name != nil {
		if err := checkText("name", *req.Name, MaxNameLen, true); err != nil {
			return nil, err
		}
	}
	if req.User != nil {
		if err := checkText("user", *req.User, MaxUserLen, false); err != nil {
			return nil, err
		}
	}
	if req.Scopes != nil {
		if err := checkScopes(*req.Scopes); err != nil {
			return nil, err
		}
	}
	if req.Permissions != nil && !verifier.Permission(*req.Permissions).Valid() {
		return nil, BadField("permissions", "must be one of none, read, sign, admin")
	}
	if req.Name == nil && req.User == nil && req.Scopes == nil && req.Permissions == nil && req.ExpiresAt == nil && req.OfflineSigning == nil {
		return nil, BadField("body", "nothing to update: give name, user, scopes, permissions, expires_at or offline_signing")
	}
	var expires *time.Time
	clearExpiry := false
	if req.ExpiresAt != nil {
		if string(req.ExpiresAt) == "null" {
			clearExpiry = true
		} else {
			var t time.Time
			if err := json.Unmarshal(req.ExpiresAt, &t); err != nil {
				return nil, BadField("expires_at", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z, or null")
			}
			if err := checkExpiry(&t, now); err != nil {
				return nil, err
			}
			t = t.UTC()
			expires = &t
		}
	}
	return func(k *keystore.Key) error {
		if !admin {
			if err := ownKey(a, k); err != nil {
				return err
			}
			if req.User != nil && *req.User != k.User {
				return deny("permission", "a user key cannot move keys to another user")
			}
		}
		if req.Name != nil {
			k.Name = *req.Name
		}
		if req.User != nil {
			k.User = *req.User
		}
		if req.Scopes != nil {
			k.Scopes = *req.Scopes
		}
		if req.Permissions != nil {
			p := verifier.Permission(*req.Permissions)
			if err := checkPermissions(p, k.Type); err != nil {
				return err
			}
			k.Permissions = p
		}
		switch {
		case clearExpiry:
			k.ExpiresAt = nil
		case expires != nil:
			k.ExpiresAt = expires
		}
		if req.OfflineSigning != nil {
			if *req.OfflineSigning && k.OfflineSecret == nil {
				return BadField("offline_signing", "offline signing can only be turned on when a key is created (its value is needed): create a new key with offline_signing")
			}
			if !*req.OfflineSigning {
				k.OfflineSecret = nil
			}
		}
		var user *keystore.User
		if k.User != "" {
			if user = users(k.User); user == nil {
				return BadField("user", "no such user %q: create the user first", truncate(k.User, 64))
			}
		} else if len(k.Scopes) == 0 || k.Permissions == "" {
			return BadField("user", "a site-wide key needs scopes and permissions of its own")
		}
		if !admin {
			if err := notWider(a, k, user); err != nil {
				return err
			}
		}
		k.UpdatedAt = now.UTC().Truncate(time.Second)
		return nil
	}, nil
}

// DeleteKey checks that a may delete key k.
func DeleteKey(a Actor, k *keystore.Key) error {
	admin, err := keyManager(a)
	if err != nil || admin {
		return err
	}
	return ownKey(a, k)
}

// ReadKey checks that a may see key k's record (never its value).
func ReadKey(a Actor, k *keystore.Key) error { return DeleteKey(a, k) }

// MayListKeys checks that a may list keys at all (each one is then
// filtered with ReadKey).
func MayListKeys(a Actor) error {
	_, err := keyManager(a)
	return err
}

func checkText(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && required:
		return BadField(field, "required")
	case len(s) > maxLen:
		return BadField(field, "longer than %d bytes", maxLen)
	case !utf8.ValidString(s):
		return BadField(field, "not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return BadField(field, "contains control characters")
	case strings.TrimSpace(s) != s:
		return BadField(field, "has leading or trailing spaces")
	}
	return nil
}

func checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return BadField("scopes", "at least one scope is required")
	}
	if len(scopes) > MaxScopes {
		return BadField("scopes", "at most %d scopes", MaxScopes)
	}
	for _, s := range scopes {
		if len(s) > MaxScopeLen || verifier.CheckScope(s) != nil {
			return BadField("scopes", "%q is not a clean absolute path prefix such as /reports/ (no .., //, \\, * or control characters)", truncate(s, 64))
		}
		if strings.Contains(s, ";") {
			// Tomcat, Jetty and Spring read /a;b/x as /a/x: such a scope
			// would grant all of /a/ there.
			return BadField("scopes", "%q contains ';', which some origins strip with what follows it", truncate(s, 64))
		}
	}
	return nil
}

func checkPermissions(p verifier.Permission, t verifier.KeyType) error {
	if !p.Valid() {
		return BadField("permissions", "must be one of none, read, sign, admin")
	}
	if t == verifier.KeyPublic && p != verifier.PermRead && p != verifier.PermNone {
		return BadField("permissions", "public keys may only have read (or none)")
	}
	return nil
}

func checkExpiry(t *time.Time, now time.Time) error {
	if t != nil && !t.After(now) {
		return BadField("expires_at", "must be in the future")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
