package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-signet/signet/keystore"
	"github.com/caddy-signet/signet/verifier"
)

// Limits on key fields and request bodies.
const (
	maxNameLen   = 200
	maxUserLen   = 200
	maxScopes    = 100
	maxScopeLen  = 1024
	maxJSONBody  = 64 << 10
	storeTimeout = 10 * time.Second
)

// keyView is how keys appear in API responses. Key (the value) is set only
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
	Key         string              `json:"key,omitempty"`
}

// viewOf renders k, with the freshest last-used time the cache has.
func viewOf(k *keystore.Key, c *keystore.Cache) keyView {
	v := keyView{
		ID: k.ID, Name: k.Name, Type: k.Type, User: k.User, Scopes: k.Scopes,
		Permissions: k.Permissions, Hint: k.Hint, CreatedAt: k.CreatedAt,
		UpdatedAt: k.UpdatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
	}
	if e := c.ByID(k.ID); e != nil {
		if lu := e.LastUsed(); !lu.IsZero() && (v.LastUsedAt == nil || lu.After(*v.LastUsedAt)) {
			v.LastUsedAt = &lu
		}
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	return v
}

// fieldError is a 400 that names the request field at fault.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// createKeyRequest is the body of POST /signet/keys.
type createKeyRequest struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	User        string     `json:"user"`
	Scopes      []string   `json:"scopes"`
	Permissions string     `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// updateKeyRequest is the body of PATCH /signet/keys/{id}; absent fields
// stay as they are, "expires_at": null removes the expiry.
type updateKeyRequest struct {
	Name        *string         `json:"name"`
	User        *string         `json:"user"`
	Scopes      *[]string       `json:"scopes"`
	Permissions *string         `json:"permissions"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
}

// decodeJSON decodes a JSON request body strictly: bounded size, no
// unknown fields, nothing after the value. Its errors are fieldErrors.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return badField("body", "larger than %d bytes", maxJSONBody)
		}
		return badField("body", "could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var timeErr *time.ParseError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return badField(typeErr.Field, "must be a %s", jsonKind(typeErr.Type.Kind().String()))
		case errors.As(err, &timeErr):
			return badField("expires_at", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		case errors.Is(err, io.EOF):
			return badField("body", "missing: expected a JSON object")
		}
		return badField("body", "invalid JSON")
	}
	if dec.More() {
		return badField("body", "unexpected data after the JSON object")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "ptr", "struct":
		return "object"
	}
	return k
}

func checkText(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && required:
		return badField(field, "required")
	case len(s) > maxLen:
		return badField(field, "longer than %d bytes", maxLen)
	case !utf8.ValidString(s):
		return badField(field, "not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return badField(field, "contains control characters")
	case strings.TrimSpace(s) != s:
		return badField(field, "has leading or trailing spaces")
	}
	return nil
}

func checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return badField("scopes", "at least one scope is required")
	}
	if len(scopes) > maxScopes {
		return badField("scopes", "at most %d scopes", maxScopes)
	}
	for _, s := range scopes {
		if len(s) > maxScopeLen || verifier.CheckScope(s) != nil {
			return badField("scopes", "%q is not a clean absolute path prefix such as /reports/ (no .., //, \\, * or control characters)", truncate(s, 64))
		}
	}
	return nil
}

func checkPermissions(p verifier.Permission, t verifier.KeyType) error {
	if !p.Valid() {
		return badField("permissions", "must be one of none, read, sign, admin")
	}
	if t == verifier.KeyPublic && p != verifier.PermRead && p != verifier.PermNone {
		return badField("permissions", "public keys may only have read (or none)")
	}
	return nil
}

func checkExpiry(t *time.Time, now time.Time) error {
	if t != nil && !t.After(now) {
		return badField("expires_at", "must be in the future")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newKey validates a create request and returns the record to store and
// the key value, which the caller shows once.
func newKey(req createKeyRequest, now time.Time) (*keystore.Key, string, error) {
	if err := checkText("name", req.Name, maxNameLen, true); err != nil {
		return nil, "", err
	}
	if err := checkText("user", req.User, maxUserLen, false); err != nil {
		return nil, "", err
	}
	typ := verifier.KeyType(req.Type)
	if typ == "" {
		typ = verifier.KeySecret
	}
	if !typ.Valid() {
		return nil, "", badField("type", "must be secret or public")
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
		return nil, "", badField("scopes", "required for a user key (e.g. [\"/%s/\"])", req.User)
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

// applyUpdate validates an update request and returns the function that
// applies it to a stored record.
func applyUpdate(req updateKeyRequest, now time.Time) (func(*keystore.Key) error, error) {
	if req.Name != nil {
		if err := checkText("name", *req.Name, maxNameLen, true); err != nil {
			return nil, err
		}
	}
	if req.User != nil {
		if err := checkText("user", *req.User, maxUserLen, false); err != nil {
			return nil, err
		}
	}
	if req.Scopes != nil {
		if err := checkScopes(*req.Scopes); err != nil {
			return nil, err
		}
	}
	if req.Permissions != nil && !verifier.Permission(*req.Permissions).Valid() {
		return nil, badField("permissions", "must be one of none, read, sign, admin")
	}
	if req.Name == nil && req.User == nil && req.Scopes == nil && req.Permissions == nil && req.ExpiresAt == nil {
		return nil, badField("body", "nothing to update: give name, user, scopes, permissions or expires_at")
	}
	var expires *time.Time
	clearExpiry := false
	if req.ExpiresAt != nil {
		if string(req.ExpiresAt) == "null" {
			clearExpiry = true
		} else {
			var t time.Time
			if err := json.Unmarshal(req.ExpiresAt, &t); err != nil {
				return nil, badField("expires_at", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z, or null")
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

// storeError maps a store error to an HTTP status and error body.
func writeStoreError(w http.ResponseWriter, err error) {
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		writeErrorDetail(w, http.StatusBadRequest, errorDetail{Code: codeBadRequest, Message: fe.Error(), Field: fe.field})
	case errors.Is(err, keystore.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "no such key")
	case errors.Is(err, keystore.ErrExists):
		writeError(w, http.StatusConflict, "conflict", "the key exists already (was the request retried?)")
	case errors.Is(err, keystore.ErrUnavailable), errors.Is(err, keystore.ErrClosed),
		errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, codeStoreUnavailable, "the key store is unavailable; try again")
	default:
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
	}
}
