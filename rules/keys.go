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
}

// KeyUpdate is the body of a key change (PATCH /signet/keys/{id}); absent
// fields stay as they are, "expires_at": null removes the expiry.
type KeyUpdate struct {
	Name        *string         `json:"name"`
	User        *string         `json:"user"`
	Scopes      *[]string       `json:"scopes"`
	Permissions *string         `json:"permissions"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
}

// mayManageKeys is the one rule for who manages keys today: site
// administrators (the operator, or a secret admin key).
func mayManageKeys(a Actor) error {
	if !a.IsAdmin() {
		return deny("permission", "managing keys needs the admin permission")
	}
	return nil
}

// NewKey checks that a may create the key req describes and returns the
// record to store and the key value, which the caller shows once.
func NewKey(a Actor, req NewKeyRequest, now time.Time) (*keystore.Key, string, error) {
	if err := mayManageKeys(a); err != nil {
		return nil, "", err
	}
	if err := checkText("name", req.Name, MaxNameLen, true); err != nil {
		return nil, "", err
	}
	if err := checkText("user", req.User, MaxUserLen, false); err != nil {
		return nil, "", err
	}
	typ := verifier.KeyType(req.Type)
	if typ == "" {
		typ = verifier.KeySecret
	}
	if !typ.Valid() {
		return nil, "", BadField("type", "must be secret or public")
	}
	perm := verifier.Permission(req.Permissions)
	if perm == "" {
		perm = verifier.PermRead
	}
	if err := checkPermissions(perm, typ); err != nil {
		return nil, "", err
	}
	scopes := req.Scopes
	if scopes == nil && req.User == "" {
		scopes = []string{"/"}
	}
	if scopes == nil {
		return nil, "", BadField("scopes", "required for a user key (e.g. [\"/%s/\"])", req.User)
	}
	if err := checkScopes(scopes); err != nil {
		return nil, "", err
	}
	if err := checkExpiry(req.ExpiresAt, now); err != nil {
		return nil, "", err
	}
	token, err := verifier.NewKeyToken(typ)
	if err != nil {
		return nil, "", err
	}
	id, err := keystore.NewKeyID()
	if err != nil {
		return nil, "", err
	}
	now = now.UTC().Truncate(time.Second)
	k := &keystore.Key{
		ID: id, Name: req.Name, Type: typ, User: req.User, Scopes: scopes,
		Permissions: perm, Hint: verifier.KeyHint(token), CreatedAt: now, UpdatedAt: now,
		Digest: verifier.DigestToken(token),
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	return k, token, nil
}

// UpdateKey checks that a may make the change req describes and returns
// the function that applies it to the stored record (checks that depend on
// the record, such as a public key's permissions, run there).
func UpdateKey(a Actor, req KeyUpdate, now time.Time) (func(*keystore.Key) error, error) {
	if err := mayManageKeys(a); err != nil {
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
	if req.Name == nil && req.User == nil && req.Scopes == nil && req.Permissions == nil && req.ExpiresAt == nil {
		return nil, BadField("body", "nothing to update: give name, user, scopes, permissions or expires_at")
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
		k.UpdatedAt = now.UTC().Truncate(time.Second)
		return nil
	}, nil
}

// DeleteKey checks that a may delete keys.
func DeleteKey(a Actor) error { return mayManageKeys(a) }

// ReadKeys checks that a may list and read key records.
func ReadKeys(a Actor) error { return mayManageKeys(a) }

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
