package client

import (
	"encoding/json"
	"fmt"
	"time"
)

// seconds returns d in whole seconds for a JSON field, or an error naming
// the field.
func seconds(field string, d time.Duration) (int64, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%s: must be whole seconds (got %s)", field, d)
	}
	return int64(d / time.Second), nil
}

// SignRequest is the body of a request to the signing endpoint
// (Client.Sign). Zero fields are left out.
type SignRequest struct {
	// ExpiresIn is the link's lifetime, whole seconds from 1 s to the
	// server's max_lifetime (7 days by default). Required.
	ExpiresIn time.Duration
	// Folder makes a folder link for the path and everything under it.
	Folder bool
	// Check names a file in the folder (a clean relative path such as
	// "index.m3u8") that the server asks the origin for before signing a
	// folder link; without it, it asks for the folder itself.
	Check string
	// DownloadName, Inline and ContentType set the answer's
	// Content-Disposition and Content-Type (file links only).
	DownloadName string
	Inline       bool
	ContentType  string
	// MaxUses limits the link to this many downloads (1 to 1000000); 0
	// for any number.
	MaxUses int
	// ClientCIDR restricts the link to a client address or network.
	ClientCIDR string
}

// MarshalJSON writes the request as the endpoint reads it, expires_in in
// seconds.
func (r SignRequest) MarshalJSON() ([]byte, error) {
	secs, err := seconds("expires_in", r.ExpiresIn)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		ExpiresIn    int64  `json:"expires_in"`
		Folder       bool   `json:"folder,omitempty"`
		Check        string `json:"check,omitempty"`
		DownloadName string `json:"download_name,omitempty"`
		Inline       bool   `json:"inline,omitempty"`
		ContentType  string `json:"content_type,omitempty"`
		MaxUses      int    `json:"max_uses,omitempty"`
		ClientCIDR   string `json:"client_cidr,omitempty"`
	}{secs, r.Folder, r.Check, r.DownloadName, r.Inline, r.ContentType, r.MaxUses, r.ClientCIDR})
}

// SignedURL is a signed link: the signing endpoint's answer, or a
// Signer's (Signer.Sign).
type SignedURL struct {
	// URL is the link: the file's URL with the signature parameter, or a
	// folder link's folder URL (the same token works on every file under
	// it).
	URL string `json:"url"`
	// PathURL is a folder link's path form, {api}/t/{token}/folder/;
	// "" for a file link.
	PathURL string `json:"path_url,omitempty"`
	// Path is what the link grants, decoded: the file, or the folder
	// ending in "/".
	Path string `json:"path"`
	// Folder reports whether it is a folder link.
	Folder bool `json:"folder"`
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time `json:"expires_at"`
	// ID is the link's id (22 characters), by which it can be revoked.
	ID string `json:"id"`
}

// Access is what a key may do now: for a user key, its user's scopes and
// permission narrowed by its own.
type Access struct {
	// Scopes are the path prefixes the key reaches now ([] for none).
	Scopes []string `json:"scopes"`
	// Permissions is "none", "read", "sign" or "admin".
	Permissions string `json:"permissions"`
}

// Key is an API key as the key API shows it; its value is never shown
// after creation.
type Key struct {
	// ID is the key's id, key_ and 16 characters; public, not a secret.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is "secret" (sk_…) or "public" (pk_…).
	Type string `json:"type"`
	// User is the key's user, "" for a site-wide key.
	User string `json:"user,omitempty"`
	// Scopes and Permissions are the key's own ([] and "" for a user key
	// that follows its user); Access is what it may do now.
	Scopes      []string `json:"scopes"`
	Permissions string   `json:"permissions"`
	// Hint is the last 4 characters of the value.
	Hint      string    `json:"hint"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ExpiresAt is nil for a key that does not expire.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// LastUsedAt is nil until the key is first used.
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// OfflineSigning reports whether the key signs links itself (see
	// Signer).
	OfflineSigning bool   `json:"offline_signing,omitempty"`
	Access         Access `json:"access"`
}

// CreatedKey is a new key, with its value: the only time it is shown.
type CreatedKey struct {
	Key
	// Value is the key's value, sk_… or pk_…, to keep now.
	Value string `json:"key"`
}

// NewKey is the body of a key creation (Client.CreateKey). Zero fields
// are left out and take the server's defaults.
type NewKey struct {
	// Name is required: 1-200 bytes of UTF-8.
	Name string `json:"name"`
	// Type is "secret" (default) or "public".
	Type string `json:"type,omitempty"`
	// User makes a user key of an existing user; without Scopes and
	// Permissions it follows its user.
	User string `json:"user,omitempty"`
	// Scopes are path prefixes such as /reports/ (default / for a
	// site-wide key).
	Scopes []string `json:"scopes,omitempty"`
	// Permissions is "none", "read", "sign" or "admin" (default read
	// for a site-wide key; a user key follows its user).
	Permissions string `json:"permissions,omitempty"`
	// ExpiresAt is a time in the future, or nil for a key that does not
	// expire.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// OfflineSigning gives the key an offline signing secret derived from
	// its value, so the application signs links with it (NewSigner).
	// Only for a secret key that may sign.
	OfflineSigning bool `json:"offline_signing,omitempty"`
}

// KeyUpdate is the body of a key change (Client.UpdateKey): nil fields
// stay as they are. Use Ptr for the pointers.
type KeyUpdate struct {
	// Name renames the key.
	Name *string
	// User moves the key to another user; Ptr("") makes it site-wide.
	User *string
	// Scopes replaces the key's own scopes when not nil.
	Scopes []string
	// Permissions sets the key's own permission.
	Permissions *string
	// ExpiresAt sets a new expiry; ClearExpiry removes it.
	ExpiresAt   *time.Time
	ClearExpiry bool
	// OfflineSigning false drops the key's offline secret, which ends
	// every link it signed itself at once. It cannot be turned on after
	// creation.
	OfflineSigning *bool
}

// MarshalJSON writes the fields that are set; ClearExpiry is
// "expires_at": null.
func (u KeyUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.Name != nil {
		m["name"] = *u.Name
	}
	if u.User != nil {
		m["user"] = *u.User
	}
	if u.Scopes != nil {
		m["scopes"] = u.Scopes
	}
	if u.Permissions != nil {
		m["permissions"] = *u.Permissions
	}
	switch {
	case u.ClearExpiry:
		m["expires_at"] = nil
	case u.ExpiresAt != nil:
		m["expires_at"] = u.ExpiresAt.UTC()
	}
	if u.OfflineSigning != nil {
		m["offline_signing"] = *u.OfflineSigning
	}
	return json.Marshal(m)
}

// Ptr returns a pointer to v, for the optional fields of KeyUpdate,
// UserUpdate and LinkFilter.
func Ptr[T any](v T) *T { return &v }

// User is a user of the site: its keys act as the user.
type User struct {
	// Name is the user's id.
	Name string `json:"name"`
	// Scopes are the user's home folders (["/"] for a site
	// administrator).
	Scopes []string `json:"scopes"`
	// Permissions is "none" (disabled), "read", "sign" or "admin" (a
	// site administrator).
	Permissions string `json:"permissions"`
	// SelfService lets the user's secret keys manage the user's keys.
	SelfService bool      `json:"self_service"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewUser is the body of a user creation (Client.CreateUser).
type NewUser struct {
	// Name is 1-64 characters of a-z 0-9 . _ -.
	Name string `json:"name"`
	// Scopes are required unless Permissions is "admin".
	Scopes      []string `json:"scopes,omitempty"`
	Permissions string   `json:"permissions,omitempty"`
	SelfService bool     `json:"self_service,omitempty"`
}

// UserUpdate is the body of a user change (Client.UpdateUser): nil
// fields stay as they are.
type UserUpdate struct {
	// Scopes replaces the user's scopes when not empty.
	Scopes      []string `json:"scopes,omitempty"`
	Permissions *string  `json:"permissions,omitempty"`
	SelfService *bool    `json:"self_service,omitempty"`
}

// DeletedUser is the answer to a user's deletion: the user and the ids
// of its keys, deleted with it.
type DeletedUser struct {
	Deleted     User     `json:"deleted"`
	DeletedKeys []string `json:"deleted_keys"`
}

// LinkPolicy is a link's policy as the ledger records it; zero fields
// are not set.
type LinkPolicy struct {
	DownloadName string `json:"download_name,omitempty"`
	Inline       bool   `json:"inline,omitempty"`
	ContentType  string `json:"content_type,omitempty"`
	MaxUses      int    `json:"max_uses,omitempty"`
	// ClientCIDR is in canonical form ("127.0.0.1/32").
	ClientCIDR string `json:"client_cidr,omitempty"`
}

// Link is a link in the server's ledger. Its URL is not stored.
type Link struct {
	// ID is the link's id, the ID of the signing answer.
	ID string `json:"id"`
	// Path is what the link grants, decoded: the file, or the folder
	// ending in "/" (Folder).
	Path   string `json:"path"`
	Folder bool   `json:"folder"`
	// KeyID is the issuing key, "" for the operator; User its user when
	// the link was issued.
	KeyID     string    `json:"key_id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the expiry in force (moved by UpdateLink, if it was).
	ExpiresAt time.Time  `json:"expires_at"`
	Policy    LinkPolicy `json:"policy"`
	// Uses are the downloads counted; LastUsed is the latest (nil
	// before the first).
	Uses     int        `json:"uses"`
	LastUsed *time.Time `json:"last_used"`
	// Revoked reports whether a revocation covers the link.
	Revoked bool `json:"revoked"`
	// Active is true while the link is not revoked and has uses left.
	Active bool `json:"active"`
}

// LinkFilter selects links to list (Client.ListLinks). Zero fields do
// not filter.
type LinkFilter struct {
	// Path selects links whose path is this prefix or under it.
	Path string
	// KeyID selects the links a key issued, User those of a user's keys.
	KeyID string
	User  string
	// Active selects active links (Ptr(true)) or the others (Ptr(false)).
	Active *bool
	// Limit is the page size, 1 to 1000 (the server's default is 100).
	Limit int
	// Cursor is the Next of the previous page.
	Cursor string
}

// LinkPage is one page of links, newest first; Next is the cursor of the
// next page, "" after the last.
type LinkPage struct {
	Links []Link `json:"links"`
	Next  string `json:"next"`
}

// LinkUpdate moves a link's expiry (Client.UpdateLink): give one of
// ExpiresAt (a time in the past ends the link now) and ExpiresIn (whole
// seconds from now).
type LinkUpdate struct {
	ExpiresAt time.Time
	ExpiresIn time.Duration
}

// MarshalJSON writes the field that is set.
func (u LinkUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if !u.ExpiresAt.IsZero() {
		m["expires_at"] = u.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if u.ExpiresIn != 0 {
		secs, err := seconds("expires_in", u.ExpiresIn)
		if err != nil {
			return nil, err
		}
		m["expires_in"] = secs
	}
	return json.Marshal(m)
}

// LinkSelection selects links to revoke (Client.RevokeLinks): the
// filters combined, or All for every link the caller may see.
type LinkSelection struct {
	// Path selects links whose path is this prefix or under it (no ';').
	Path string `json:"path,omitempty"`
	// KeyID selects the links a key issued, User those of a user's keys.
	KeyID string `json:"key_id,omitempty"`
	User  string `json:"user,omitempty"`
	// All selects every link the caller may see; needed without a filter.
	All bool `json:"all,omitempty"`
}

// Revocation names what to revoke (Client.Revoke): exactly one field.
type Revocation struct {
	// URL is a whole signed URL (or a folder link's path form).
	URL string `json:"url,omitempty"`
	// ID is a link's id.
	ID string `json:"id,omitempty"`
	// KeyID revokes every URL the key issued until now.
	KeyID string `json:"key_id,omitempty"`
	// Prefix revokes every URL for a path under it issued until now.
	Prefix string `json:"prefix,omitempty"`
}

// RevocationRecord is a revocation the server enforces.
type RevocationRecord struct {
	// Kind is "url", "key" or "prefix".
	Kind string `json:"kind"`
	// Target is the URL's id, the key id or the prefix.
	Target string `json:"target"`
	// Before is, for key and prefix revocations, the second up to which
	// issued URLs are revoked.
	Before *time.Time `json:"before,omitempty"`
	// ExpiresAt is when the record is dropped.
	ExpiresAt time.Time `json:"expires_at"`
}

// RevokeResult is the answer to Client.Revoke: the record, or
// AlreadyExpired for a URL that had expired (nothing was stored).
type RevokeResult struct {
	Revocation     *RevocationRecord `json:"revocation,omitempty"`
	AlreadyExpired bool              `json:"already_expired,omitempty"`
}
