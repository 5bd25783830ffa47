package caddymodule

import (
	"time"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/rules"
	"github.com/caddy-signet/signet/verifier"
)

// storeTimeout bounds one API call's work in the store.
const storeTimeout = 10 * time.Second

// keyView is how keys appear in API responses: the stored record without
// its digest, with the freshest last-used time. Key (the value) is set only
// in the response to a create, the one time it is shown.
type keyView struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Type        verifier.KeyType    `json:"type"`
	User        string              `json:"user,omitempty"`
	Scopes      []string            `json:"scopes"`
	Permissions verifier.Permission `json:"permissions"`
	Hint        string              `json:"hint"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	ExpiresAt   *time.Time          `json:"expires_at,omitempty"`
	LastUsedAt  *time.Time          `json:"last_used_at,omitempty"`
	// OfflineSigning: the key signs links itself (it has an offline
	// secret, never shown).
	OfflineSigning bool `json:"offline_signing,omitempty"`
	// Access is what the key may do now: its scopes and permission after
	// its user's (a user key without its own follows its user).
	Access accessView `json:"access"`
	Key    string     `json:"key,omitempty"`
}

// accessView is a key's effective access.
type accessView struct {
	Scopes      []string            `json:"scopes"`
	Permissions verifier.Permission `json:"permissions"`
}

// viewOf renders k, with the freshest last-used time the cache has.
func viewOf(k *keystore.Key, c *keystore.Cache) keyView {
	v := keyView{
		ID: k.ID, Name: k.Name, Type: k.Type, User: k.User, Scopes: k.Scopes,
		Permissions: k.Permissions, Hint: k.Hint, CreatedAt: k.CreatedAt,
		UpdatedAt: k.UpdatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		OfflineSigning: k.OfflineSecret != nil,
	}
	acc := rules.Effective(k, c.User(k.User))
	if e := c.ByID(k.ID); e != nil {
		if lu := e.LastUsed(); !lu.IsZero() && (v.LastUsedAt == nil || lu.After(*v.LastUsedAt)) {
			v.LastUsedAt = &lu
		}
	}
	v.Access = accessView{Scopes: acc.Scopes, Permissions: acc.Perm}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if v.Access.Scopes == nil {
		v.Access.Scopes = []string{}
	}
	return v
}
